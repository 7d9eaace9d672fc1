"""Addresses, CIDR blocks, protocols and a prefix index, all on plain integers for speed."""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "ALL_PROTOCOLS",
    "ICMP",
    "ICMPV6",
    "TCP",
    "UDP",
    "Address",
    "Cidr",
    "CidrIndex",
    "RegionIndex",
    "format_address",
    "parse_address",
    "protocol_name",
    "protocol_number",
]

ALL_PROTOCOLS = -1
ICMP = 1
TCP = 6
UDP = 17
ICMPV6 = 58

_PROTOCOL_NAMES = {
    "-1": ALL_PROTOCOLS,
    "all": ALL_PROTOCOLS,
    "icmp": ICMP,
    "tcp": TCP,
    "udp": UDP,
    "icmpv6": ICMPV6,
}
_NAMES_BY_NUMBER = {ALL_PROTOCOLS: "all", ICMP: "icmp", TCP: "tcp", UDP: "udp", ICMPV6: "icmpv6"}

# (IP version, integer value): hashable, cheap to compare, no ipaddress objects on the hot path.
Address = tuple[int, int]

T = TypeVar("T")


def protocol_number(value: int | str) -> int:
    """IANA protocol number from a number, a numeric string or a name (`tcp`, `udp`, `icmp`, `-1`, `all`)."""
    if isinstance(value, int):
        number = value
    else:
        text = value.strip().lower()
        if text in _PROTOCOL_NAMES:
            return _PROTOCOL_NAMES[text]
        try:
            number = int(text)
        except ValueError:
            raise ValueError(f"unknown protocol {value!r}") from None
    if number != ALL_PROTOCOLS and not 0 <= number <= 255:
        raise ValueError(f"protocol number {number} is outside 0-255 (or -1 for all)")
    return number


def protocol_name(number: int) -> str:
    return _NAMES_BY_NUMBER.get(number, str(number))


def parse_address(text: str) -> Address:
    found = _ADDRESSES.get(text)
    if found is None:
        try:
            ip = ipaddress.ip_address(text.strip())
        except ValueError:
            found = _NOT_AN_ADDRESS
        else:
            found = (ip.version, int(ip))
        # Flows name the same few hosts and services over and over; ipaddress is slow.
        if len(_ADDRESSES) > 1 << 16:
            _ADDRESSES.clear()
        _ADDRESSES[text] = found
    if found is _NOT_AN_ADDRESS:
        raise ValueError(f"{text.strip()!r} does not appear to be an IPv4 or IPv6 address")
    return found


_NOT_AN_ADDRESS: Address = (0, -1)
_ADDRESSES: dict[str, Address] = {}


_TEXT: dict[Address, str] = {}


def format_address(address: Address) -> str:
    text = _TEXT.get(address)
    if text is None:
        version, value = address
        if version == 4:
            text = f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"
        else:
            text = str(ipaddress.IPv6Address(value))
        if len(_TEXT) > 1 << 16:
            _TEXT.clear()
        _TEXT[address] = text
    return text


@dataclass(frozen=True, slots=True, order=True)
class Cidr:
    """A canonical CIDR block (`10.0.1.18/24` becomes `10.0.1.0/24`, as the EC2 API canonicalises)."""

    version: int
    network: int
    prefix: int

    @classmethod
    def parse(cls, text: str) -> Cidr:
        found = _CIDRS.get(text)
        if found is None:
            net = ipaddress.ip_network(text.strip(), strict=False)
            found = cls(net.version, int(net.network_address), net.prefixlen)
            # Rule sets repeat the same few blocks; parsing through ipaddress is the slow part of
            # compiling them.
            if len(_CIDRS) > 1 << 16:
                _CIDRS.clear()
            _CIDRS[text] = found
        return found

    @property
    def bits(self) -> int:
        return 32 if self.version == 4 else 128

    @property
    def size(self) -> int:
        return 1 << (self.bits - self.prefix)

    @property
    def last(self) -> int:
        return self.network + self.size - 1

    @property
    def mask(self) -> int:
        return ((1 << self.bits) - 1) ^ ((1 << (self.bits - self.prefix)) - 1)

    def contains(self, address: Address) -> bool:
        return address[0] == self.version and self.network <= address[1] <= self.last

    def covers(self, other: Cidr) -> bool:
        return (
            other.version == self.version
            and other.prefix >= self.prefix
            and self.contains((other.version, other.network))
        )

    def overlaps(self, other: Cidr) -> bool:
        return self.covers(other) or other.covers(self)

    def address(self, offset: int) -> Address:
        """The address `offset` after the network address (negative offsets count from the end)."""
        return (self.version, self.network + offset if offset >= 0 else self.last + 1 + offset)

    def __str__(self) -> str:
        return f"{format_address((self.version, self.network))}/{self.prefix}"


