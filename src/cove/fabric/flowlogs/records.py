"""Flow-log records and their text form, in AWS's default or a custom `${field}` format.

A record is one ENI's view of one 5-tuple in one direction during one aggregation interval
(vpc-semantics §1.9): `srcaddr`/`dstaddr` show the ENI's primary private IPv4 on its own side and
the real peer on the other; `pkt-srcaddr`/`pkt-dstaddr` show the packet's own addresses. ICMP has
ports `0 0`. Records with `log-status` NODATA or SKIPDATA carry only the ENI and the interval.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from cove.fabric.flowlogs.inventory import EniInfo

__all__ = [
    "DEFAULT_FORMAT",
    "FIELDS",
    "FlowRecord",
    "FormatError",
    "LogFormat",
    "aws_tcp_flags",
    "parse_format",
    "status_record",
]

FIELDS: dict[str, int] = {
    "version": 2,
    "account-id": 2,
    "interface-id": 2,
    "srcaddr": 2,
    "dstaddr": 2,
    "srcport": 2,
    "dstport": 2,
    "protocol": 2,
    "packets": 2,
    "bytes": 2,
    "start": 2,
    "end": 2,
    "action": 2,
    "log-status": 2,
    "vpc-id": 3,
    "subnet-id": 3,
    "instance-id": 3,
    "tcp-flags": 3,
    "type": 3,
    "pkt-srcaddr": 3,
    "pkt-dstaddr": 3,
    "region": 4,
    "az-id": 4,
    "sublocation-type": 4,
    "sublocation-id": 4,
    "pkt-src-aws-service": 5,
    "pkt-dst-aws-service": 5,
    "flow-direction": 5,
    "traffic-path": 5,
    "ecs-cluster-arn": 7,
    "ecs-cluster-name": 7,
    "ecs-container-instance-arn": 7,
    "ecs-container-instance-id": 7,
    "ecs-container-id": 7,
    "ecs-second-container-id": 7,
    "ecs-service-name": 7,
    "ecs-task-definition-arn": 7,
    "ecs-task-arn": 7,
    "ecs-task-id": 7,
    "reject-reason": 8,
    "resource-id": 9,
    "encryption-status": 10,
}
"""Every field AWS defines → the record version that introduced it."""

DEFAULT_FORMAT = (
    "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
    "${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"
)

_TOKEN = re.compile(r"\$\{([^}]*)\}")
_TCP_FIN, _TCP_SYN, _TCP_RST, _TCP_ACK = 0x01, 0x02, 0x04, 0x10


class FormatError(ValueError):
    """A log format that is not a space-separated list of known `${field}`s."""


def parse_format(log_format: str | None) -> tuple[str, ...]:
    if not log_format or not log_format.strip():
        log_format = DEFAULT_FORMAT
    fields: list[str] = []
    for token in log_format.split():
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise FormatError(
                f"Unrecognized token '{token}' in LogFormat; fields must be written as ${{field}}."
            )
        if match.group(1) not in FIELDS:
            raise FormatError(f"Unknown fields provided: {match.group(1)}")
        fields.append(match.group(1))
    return tuple(fields)


def aws_tcp_flags(raw: int) -> int:
    """The flow-log spelling of a TCP flags byte: FIN 1, SYN 2, RST 4, and SYN-ACK 18 (ACK is
    reported only together with SYN)."""
    flags = raw & (_TCP_FIN | _TCP_SYN | _TCP_RST)
    if raw & _TCP_SYN and raw & _TCP_ACK:
        flags |= _TCP_ACK
    return flags


@dataclass(frozen=True, slots=True)
class FlowRecord:
    eni_id: str
    direction: str
    """ingress | egress, relative to the ENI"""
    action: str
    """ACCEPT | REJECT, or "-" for NODATA/SKIPDATA"""
    protocol: int
    pkt_src: str
    pkt_dst: str
    sport: int
    dport: int
    packets: int
    bytes: int
    start: int
    end: int
    tcp_flags: int = 0
    """Already in the flow-log spelling (`aws_tcp_flags`), OR-ed over the interval."""
    traffic_path: str = "-"
    pkt_src_service: str | None = None
    pkt_dst_service: str | None = None
    log_status: str = "OK"

    @property
    def has_data(self) -> bool:
        return self.log_status == "OK"


def status_record(eni_id: str, start: int, end: int, log_status: str) -> FlowRecord:
    """A NODATA or SKIPDATA record: the ENI and the interval, nothing about traffic."""
    return FlowRecord(eni_id, "-", "-", -1, "-", "-", -1, -1, 0, 0, start, end, log_status=log_status)


def _dash(value: str | None) -> str:
    return value if value else "-"


def _srcaddr(r: FlowRecord, eni: EniInfo) -> str:
    return eni.primary_address if r.direction == "egress" and ":" not in r.pkt_src else r.pkt_src


def _dstaddr(r: FlowRecord, eni: EniInfo) -> str:
    return eni.primary_address if r.direction == "ingress" and ":" not in r.pkt_dst else r.pkt_dst


_Getter = Callable[[FlowRecord, EniInfo], str]

_RESOURCE: dict[str, _Getter] = {
    "account-id": lambda r, e: e.account_id,
    "interface-id": lambda r, e: e.eni_id,
    "vpc-id": lambda r, e: e.vpc_id,
    "subnet-id": lambda r, e: e.subnet_id,
    "instance-id": lambda r, e: _dash(e.instance_id),
    "region": lambda r, e: _dash(e.region),
    "az-id": lambda r, e: _dash(e.az_id),
    "start": lambda r, e: str(r.start),
    "end": lambda r, e: str(r.end),
    "log-status": lambda r, e: r.log_status,
}

_TRAFFIC: dict[str, _Getter] = {
    "srcaddr": _srcaddr,
    "dstaddr": _dstaddr,
    "srcport": lambda r, e: str(r.sport),
    "dstport": lambda r, e: str(r.dport),
    "protocol": lambda r, e: str(r.protocol),
    "packets": lambda r, e: str(r.packets),
    "bytes": lambda r, e: str(r.bytes),
    "action": lambda r, e: r.action,
    "tcp-flags": lambda r, e: str(r.tcp_flags) if r.protocol == 6 else "0",
    "type": lambda r, e: "IPv6" if ":" in r.pkt_src else "IPv4",
    "pkt-srcaddr": lambda r, e: r.pkt_src,
    "pkt-dstaddr": lambda r, e: r.pkt_dst,
    "pkt-src-aws-service": lambda r, e: _dash(r.pkt_src_service),
    "pkt-dst-aws-service": lambda r, e: _dash(r.pkt_dst_service),
    "flow-direction": lambda r, e: r.direction,
    "traffic-path": lambda r, e: r.traffic_path if r.direction == "egress" else "-",
}


class LogFormat:
    """A parsed format: turns records into lines."""

    def __init__(self, log_format: str | None = None) -> None:
        self.fields = parse_format(log_format)
        self.version = max(FIELDS[f] for f in self.fields)

    def line(self, record: FlowRecord, eni: EniInfo) -> str:
        values: list[str] = []
        for name in self.fields:
            if name == "version":
                values.append(str(self.version))
            elif name in _RESOURCE:
                values.append(_RESOURCE[name](record, eni))
            elif name in _TRAFFIC and record.has_data:
                values.append(_TRAFFIC[name](record, eni))
            else:
                values.append("-")
        return " ".join(values)
