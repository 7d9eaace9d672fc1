"""IP protocol names and numbers as security groups and network ACLs spell them.

Security groups answer with names for the four protocols that have ports or types (``tcp``, ``udp``,
``icmp``, ``icmpv6``) and numbers otherwise; network ACLs answer with numbers only. Both take either.
"""

from __future__ import annotations

__all__ = [
    "ALL",
    "acl_protocol",
    "has_ports",
    "is_icmp",
    "protocol_number",
    "sg_protocol",
]

ALL = "-1"

_NAME_BY_NUMBER = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}
_NUMBER_BY_NAME = {name: number for number, name in _NAME_BY_NUMBER.items()}


def protocol_number(value: str | int | None) -> int | None:
    """-1 for all protocols, the IANA number otherwise; ``None`` when ``value`` names no protocol."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("-1", "all"):
        return -1
    if text in _NUMBER_BY_NAME:
        return _NUMBER_BY_NAME[text]
    try:
        number = int(text)
    except ValueError:
        return None
    return number if 0 <= number <= 255 else None


def sg_protocol(value: str | int | None) -> str | None:
    """The security-group spelling: ``-1``, ``tcp``/``udp``/``icmp``/``icmpv6`` or the number as text."""
    number = protocol_number(value)
    if number is None:
        return None
    if number == -1:
        return ALL
    return _NAME_BY_NUMBER.get(number, str(number))


def acl_protocol(value: str | int | None) -> str | None:
    """The network-ACL spelling: always the number as text (``-1``, ``6``, ``17``, ``1``...)."""
    number = protocol_number(value)
    return None if number is None else str(number)


def has_ports(protocol: str) -> bool:
    """Whether ports mean anything for a protocol (in either spelling); others allow all ports."""
    return protocol_number(protocol) in (6, 17)


def is_icmp(protocol: str) -> bool:
    return protocol_number(protocol) in (1, 58)