_CIDRS: dict[str, Cidr] = {}


class CidrIndex(Generic[T]):
    """Values keyed by CIDR, looked up by address: one dict per prefix length, longest prefix first.

    A lookup costs one dict probe per distinct prefix length present, independent of the number of
    entries, which is what keeps rule matching sub-linear in the rule count.
    """

    __slots__ = ("_tables",)

    def __init__(self, items: Iterable[tuple[Cidr, T]] = ()) -> None:
        tables: dict[int, dict[int, dict[int, list[T]]]] = {}
        for cidr, value in items:
            by_prefix = tables.setdefault(cidr.version, {})
            bucket = by_prefix.setdefault(cidr.prefix, {})
            bucket.setdefault(cidr.network >> (cidr.bits - cidr.prefix), []).append(value)
        self._tables: dict[int, tuple[tuple[int, int, dict[int, list[T]]], ...]] = {
            version: tuple(
                (prefix, (32 if version == 4 else 128) - prefix, bucket)
                for prefix, bucket in sorted(by_prefix.items(), reverse=True)
            )
            for version, by_prefix in tables.items()
        }

    def lookup(self, address: Address) -> Iterator[tuple[int, list[T]]]:
        """(prefix length, values) for every stored CIDR containing `address`, longest prefix first."""
        version, value = address
        for prefix, shift, bucket in self._tables.get(version, ()):
            hit = bucket.get(value >> shift)
            if hit is not None:
                yield prefix, hit

    def values_containing(self, address: Address) -> list[T]:
        found: list[T] = []
        for _, values in self.lookup(address):
            found.extend(values)
        return found

    def longest(self, address: Address) -> list[T] | None:
        version, value = address
        for _, shift, bucket in self._tables.get(version, ()):
            hit = bucket.get(value >> shift)
            if hit is not None:
                return hit
        return None


class RegionIndex(Generic[T]):
    """Ordered candidates per address region: the CIDR edges cut the address space into regions
    inside which the set of containing blocks is constant, so the filtered, sorted candidate
    tuple is computed once per (region, key) on first use and then found with one bisect.

    `select(value, key)` decides whether a value is a candidate for a lookup key (a protocol,
    say); `order` sorts candidates (a rule number, say).
    """

    __slots__ = ("_cache", "_index", "_order", "_select", "starts")

    def __init__(
        self,
        items: Iterable[tuple[Cidr, T]],
        order: Callable[[T], tuple[int, ...] | int],
        select: Callable[[T, int], bool],
    ) -> None:
        pairs = list(items)
        edges: dict[int, set[int]] = {}
        for cidr, _ in pairs:
            bucket = edges.setdefault(cidr.version, {0})
            bucket.add(cidr.network)
            bucket.add(cidr.last + 1)
        self.starts = {version: sorted(values) for version, values in edges.items()}
        """Region boundaries per IP version (sorted)."""
        self._index: CidrIndex[T] = CidrIndex(pairs)
        self._order = order
        self._select = select
        self._cache: dict[tuple[int, int, int], tuple[T, ...]] = {}

    def region(self, address: Address) -> int:
        """A number that is equal for two addresses exactly when the same blocks contain both."""
        starts = self.starts.get(address[0])
        if starts is None:
            return -1
        return bisect_right(starts, address[1]) * 2 + (address[0] == 6)

    def candidates(self, address: Address, key: int) -> tuple[T, ...]:
        version, value = address
        starts = self.starts.get(version)
        if starts is None:
            return ()
        region = bisect_right(starts, value)
        cache_key = (version, region, key)
        found = self._cache.get(cache_key)
        if found is None:
            select = self._select
            found = tuple(
                sorted((v for v in self._index.values_containing(address) if select(v, key)), key=self._order)
            )
            self._cache[cache_key] = found
        return found
