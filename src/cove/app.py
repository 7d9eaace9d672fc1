"""Composition: state directory, database, keys, providers, gateway and the ASGI application."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag

from cove.aws.asgi import GatewayApp, Receive, Scope, Send, SourceFactory, loopback_source
from cove.aws.catalog import SERVICES
from cove.aws.gateway import Gateway
from cove.aws.provider import Provider
from cove.certs import CertificateAuthority
from cove.db import Database
from cove.fabric import capability
from cove.fabric.kernel import Fabric
from cove.fabric.names import Names, fabric_tag
from cove.fabric.nftables import CREDENTIALS_ADDRESS
from cove.jobs import JobDeps, JobReconciler
from cove.jobs.admission import admission
from cove.jobs.agents import AgentSupply
from cove.jobs.network import JobNetwork
from cove.keyring import RootKey
from cove.listeners import ListenerSpec, NamespaceListeners
from cove.netmodel import EndpointType, format_address
from cove.runtime.catalog import Capacity
from cove.runtime.images import ImageRegistry
from cove.services.cloudtrail.provider import CloudTrailProvider
from cove.services.cloudwatch.provider import CloudWatchProvider
from cove.services.ec2.changes import ChangeFeed
from cove.services.ec2.flow_delivery import FlowLogDelivery
from cove.services.ec2.kernel_sync import DesiredState, KernelSync
from cove.services.ec2.provider import Ec2Provider
from cove.services.ec2.resolvers import VpcResolvers
from cove.services.iam.accounts import LocalAccount, ensure_local_account
from cove.services.iam.authorizer import IamAuthorizer
from cove.services.iam.provider import IamProvider
from cove.services.kms.provider import KmsProvider
from cove.services.logs.provider import LogsProvider
from cove.services.s3.provider import S3Provider
from cove.services.sagemaker.lifecycle import JobChanges
from cove.services.sagemaker.provider import SageMakerProvider
from cove.services.sts.container_credentials import ContainerCredentials
from cove.services.sts.credentials import CredentialStore
from cove.services.sts.provider import StsProvider
from cove.settings import Settings

__all__ = ["Cove", "StateMismatch", "build", "fabric_enabled", "init_state"]

log = logging.getLogger("cove")


@dataclass
class Cove:
    settings: Settings
    db: Database
    key: RootKey
    account: LocalAccount
    gateway: Gateway
    providers: dict[str, Provider]
    kernel: KernelSync | None = None
    """The enforced VPCs (None when the fabric is off or cannot run here)."""
    listeners: NamespaceListeners | None = None
    resolvers: VpcResolvers | None = None
    flow_logs: FlowLogDelivery | None = None
    container_credentials: ContainerCredentials | None = None
    """Roles bound to ENIs, served at 169.254.170.2 in every VPC (jobs bind their execution role)."""
    job_changes: JobChanges | None = None
    """Signalled when a SageMaker job is created, stopped or updated: wakes the job reconciler."""
    jobs: JobReconciler | None = None
    """Runs SageMaker jobs for real (only where the kernel enforces VPCs: jobs need their ENIs)."""
    images: ImageRegistry | None = None

    def asgi(self, source: SourceFactory = loopback_source) -> CoveAsgi:
        return CoveAsgi(self, source)

    def enabled_services(self) -> dict[str, int]:
        """Each known service and how many of its operations Cove implements."""
        return {
            name: len(self.providers[name].operations) if name in self.providers else 0 for name in SERVICES
        }


def init_state(settings: Settings) -> tuple[Database, RootKey, LocalAccount]:
    """Create or open the state directory: root key, migrated database, local account. Idempotent."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    key = RootKey.load_or_create(settings.root_key_path)
    db = Database(settings.db_url)
    with db.exclusive():
        db.migrate()
        try:
            with db.session() as session:
                account = ensure_local_account(session, key, settings.account_id, root_key=settings.root_key)
        except InvalidTag:
            db.dispose()
            raise StateMismatch(
                f"The database {db.engine.url.render_as_string(hide_password=True)} was created with another "
                f"root key than {settings.root_key_path}: its secrets cannot be opened. Use the state "
                "directory that created it, or a fresh database."
            ) from None
    return db, key, account


