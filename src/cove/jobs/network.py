"""A job's instances on the network: one ENI per instance, in the job's subnets or Cove's service VPC.

SageMaker puts each instance of a job with a ``VpcConfig`` on an ENI in one of the named subnets
with all the named security groups (requester-managed, in the customer's account); a job without
one runs in a VPC that SageMaker owns, with internet access. Cove does the same: the service VPC
is the default VPC of a service account no user can sign in to, and each of its instances gets an
Elastic IP so that the internet gateway (and through it Cove's public service addresses) is reachable.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from cove.db import Database
from cove.fabric.names import Names
from cove.services.ec2 import gateways, interfaces, vpcs
from cove.services.ec2.tables.topology import NetworkInterface, PrivateIp, Subnet, Vpc

__all__ = ["SERVICE_ACCOUNT_ID", "Attachment", "InstanceNet", "JobNetwork"]

SERVICE_ACCOUNT_ID = "000000000000"
"""The account that owns the service VPC (SageMaker's own VPCs are in accounts users never see)."""

_DESCRIPTION = "[DO NOT DELETE] ENI managed by SageMaker for {kind} job {name}"


@dataclass(frozen=True, slots=True)
class Attachment:
    """What `detach` removes, as the job's runtime record keeps it (a restarted server removes an
    orphaned job's ENIs and Elastic IPs from it)."""

    eni_id: str
    account_id: str
    allocation_id: str | None = None


@dataclass(frozen=True, slots=True)
class InstanceNet:
    host: str  # algo-N
    eni_id: str
    address: str
    netns: str
    vpc_id: str
    account_id: str
    nameservers: tuple[str, ...]
    search: tuple[str, ...]
    allocation_id: str | None = None

    @property
    def attachment(self) -> Attachment:
        return Attachment(self.eni_id, self.account_id, self.allocation_id)


class JobNetwork:
    """Creates and removes job ENIs through the EC2 service (so the kernel follows the table rows)."""

    def __init__(
        self,
        db: Database,
        names: Names,
        publish: Callable[[str, str], None],
        wait_applied: Callable[[float], bool],
    ) -> None:
        self.db = db
        self.names = names
        self.publish = publish
        self.wait_applied = wait_applied
        self._lock = threading.Lock()

    def attach(
        self,
        *,
        kind: str,
        job_name: str,
        account_id: str,
        region: str,
        vpc_config: dict[str, Any] | None,
        count: int,
    ) -> list[InstanceNet]:
        """One ENI per instance (algo-1 … algo-N), spread over the subnets in order, ready in the kernel."""
        owner = account_id if vpc_config else SERVICE_ACCOUNT_ID
        made: list[InstanceNet] = []
        try:
            # One job at a time picks addresses: the next free one is read from committed rows, so
            # two jobs in one subnet would otherwise take the same.
            with self._lock, self.db.session() as session:
                if vpc_config:
                    subnet_ids = list(vpc_config["Subnets"])
                    groups = list(vpc_config["SecurityGroupIds"])
                else:
                    vpcs.ensure_default_vpc(session, owner, region)
                    session.flush()
                    vpc = vpcs.find_default_vpc(session, owner, region)
                    assert vpc is not None
                    subnet_ids = sorted(
                        session.scalars(select(Subnet.id).where(Subnet.vpc_id == vpc.id)).all()
                    )[:1]
                    groups = []
                for index in range(count):
                    subnet_id = subnet_ids[index % len(subnet_ids)]
                    eni = interfaces.create_network_interface(
                        session,
                        account_id=owner,
                        region=region,
                        subnet_id=subnet_id,
                        group_ids=groups,
                        description=_DESCRIPTION.format(kind=kind, name=job_name),
                        requester_managed=True,
                        requester_id="sagemaker.amazonaws.com",
                        tags=[{"Key": "cove:job", "Value": f"{kind}/{job_name}"}],
                    )
                    eni.status = "in-use"
                    session.flush()
                    address = session.scalars(
                        select(PrivateIp.address).where(
                            PrivateIp.network_interface_id == eni.id, PrivateIp.primary.is_(True)
                        )
                    ).one()
                    allocation = None
                    if not vpc_config:
                        eip = gateways.allocate_address(session, owner, region, {"Domain": "vpc"})
                        gateways.associate_address(
                            session,
                            owner,
                            region,
                            {"AllocationId": eip.allocation_id, "NetworkInterfaceId": eni.id},
                        )
                        allocation = eip.allocation_id
                    vpc_row = session.get(Vpc, eni.vpc_id)
                    assert vpc_row is not None
                    made.append(
                        InstanceNet(
                            host=f"algo-{index + 1}",
                            eni_id=eni.id,
                            address=address,
                            netns=self.names.eni(eni.id),
                            vpc_id=eni.vpc_id,
                            account_id=owner,
                            nameservers=(_resolver(vpc_row),) if vpc_row.enable_dns_support else (),
                            search=(f"{region}.compute.internal",)
                            if region != "us-east-1"
                            else ("ec2.internal",),
                            allocation_id=allocation,
                        )
                    )
        except Exception:
            made = []
            raise
        finally:
            self.publish(owner, region)
        self.wait_applied(15.0)
        return made

    def detach(self, attachments: Iterable[Attachment], region: str) -> None:
        """Remove the ENIs (and Elastic IPs of the service VPC). Idempotent."""
        owners = set()
        with self.db.session() as session:
            for attachment in attachments:
                owners.add(attachment.account_id)
                eni = session.get(NetworkInterface, attachment.eni_id)
                if eni is not None:
                    interfaces.remove_network_interface(session, eni)
                if attachment.allocation_id:
                    try:
                        gateways.release_address(
                            session, attachment.account_id, region, {"AllocationId": attachment.allocation_id}
                        )
                    except Exception:  # already gone: the goal is reached
                        pass
        for owner in owners:
            self.publish(owner, region)


def _resolver(vpc: Vpc) -> str:
    """The Amazon-provided DNS server: the VPC's primary CIDR base plus two."""
    return str(ipaddress.IPv4Network(vpc.cidr_block).network_address + 2)
