"""What a VPC's Amazon DNS server answers: the record table `cove.fabric.dns.DnsServer` serves.

Four kinds of names, later ones replacing earlier ones:

* the region's public service names (``s3.<region>.amazonaws.com``, ``*.s3.<region>.amazonaws.com``
  for virtual-host buckets, ``api.sagemaker.<region>.amazonaws.com``, …), each answered with one
  fixed host inside the service's "public" block (:func:`service_public_address`);
* for an interface endpoint with private DNS (the VPC needs ``enableDnsSupport`` and
  ``enableDnsHostnames``), the service's regional name answered with the endpoint's ENI addresses —
  the private hosted zone AWS adds to the VPC; global names (``s3.amazonaws.com``) stay public;
* every interface endpoint's own names from DescribeVpcEndpoints ``DnsEntries``
  (``vpce-<id>-<random>.<service>.<region>.vpce.amazonaws.com`` → all its ENIs, the ``-<az>`` form →
  the ENI in that zone), which only the database knows (:func:`endpoint_dns_names`);
* each interface's private DNS name (``ip-10-0-1-5.ec2.internal``) and, with ``enableDnsHostnames``,
  the public DNS name of an interface with a public address, which inside the VPC resolves to the
  private address as AWS does.

Names jobs register (``algo-1``) come last. With ``enableDnsSupport`` false the server does not
answer at all: the table is empty.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove import netmodel as nm
from cove.services.ec2 import prefix_lists
from cove.services.ec2.endpoints import endpoint_services
from cove.services.ec2.interfaces import private_dns_name
from cove.services.ec2.snapshot import INTERFACE_SERVICE_ADDRESSES
from cove.services.ec2.tables.endpoints import VpcEndpoint

__all__ = [
    "PUBLIC_HOST_OFFSET",
    "endpoint_dns_names",
    "public_dns_name",
    "public_service_records",
    "service_public_address",
    "vpc_dns_records",
]

PUBLIC_HOST_OFFSET = 10
"""A service's public names resolve to this offset into its block (198.18.16.0/20 → 198.18.16.10)."""

Records = dict[str, tuple[str, ...]]

# The zone suffix of the per-AZ endpoint names: ``vpce-…-abcd1234-us-east-1a``.
_AZ_SUFFIX = re.compile(r"-([a-z]{2}(?:-[a-z]+)+-\d+[a-z])$")


def service_public_address(region: str, service_suffix: str) -> str:
    """The address the public names of ``com.amazonaws.<region>.<service_suffix>`` resolve to.

    S3 and DynamoDB take their block from the AWS-managed prefix list, the other services from
    Cove's own table; the fabric serves the service on this address."""
    listed = prefix_lists.service_prefix_list(region, f"com.amazonaws.{region}.{service_suffix}")
    if listed is not None:
        block = str(listed["cidrs"][0])
    elif service_suffix in INTERFACE_SERVICE_ADDRESSES:
        block = INTERFACE_SERVICE_ADDRESSES[service_suffix]
    else:
        raise KeyError(f"no public address block for service {service_suffix!r} in {region}")
    return str(ipaddress.IPv4Network(block).network_address + PUBLIC_HOST_OFFSET)


def _suffix(region: str, service_name: str) -> str:
    return service_name.removeprefix(f"com.amazonaws.{region}.")


def _regional_names(suffix: str, host: str) -> list[str]:
    """The names an endpoint's private DNS takes over: the regional host (and S3's buckets)."""
    if suffix == "s3":
        return [host, f"*.{host}"]
    return [host]


def _service_hosts(region: str) -> dict[str, str]:
    """Service suffix → its regional host name, as DescribeVpcEndpointServices gives it."""
    hosts: dict[str, str] = {}
    for service in endpoint_services(region):
        hosts.setdefault(_suffix(region, service.name), service.host)
    return hosts


def public_service_records(region: str) -> Records:
    """Every public service name of the region and the one address each resolves to."""
    records: Records = {}
    for suffix, host in _service_hosts(region).items():
        address = (service_public_address(region, suffix),)
        for name in _regional_names(suffix, host):
            records[name] = address
        if suffix == "s3":
            records["s3.amazonaws.com"] = records["*.s3.amazonaws.com"] = address
        elif suffix == "sts":
            records["sts.amazonaws.com"] = address
    return records


