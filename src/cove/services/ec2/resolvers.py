"""The Amazon DNS server of each VPC, served for real inside its router namespace.

It answers at VPC base+2 and 169.254.169.253 (addresses the fabric puts on the router's loopback;
the router's input chain admits port 53 there and nothing else, and the forward chain never sees
it, so it is exempt from security groups, NACLs and flow logs as in AWS). Its table comes from
`services.ec2.dns.vpc_dns_records` and is replaced after every change; a VPC with
`enableDnsSupport` off has no resolver. Names that jobs register (`algo-1`, …) are kept per VPC.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Mapping, Sequence

from cove.fabric import netns
from cove.fabric.dns import DnsServer
from cove.fabric.names import Names
from cove.netmodel import format_address
from cove.services.ec2.dns import vpc_dns_records
from cove.services.ec2.kernel_sync import DesiredState

__all__ = ["VpcResolvers"]

log = logging.getLogger("cove.fabric")


class VpcResolvers:
    def __init__(self, names: Names) -> None:
        self.names = names
        self._servers: dict[str, tuple[int, DnsServer]] = {}
        self._extra: dict[str, dict[str, tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    def register(self, vpc_id: str, records: Mapping[str, Sequence[str]]) -> None:
        """Names a job adds to its VPC's resolver (applied at the next sync)."""
        with self._lock:
            self._extra.setdefault(vpc_id, {}).update({k: tuple(v) for k, v in records.items()})

    def lookup(self, vpc_id: str, name: str) -> tuple[str, ...] | None:
        with self._lock:
            entry = self._servers.get(vpc_id)
        return entry[1].lookup(name) if entry else None

    def sync(self, state: DesiredState) -> None:
        with self._lock:
            wanted: set[str] = set()
            for scope in state.scopes:
                for vpc_id, vpc in scope.network.vpcs.items():
                    if not vpc.enable_dns_support:
                        continue
                    namespace = self.names.router(vpc_id)
                    if not netns.exists(namespace):
                        continue
                    wanted.add(vpc_id)
                    records = vpc_dns_records(
                        scope.network,
                        vpc_id,
                        scope.region,
                        extra=self._extra.get(vpc_id),
                        endpoint_names=scope.endpoint_names,
                    )
                    addresses = sorted(
                        format_address(a) for a in scope.network.resolver_addresses.get(vpc_id, ())
                    )
                    server = self._ensure(vpc_id, namespace, addresses)
                    if server is not None:
                        server.set_records(records)
            for vpc_id in [v for v in self._servers if v not in wanted]:
                self._servers.pop(vpc_id)[1].stop()

    def stop(self) -> None:
        with self._lock:
            for _, server in self._servers.values():
                server.stop()
            self._servers.clear()

    def _ensure(self, vpc_id: str, namespace: str, addresses: list[str]) -> DnsServer | None:
        # A namespace recreated since (gc, restart of the router) needs sockets in the new one.
        identity = netns.identity(namespace)
        current = self._servers.get(vpc_id)
        if current is not None and current[0] == identity:
            return current[1]
        if current is not None:
            current[1].stop()
        sockets: list[socket.socket] = []
        try:
            for address in addresses:
                sockets.append(netns.socket_in(namespace, (address, 53), kind=socket.SOCK_DGRAM))
                sockets.append(netns.socket_in(namespace, (address, 53)))
        except OSError as exc:
            for sock in sockets:
                sock.close()
            log.warning("no DNS server for %s: %s", vpc_id, exc)
            return None
        server = DnsServer(sockets)
        server.start()
        self._servers[vpc_id] = (identity, server)
        return server