class StateMismatch(RuntimeError):
    """The database and the state directory's root key do not belong together."""


def fabric_enabled(settings: Settings) -> bool:
    """`on` insists (and fails loudly at start-up where the kernel cannot do it); `auto` degrades."""
    if settings.fabric == "off":
        return False
    reason = capability.missing()
    if reason is None:
        return True
    if settings.fabric == "on":
        raise RuntimeError(f"COVE_FABRIC=on but {reason}")
    log.warning("VPCs are not enforced by the kernel: %s", reason)
    return False


def build(settings: Settings) -> Cove:
    db, key, account = init_state(settings)
    authorizer = IamAuthorizer(db)
    changes = ChangeFeed()
    job_changes = JobChanges()
    providers: dict[str, Provider] = {
        "iam": IamProvider(db, key),
        "sts": StsProvider(db, key, authorizer),
        "ec2": Ec2Provider(db, changes),
        "kms": KmsProvider(db, key),
        "cloudtrail": CloudTrailProvider(db),
        "logs": LogsProvider(db),
        "cloudwatch": CloudWatchProvider(db),
        "s3": S3Provider(db, key, authorizer, settings.state_dir / "blobs"),
        "sagemaker": SageMakerProvider(db, job_changes),
    }
    gateway = Gateway(
        providers=providers,
        credentials=CredentialStore(db, key),
        authorizer=authorizer,
        region=settings.region,
    )
    cove = Cove(settings, db, key, account, gateway, providers, job_changes=job_changes)
    if fabric_enabled(settings):
        names = Names(fabric_tag(settings.state_dir))
        cove.kernel = KernelSync(db, Fabric(names), changes)
        cove.container_credentials = ContainerCredentials(db, key)
        listeners = NamespaceListeners(
            cove.asgi, CertificateAuthority(settings.state_dir / "ca"), cove.container_credentials
        )
        cove.listeners = listeners
        cove.kernel.observers.append(lambda state: listeners.sync(_listener_specs(names, state)))
        resolvers = VpcResolvers(names)
        cove.kernel.observers.append(resolvers.sync)
        cove.resolvers = resolvers
        flow_logs = FlowLogDelivery(db, names, settings.flow_log_interval, _s3_writer(settings, account))
        cove.kernel.observers.append(flow_logs.sync)
        cove.flow_logs = flow_logs
        cove.images = ImageRegistry(settings.image_dir, settings.state_dir / "images.json")
        kernel = cove.kernel
        deps = JobDeps(
            db=db,
            key=key,
            state_dir=settings.state_dir.resolve(),
            network=JobNetwork(db, names, changes.publish, kernel.wait_applied),
            credentials=cove.container_credentials,
            images=cove.images,
            capacity=Capacity(),
            ca_bundle=str((settings.state_dir / "ca" / "ca.pem").resolve()),
            agents=AgentSupply(),
        )
        cove.jobs = JobReconciler(deps, job_changes)
        sagemaker = providers["sagemaker"]
        assert isinstance(sagemaker, SageMakerProvider)
        sagemaker.admission = admission(cove.images, deps.capacity)
    return cove


def _s3_writer(settings: Settings, account: LocalAccount) -> Callable[[str, str, bytes], None]:
    """Flow-log delivery writes through Cove's own S3 API (encryption, audit and all), as the
    account, over loopback."""
    clients: list[Any] = []

    def put(bucket: str, key: str, body: bytes) -> None:
        if not clients:
            import boto3

            clients.append(
                boto3.client(
                    "s3",
                    endpoint_url=settings.endpoint_url,
                    region_name=settings.region,
                    aws_access_key_id=account.access_key_id,
                    aws_secret_access_key=account.secret_access_key,
                )
            )
        clients[0].put_object(Bucket=bucket, Key=key, Body=body)

    return put


