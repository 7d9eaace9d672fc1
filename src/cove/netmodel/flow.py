"""The question asked of the model: one flow from a source to a destination."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cove.netmodel.addresses import ICMP, ICMPV6, TCP, UDP, protocol_name, protocol_number

__all__ = ["DEFAULT_EPHEMERAL_PORTS", "NAT_EPHEMERAL_PORTS", "Flow", "FlowError"]

# Linux's ip_local_port_range default (32768-60999): Cove's jobs are Linux processes, so this is
# the range a real client picks its source port from. NAT gateways use 1024-65535 (reference §1.5).
DEFAULT_EPHEMERAL_PORTS = (32768, 60999)
NAT_EPHEMERAL_PORTS = (1024, 65535)


class FlowError(ValueError):
    """The flow cannot be asked: unknown source or destination, or a malformed header."""


@dataclass(frozen=True, slots=True)
class Flow:
    """A forward flow. The reply is derived: same protocol, ports swapped.

    source: an ENI id, or an IP inside a subnet (an ENI's address, or a not-yet-created instance
    that gets `source_security_group_ids`, else the VPC's default group).
    destination: an IP, an ENI id, or a service name such as `com.amazonaws.us-east-1.s3`.
    source_port: None means "any ephemeral port" and the return path is checked over the whole
    ephemeral range.
    """

    source: str
    destination: str
    protocol: int | str = TCP
    port: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    source_port: int | None = None
    source_security_group_ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        try:
            number = protocol_number(self.protocol)
        except ValueError as exc:
            raise FlowError(str(exc)) from None
        object.__setattr__(self, "protocol", number)
        if number in (TCP, UDP) and (self.port is None or not 0 <= self.port <= 65535):
            raise FlowError(f"a {protocol_name(number)} flow needs a destination port in 0-65535")
        if self.source_port is not None and not 0 <= self.source_port <= 65535:
            raise FlowError("source_port must be within 0-65535")
        if number in (ICMP, ICMPV6) and self.icmp_type is None:
            # Echo request is what "can X reach Y" means for ICMP.
            object.__setattr__(self, "icmp_type", 8 if number == ICMP else 128)
            object.__setattr__(self, "icmp_code", 0 if self.icmp_code is None else self.icmp_code)

    @property
    def protocol_number(self) -> int:
        return int(self.protocol)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "destination": self.destination,
            "protocol": self.protocol_number,
            "port": self.port,
            "icmp_type": self.icmp_type,
            "icmp_code": self.icmp_code,
            "source_port": self.source_port,
            "source_security_group_ids": list(self.source_security_group_ids)
            if self.source_security_group_ids is not None
            else None,
        }