def public_dns_name(region: str, public_ip: str) -> str:
    host = "ec2-" + public_ip.replace(".", "-")
    return (
        f"{host}.compute-1.amazonaws.com"
        if region == "us-east-1"
        else f"{host}.{region}.compute.amazonaws.com"
    )


def _endpoint_enis(network: nm.Network, endpoint: nm.VpcEndpoint) -> list[tuple[str, str]]:
    """(availability zone, primary address) of each of the endpoint's ENIs, zone order."""
    found = []
    for eni_id in endpoint.eni_ids:
        eni = network.enis.get(eni_id)
        if eni is not None and eni.private_ips:
            zone = network.subnets[eni.subnet_id].availability_zone
            found.append((zone, eni.private_ips[0]))
    return sorted(found)


def _endpoint_names(
    endpoint: nm.VpcEndpoint, names: Sequence[str], enis: list[tuple[str, str]], is_s3: bool
) -> Records:
    records: Records = {}
    everywhere = tuple(address for _, address in enis)
    for raw in names:
        name = raw.rstrip(".").lower()
        label = name.split(".", 1)[0]
        if not label.startswith(endpoint.id + "-"):
            continue  # the private DNS entry, answered from the private zone
        zone = _AZ_SUFFIX.search(label)
        addresses = tuple(a for z, a in enis if z == zone.group(1)) if zone else everywhere
        records[name] = addresses
        if is_s3:
            records[f"*.{name}"] = addresses  # bucket.vpce-….s3.<region>.vpce.amazonaws.com
    return records


def vpc_dns_records(
    network: nm.Network,
    vpc_id: str,
    region: str,
    *,
    extra: Mapping[str, Sequence[str]] | None = None,
    endpoint_names: Mapping[str, Sequence[str]] | None = None,
) -> Records:
    """The record table of ``vpc_id``'s resolver (name → IPv4 addresses; ``*.`` keys are wildcards).

    ``endpoint_names`` maps endpoint ids to their ``DnsEntries`` names (:func:`endpoint_dns_names`);
    ``extra`` holds names jobs registered and wins over everything else."""
    vpc = network.vpcs[vpc_id]
    if not vpc.enable_dns_support:
        return {}
    records = public_service_records(region)
    hosts = _service_hosts(region)
    endpoints = sorted(
        (
            e
            for e in network.vpc_endpoints.values()
            if e.vpc_id == vpc_id and e.type is nm.EndpointType.INTERFACE
        ),
        key=lambda e: e.id,
    )
    private_zones: set[str] = set()
    for endpoint in endpoints:
        suffix = _suffix(region, endpoint.service_name)
        enis = _endpoint_enis(network, endpoint)
        host = hosts.get(suffix)
        addresses = tuple(address for _, address in enis)
        # AWS allows one private zone per service name in a VPC; the first endpoint holds it.
        private = endpoint.private_dns_enabled and vpc.enable_dns_hostnames
        if private and host and addresses and suffix not in private_zones:
            private_zones.add(suffix)
            for name in _regional_names(suffix, host):
                records[name] = addresses
        if endpoint_names and endpoint.id in endpoint_names:
            records.update(_endpoint_names(endpoint, endpoint_names[endpoint.id], enis, suffix == "s3"))
    for eni in network.enis.values():
        subnet = network.subnets.get(eni.subnet_id)
        if subnet is None or subnet.vpc_id != vpc_id:
            continue
        for address in eni.private_ips:
            if ":" not in address:
                records[private_dns_name(region, address)] = (address,)
        if eni.public_ip and vpc.enable_dns_hostnames and eni.private_ips:
            records[public_dns_name(region, eni.public_ip)] = (eni.private_ips[0],)
    for name, values in (extra or {}).items():
        records[name.rstrip(".").lower()] = tuple(values)
    return records


def endpoint_dns_names(session: Session, account_id: str, region: str) -> dict[str, tuple[str, ...]]:
    """Each live endpoint's ``DnsEntries`` names, as DescribeVpcEndpoints returns them."""
    rows = session.scalars(
        select(VpcEndpoint).where(
            VpcEndpoint.account_id == account_id,
            VpcEndpoint.region == region,
            VpcEndpoint.state.not_in(("deleting", "deleted")),
        )
    )
    return {ep.id: tuple(str(entry["DnsName"]) for entry in ep.dns_entries) for ep in rows}
