"""VPC Flow Logs for one router namespace, in AWS's record formats.

REJECT records come from the NFLOG group every drop rule logs to, ACCEPT records from the
router's conntrack counters; `FlowLogCollector` turns both into per-ENI records each aggregation
interval and hands the formatted lines to a sink (CloudWatch Logs or S3 delivery).
"""

from cove.fabric.flowlogs.collector import FlowLogCollector, Sink
from cove.fabric.flowlogs.inventory import EniInfo, FlowLogSpec
from cove.fabric.flowlogs.records import (
    DEFAULT_FORMAT,
    FIELDS,
    FlowRecord,
    FormatError,
    LogFormat,
    parse_format,
)

__all__ = [
    "DEFAULT_FORMAT",
    "FIELDS",
    "EniInfo",
    "FlowLogCollector",
    "FlowLogSpec",
    "FlowRecord",
    "FormatError",
    "LogFormat",
    "Sink",
    "parse_format",
]
