"""Cove's service listeners inside VPC namespaces: where the trusted source context comes from.

Interface endpoints serve HTTPS on 443 in their ENIs' namespaces, with a certificate from Cove's
CA for the service's names and the ENI's address (the ENI's security groups decide who gets
there). A request that reaches S3 through a gateway endpoint arrives on a socket that lives in that
endpoint's namespace, so the listener knows — without trusting anything the client sent — that
`aws:SourceVpce` is that endpoint, `aws:SourceVpc` its VPC and `aws:VpcSourceIp` the peer. A
request that went out through a NAT or internet gateway arrives on the listener in the internet
namespace, whose peer address is the public address it was translated to (`aws:SourceIp`), with
no VPC keys. The internet listener also plays the simulated internet's web host for
203.0.113.0/24.

Each listener is its own uvicorn server (no lifespan) on a socket created in the namespace.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import ssl
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import uvicorn

from cove.aws.asgi import Receive, Scope, Send, SourceFactory
from cove.aws.context import SourceContext
from cove.certs import CertificateAuthority
from cove.fabric import netns

__all__ = [
    "INTERNET_HOST_BODY",
    "ListenerSpec",
    "NamespaceListeners",
    "endpoint_source",
    "public_source",
    "s3_only",
    "signed_service",
]

log = logging.getLogger("cove.listeners")

AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
INTERNET_HOST_BODY = b"Hello from the simulated internet (203.0.113.0/24)\n"
_INTERNET_HOSTS = ipaddress.ip_network("203.0.113.0/24")


@dataclass(frozen=True, slots=True)
class ListenerSpec:
    namespace: str
    port: int
    kind: str
    """endpoint (gateway endpoint) | interface (interface endpoint ENI, HTTPS) | internet |
    credentials (the router's container credentials endpoint); endpoint and internet listeners
    serve HTTP on 80 and, with `tls_names`, HTTPS on 443 as AWS's public endpoints do."""
    vpce_id: str | None = None
    vpc_id: str | None = None
    tls_names: tuple[str, ...] = ()
    tls_addresses: tuple[str, ...] = ()
    address: str = "0.0.0.0"


def _peer(scope: Scope) -> str:
    client = scope.get("client") or ("0.0.0.0", 0)
    return str(client[0])


def endpoint_source(vpce_id: str, vpc_id: str) -> SourceFactory:
    def source(scope: Scope) -> SourceContext:
        peer = _peer(scope)
        return SourceContext(
            source_ip=peer,
            secure_transport=scope.get("scheme") == "https",
            vpce_id=vpce_id,
            vpc_id=vpc_id,
            vpc_source_ip=peer,
        )

    return source


def public_source(scope: Scope) -> SourceContext:
    return SourceContext(source_ip=_peer(scope), secure_transport=scope.get("scheme") == "https")


_SCOPE = re.compile(
    r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request|X-Amz-Credential=[^&]*?%2F([^%&]+)%2Faws4_request"
)


def signed_service(scope: Scope) -> str | None:
    """The service a SigV4 request is signed for (header or presigned query), None when unsigned."""
    headers = dict(scope.get("headers") or [])
    text = (
        headers.get(b"authorization", b"").decode("latin-1") + " " + scope.get("query_string", b"").decode()
    )
    found = _SCOPE.search(text)
    return (found.group(1) or found.group(2)) if found else None


def s3_only(service: AsgiApp) -> AsgiApp:
    """A gateway endpoint is S3's: a request signed for another service is refused as S3 refuses a
    credential scope that is not its own, rather than answered by that service."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        signed = signed_service(scope) if scope["type"] == "http" else None
        if signed is None or signed == "s3":
            await service(scope, receive, send)
            return
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AuthorizationHeaderMalformed</Code>'
            f"<Message>The authorization header is malformed; incorrect service &quot;{signed}&quot;. "
            "This endpoint belongs to &quot;s3&quot;.</Message></Error>"
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [(b"content-type", b"application/xml"), (b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def _internet(service: AsgiApp) -> AsgiApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server") or ("", 0)
        try:
            local = ipaddress.ip_address(server[0])
        except ValueError:
            local = None
        if scope["type"] == "http" and local is not None and local in _INTERNET_HOSTS:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/plain"),
                        (b"content-length", b"%d" % len(INTERNET_HOST_BODY)),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": INTERNET_HOST_BODY})
            return
        await service(scope, receive, send)

    return app


class _Running:
    def __init__(self, spec: ListenerSpec, app: AsgiApp, authority: CertificateAuthority | None) -> None:
        self.spec = spec
        self.socket = netns.socket_in(spec.namespace, (spec.address, spec.port))
        factory = None
        if (spec.kind == "interface" or spec.tls_names) and authority is not None:
            context = authority.server_context(list(spec.tls_names), list(spec.tls_addresses))

            def factory(config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
                return context

        config = uvicorn.Config(
            app,
            lifespan="off",
            log_level="warning",
            access_log=False,
            loop="uvloop",
            http="httptools",
            ssl_context_factory=factory,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.socket]},
            name=f"listener-{spec.namespace}",
            daemon=True,
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


class NamespaceListeners:
    """Keeps one listener per wanted spec; `sync` starts the missing and stops the stale."""

    def __init__(
        self,
        make_app: Callable[[SourceFactory], AsgiApp],
        authority: CertificateAuthority | None = None,
        credentials_app: AsgiApp | None = None,
    ) -> None:
        self._make_app = make_app
        self._authority = authority
        self._credentials_app = credentials_app
        self._running: dict[ListenerSpec, _Running] = {}
        self._lock = threading.Lock()

    def sync(self, wanted: Mapping[ListenerSpec, Any] | set[ListenerSpec]) -> None:
        with self._lock:
            for spec in [s for s in self._running if s not in wanted or not netns.exists(s.namespace)]:
                self._running.pop(spec).stop()
            for spec in wanted:
                if spec in self._running or not netns.exists(spec.namespace):
                    continue
                if spec.kind == "credentials":
                    if self._credentials_app is None:
                        continue
                    app = self._credentials_app
                elif spec.kind in ("endpoint", "interface") and spec.vpce_id and spec.vpc_id:
                    app = self._make_app(endpoint_source(spec.vpce_id, spec.vpc_id))
                    if spec.kind == "endpoint":
                        app = s3_only(app)
                else:
                    app = _internet(self._make_app(public_source))
                try:
                    self._running[spec] = _Running(spec, app, self._authority)
                except OSError as exc:
                    log.warning("cannot listen in %s: %s", spec.namespace, exc)

    def stop(self) -> None:
        self.sync(set())

    @property
    def specs(self) -> list[ListenerSpec]:
        with self._lock:
            return sorted(self._running, key=lambda s: (s.namespace, s.port))