def _listener_specs(names: Names, state: DesiredState) -> set[ListenerSpec]:
    """Cove's services listen in every gateway endpoint's namespace, on every interface endpoint's
    ENIs (HTTPS) and in the internet's namespace."""
    specs: set[ListenerSpec] = set()
    for scope in state.scopes:
        network = scope.network
        for endpoint in network.vpc_endpoints.values():
            if endpoint.type is not EndpointType.INTERFACE:
                continue
            service = endpoint.service_name.removeprefix(f"com.amazonaws.{scope.region}.")
            hosts = [
                f"*.{scope.region}.amazonaws.com",
                f"*.{service.split('.')[-1]}.{scope.region}.amazonaws.com",
            ]
            hosts += [
                f"*.{h}" if not h.startswith("*.") else h for h in scope.endpoint_names.get(endpoint.id, ())
            ]
            hosts += [h.removeprefix("*.") for h in hosts]
            for eni_id in endpoint.eni_ids:
                if eni_id not in network.enis:
                    continue
                address = format_address(network.primary_address(eni_id))
                specs.add(
                    ListenerSpec(
                        names.eni(eni_id),
                        443,
                        "interface",
                        endpoint.id,
                        endpoint.vpc_id,
                        tuple(sorted(set(hosts))),
                        (address,),
                    )
                )
    region_of = {vpc_id: scope.region for scope in state.scopes for vpc_id in scope.network.vpcs}
    for router in state.ruleset.vpcs:
        specs.add(ListenerSpec(names.router(router.vpc_id), 80, "credentials", address=CREDENTIALS_ADDRESS))
        for gateway in router.gateways:
            if gateway.kind == "gateway-endpoint":
                for port, tls in ((80, ()), (443, _public_names(region_of.get(router.vpc_id, "us-east-1")))):
                    specs.add(
                        ListenerSpec(
                            names.endpoint(gateway.gateway_id),
                            port,
                            "endpoint",
                            gateway.gateway_id,
                            router.vpc_id,
                            tls_names=tls,
                        )
                    )
            elif gateway.kind == "igw":
                specs.add(ListenerSpec(names.internet(), 80, "internet"))
                regions = sorted(set(region_of.values()))
                specs.add(
                    ListenerSpec(
                        names.internet(),
                        443,
                        "internet",
                        tls_names=tuple(n for r in regions for n in _public_names(r)),
                    )
                )
    return specs


def _public_names(region: str) -> tuple[str, ...]:
    """The names AWS's public HTTPS endpoints answer to in a region, for the listeners' certificate:
    regional service hosts, S3's virtual-hosted buckets and the global names of S3, STS and IAM."""
    return (
        f"*.{region}.amazonaws.com",
        f"*.s3.{region}.amazonaws.com",
        f"*.sagemaker.{region}.amazonaws.com",
        "s3.amazonaws.com",
        "*.s3.amazonaws.com",
        "sts.amazonaws.com",
        "iam.amazonaws.com",
    )


_HEALTH_PATHS = frozenset({"/health", "/_cove/health"})


class CoveAsgi:
    """Health checks answer without a signature; everything else is an AWS request."""

    def __init__(self, cove: Cove, source: SourceFactory = loopback_source) -> None:
        self.cove = cove
        self.gateway_app = GatewayApp(cove.gateway, source)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"] in _HEALTH_PATHS and scope["method"] == "GET" and not _signed(scope):
            await self._health(send)
            return
        await self.gateway_app(scope, receive, send)

    async def _health(self, send: Send) -> None:
        body = json.dumps(
            {
                "status": "ok",
                "account": self.cove.account.account_id,
                "services": self.cove.enabled_services(),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message: dict[str, Any] = dict(await receive())
            if message["type"] == "lifespan.startup":
                if self.cove.kernel is not None:
                    self.cove.kernel.start()
                if self.cove.jobs is not None:
                    self.cove.jobs.start()
                log.info("cove started", extra={"endpoint": self.cove.settings.endpoint_url})
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.cove.jobs is not None:
                    self.cove.jobs.stop()
                if self.cove.kernel is not None:
                    self.cove.kernel.stop()
                if self.cove.listeners is not None:
                    self.cove.listeners.stop()
                if self.cove.resolvers is not None:
                    self.cove.resolvers.stop()
                if self.cove.flow_logs is not None:
                    self.cove.flow_logs.stop()
                self.cove.db.dispose()
                log.info("cove stopped")
                await send({"type": "lifespan.shutdown.complete"})
                return


def _signed(scope: Scope) -> bool:
    if any(name == b"authorization" for name, _ in scope["headers"]):
        return True
    return b"X-Amz-Signature" in scope.get("query_string", b"")
