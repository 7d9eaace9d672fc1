"""VPC Flow Logs for one router namespace: REJECT records from NFLOG, ACCEPT records from conntrack."""

from cove.fabric.flowlogs.inventory import EniInfo, FlowLogSpec

__all__ = ["EniInfo", "FlowLogSpec"]
