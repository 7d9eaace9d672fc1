"""Network interfaces: private addresses taken from their subnet, security groups, MAC addresses."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cove.services.ec2 import subnets
from cove.services.ec2.errors import Ec2Error, invalid_value, not_found
from cove.services.ec2.filters import FilterSpec, apply_filters, field, path
from cove.services.ec2.ids import new_id
from cove.services.ec2.paging import paginate
from cove.services.ec2.tables.security import SecurityGroup
from cove.services.ec2.tables.topology import Address, NetworkInterface, PrivateIp, Subnet
from cove.services.ec2.tags import tags_from_specifications

__all__ = [
    "MAX_GROUPS_PER_INTERFACE",
    "assign_private_ips",
    "create_from_params",
    "create_network_interface",
    "describe_network_interface_attribute",
    "describe_network_interfaces",
    "get_network_interface",
    "interface_view",
    "modify_network_interface_attribute",
    "private_dns_name",
    "remove_network_interface",
    "unassign_private_ips",
    "user_delete_network_interface",
]

MAX_GROUPS_PER_INTERFACE = 5

_FILTERS: FilterSpec = {
    "addresses.private-ip-address": path("PrivateIpAddresses", "PrivateIpAddress"),
    "addresses.primary": path("PrivateIpAddresses", "Primary"),
    "addresses.association.public-ip": path("PrivateIpAddresses", "Association", "PublicIp"),
    "addresses.association.owner-id": path("PrivateIpAddresses", "Association", "IpOwnerId"),
    "association.association-id": path("Association", "AssociationId"),
    "association.allocation-id": path("Association", "AllocationId"),
    "association.ip-owner-id": path("Association", "IpOwnerId"),
    "association.public-ip": path("Association", "PublicIp"),
    "association.public-dns-name": path("Association", "PublicDnsName"),
    "attachment.attachment-id": path("Attachment", "AttachmentId"),
    "attachment.attach-time": path("Attachment", "AttachTime"),
    "attachment.delete-on-termination": path("Attachment", "DeleteOnTermination"),
    "attachment.device-index": path("Attachment", "DeviceIndex"),
    "attachment.instance-id": path("Attachment", "InstanceId"),
    "attachment.instance-owner-id": path("Attachment", "InstanceOwnerId"),
    "attachment.status": path("Attachment", "Status"),
    "availability-zone": field("AvailabilityZone"),
    "description": field("Description"),
    "group-id": path("Groups", "GroupId"),
    "group-name": path("Groups", "GroupName"),
    "interface-type": field("InterfaceType"),
    "ipv6-addresses.ipv6-address": path("Ipv6Addresses", "Ipv6Address"),
    "mac-address": field("MacAddress"),
    "network-interface-id": field("NetworkInterfaceId"),
    "owner-id": field("OwnerId"),
    "private-dns-name": field("PrivateDnsName"),
    "private-ip-address": field("PrivateIpAddress"),
    "requester-id": field("RequesterId"),
    "requester-managed": field("RequesterManaged"),
    "source-dest-check": field("SourceDestCheck"),
    "status": field("Status"),
    "subnet-id": field("SubnetId"),
    "vpc-id": field("VpcId"),
}


def private_dns_name(region: str, address: str) -> str:
    host = "ip-" + address.replace(".", "-")
    return f"{host}.ec2.internal" if region == "us-east-1" else f"{host}.{region}.compute.internal"


def get_network_interface(session: Session, account_id: str, region: str, eni_id: str) -> NetworkInterface:
    eni = session.get(NetworkInterface, eni_id)
    if eni is None or eni.account_id != account_id or eni.region != region:
        raise not_found("InvalidNetworkInterfaceID.NotFound", "networkInterface ID", eni_id)
    return eni


def _check_groups(
    session: Session, account_id: str, region: str, vpc_id: str, group_ids: list[str]
) -> list[str]:
    """The groups an ENI gets: the given ones (of this VPC), or the VPC's default group."""
    # Imported here: security_groups imports vpcs, which imports this module.
    from cove.services.ec2 import security_groups

    group_ids = list(dict.fromkeys(group_ids))
    if len(group_ids) > MAX_GROUPS_PER_INTERFACE:
        raise Ec2Error(
            "The maximum number of security groups per interface has been reached.",
            code="SecurityGroupsPerInterfaceLimitExceeded",
        )
    if not group_ids:
        default = security_groups.default_security_group_id(session, vpc_id)
        return [default] if default else []
    security_groups.check_security_groups(
        session, account_id=account_id, region=region, vpc_id=vpc_id, group_ids=group_ids
    )
    return group_ids


def _taken(session: Session, subnet_id: str) -> set[str]:
    return set(session.scalars(select(PrivateIp.address).where(PrivateIp.subnet_id == subnet_id)))


def _free_addresses(session: Session, subnet: Subnet, count: int) -> list[str]:
    reserved = subnets.reserved_addresses(subnet.cidr_block)
    taken = _taken(session, subnet.id)
    out: list[str] = []
    for host in ipaddress.IPv4Network(subnet.cidr_block):
        text = str(host)
        if text not in reserved and text not in taken:
            out.append(text)
            if len(out) == count:
                return out
    raise Ec2Error(
        f"Insufficient free IP addresses in subnet '{subnet.id}'.", code="InsufficientFreeAddressesInSubnet"
    )


def _check_address(session: Session, subnet: Subnet, address: str) -> str:
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        raise invalid_value(f"Invalid value '{address}' for IP address") from None
    if ip not in ipaddress.IPv4Network(subnet.cidr_block):
        raise invalid_value(f"Address {address} does not fall within the subnet's address range")
    if str(ip) in subnets.reserved_addresses(subnet.cidr_block):
        raise invalid_value(f"Address {address} is in subnet's reserved address range")
    if str(ip) in _taken(session, subnet.id):
        raise Ec2Error("The specified address is already in use.", code="InvalidIPAddress.InUse")
    return str(ip)


def _add_ips(session: Session, eni: NetworkInterface, addresses: Iterable[str], *, primary: bool) -> None:
    for address in addresses:
        session.add(
            PrivateIp(network_interface_id=eni.id, subnet_id=eni.subnet_id, address=address, primary=primary)
        )
    session.flush()


def _mac() -> str:
    return "02:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(5))


def create_network_interface(
    session: Session,
    *,
    account_id: str,
    region: str,
    subnet_id: str,
    group_ids: list[str],
    description: str = "",
    interface_type: str = "interface",
    requester_managed: bool = False,
    private_ip: str | None = None,
    tags: Iterable[dict[str, str]] = (),
    secondary_ips: Iterable[str] = (),
    secondary_count: int = 0,
    requester_id: str | None = None,
) -> NetworkInterface:
    """An ENI in ``subnet_id`` with its primary (given or next free) address; what jobs, endpoints and
    NAT gateways call as well as CreateNetworkInterface."""
    subnet = subnets.get_subnet(session, account_id, region, subnet_id)
    # A NAT gateway's interface has no security groups.
    groups = (
        []
        if interface_type == "nat_gateway"
        else _check_groups(session, account_id, region, subnet.vpc_id, list(group_ids))
    )
    primary = (
        _check_address(session, subnet, private_ip) if private_ip else _free_addresses(session, subnet, 1)[0]
    )
    eni = NetworkInterface(
        id=new_id("eni"),
        account_id=account_id,
        region=region,
        vpc_id=subnet.vpc_id,
        subnet_id=subnet.id,
        availability_zone=subnet.availability_zone,
        description=description,
        interface_type=interface_type,
        requester_managed=requester_managed,
        requester_id=requester_id,
        mac_address=_mac(),
        source_dest_check=True,
        status="in-use" if interface_type != "interface" else "available",
        group_ids=groups,
        attachment=None,
        tags=list(tags),
    )
    session.add(eni)
    session.flush()
    _add_ips(session, eni, [primary], primary=True)
    explicit = [_check_address(session, subnet, a) for a in secondary_ips]
    _add_ips(session, eni, explicit, primary=False)
    if secondary_count:
        _add_ips(session, eni, _free_addresses(session, subnet, secondary_count), primary=False)
    return eni


def create_from_params(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> NetworkInterface:
    secondary = [
        a["PrivateIpAddress"] for a in params.get("PrivateIpAddresses") or [] if not a.get("Primary")
    ]
    primary = params.get("PrivateIpAddress") or next(
        (a["PrivateIpAddress"] for a in params.get("PrivateIpAddresses") or [] if a.get("Primary")), None
    )
    return create_network_interface(
        session,
        account_id=account_id,
        region=region,
        subnet_id=params["SubnetId"],
        group_ids=list(params.get("Groups") or []),
        description=params.get("Description") or "",
        interface_type=params.get("InterfaceType") or "interface",
        private_ip=primary,
        tags=tags_from_specifications(params.get("TagSpecifications"), "network-interface"),
        secondary_ips=secondary,
        secondary_count=int(params.get("SecondaryPrivateIpAddressCount") or 0),
    )


def _views(session: Session, enis: list[NetworkInterface]) -> list[dict[str, Any]]:
    ids = [e.id for e in enis]
    ips = list(
        session.scalars(
            select(PrivateIp)
            .where(PrivateIp.network_interface_id.in_(ids))
            .order_by(PrivateIp.primary.desc(), PrivateIp.id)
        )
    )
    eips = {
        (a.network_interface_id, a.private_ip_address): a
        for a in session.scalars(select(Address).where(Address.network_interface_id.in_(ids)))
    }
    all_groups = sorted({g for e in enis for g in e.group_ids})
    names = dict(
        session.execute(
            select(SecurityGroup.id, SecurityGroup.name).where(SecurityGroup.id.in_(all_groups))
        ).all()
    )
    return [_view(e, [ip for ip in ips if ip.network_interface_id == e.id], eips, names) for e in enis]


def _association(eip: Address) -> dict[str, Any]:
    return {
        "IpOwnerId": eip.account_id,
        "PublicDnsName": f"ec2-{eip.public_ip.replace('.', '-')}.compute-1.amazonaws.com",
        "PublicIp": eip.public_ip,
        "AllocationId": eip.allocation_id,
        "AssociationId": eip.association_id,
    }


def _view(
    eni: NetworkInterface,
    ips: list[PrivateIp],
    eips: dict[tuple[str | None, str | None], Address],
    names: dict[str, str],
) -> dict[str, Any]:
    addresses = []
    for ip in ips:
        item: dict[str, Any] = {
            "Primary": ip.primary,
            "PrivateIpAddress": ip.address,
            "PrivateDnsName": private_dns_name(eni.region, ip.address),
        }
        eip = eips.get((eni.id, ip.address))
        if eip is not None:
            item["Association"] = _association(eip)
        addresses.append(item)
    primary = next((a for a in addresses if a["Primary"]), None)
    view: dict[str, Any] = {
        "AvailabilityZone": eni.availability_zone,
        "Description": eni.description,
        "Groups": [{"GroupId": g, "GroupName": names.get(g, "")} for g in eni.group_ids],
        "InterfaceType": eni.interface_type,
        "Ipv6Addresses": [],
        "MacAddress": eni.mac_address,
        "NetworkInterfaceId": eni.id,
        "OwnerId": eni.account_id,
        "PrivateIpAddresses": addresses,
        "RequesterManaged": eni.requester_managed,
        "SourceDestCheck": eni.source_dest_check,
        "Status": eni.status,
        "SubnetId": eni.subnet_id,
        "TagSet": list(eni.tags),
        "VpcId": eni.vpc_id,
    }
    if primary is not None:
        view["PrivateIpAddress"] = primary["PrivateIpAddress"]
        view["PrivateDnsName"] = primary["PrivateDnsName"]
        if "Association" in primary:
            view["Association"] = primary["Association"]
    if eni.requester_id:
        view["RequesterId"] = eni.requester_id
    if eni.attachment:
        view["Attachment"] = dict(eni.attachment)
    return view


def interface_view(session: Session, eni: NetworkInterface) -> dict[str, Any]:
    return _views(session, [eni])[0]


def describe_network_interfaces(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    query = (
        select(NetworkInterface)
        .where(NetworkInterface.account_id == account_id, NetworkInterface.region == region)
        .order_by(NetworkInterface.created, NetworkInterface.id)
    )
    ids = params.get("NetworkInterfaceIds") or []
    if ids:
        query = query.where(NetworkInterface.id.in_(ids))
    rows = list(session.scalars(query))
    found = {e.id for e in rows}
    for eni_id in ids:
        if eni_id not in found:
            raise not_found("InvalidNetworkInterfaceID.NotFound", "networkInterface ID", eni_id)
    views = apply_filters(_tagged(_views(session, rows)), params.get("Filters"), _FILTERS)
    page, extra = paginate([_untagged(v) for v in views], params.get("MaxResults"), params.get("NextToken"))
    return {"NetworkInterfaces": page, **extra}


def _tagged(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # ENIs call their tags TagSet; the shared tag filters read Tags.
    return [dict(v, Tags=v["TagSet"]) for v in views]


def _untagged(view: Any) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k != "Tags"}


def remove_network_interface(session: Session, eni: NetworkInterface) -> None:
    """Delete an ENI and free its addresses and elastic IP associations (no in-use checks)."""
    for eip in session.scalars(select(Address).where(Address.network_interface_id == eni.id)):
        eip.association_id = eip.network_interface_id = eip.private_ip_address = None
    session.execute(delete(PrivateIp).where(PrivateIp.network_interface_id == eni.id))
    session.delete(eni)


def user_delete_network_interface(session: Session, account_id: str, region: str, eni_id: str) -> None:
    eni = get_network_interface(session, account_id, region, eni_id)
    if eni.attachment or eni.status == "in-use":
        raise Ec2Error(
            f"Network interface '{eni_id}' is currently in use.", code="InvalidNetworkInterface.InUse"
        )
    if eni.requester_managed:
        raise Ec2Error(
            f"You do not have permission to access the specified resource. The network interface {eni_id} "
            "is requester-managed.",
            code="OperationNotPermitted",
        )
    remove_network_interface(session, eni)


def modify_network_interface_attribute(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> None:
    eni = get_network_interface(session, account_id, region, params["NetworkInterfaceId"])
    if params.get("Description") is not None:
        eni.description = str(params["Description"].get("Value", ""))
    if params.get("SourceDestCheck") is not None:
        eni.source_dest_check = bool(params["SourceDestCheck"].get("Value", True))
    if params.get("Groups"):
        eni.group_ids = _check_groups(session, account_id, region, eni.vpc_id, list(params["Groups"]))
    if params.get("Attachment") is not None and eni.attachment:
        delete_on_termination = params["Attachment"].get("DeleteOnTermination")
        if delete_on_termination is not None:
            eni.attachment = dict(eni.attachment, DeleteOnTermination=bool(delete_on_termination))


def describe_network_interface_attribute(
    session: Session, account_id: str, region: str, eni_id: str, attribute: str
) -> dict[str, Any]:
    eni = get_network_interface(session, account_id, region, eni_id)
    view = interface_view(session, eni)
    out: dict[str, Any] = {"NetworkInterfaceId": eni.id}
    if attribute == "description":
        out["Description"] = {"Value": eni.description}
    elif attribute == "groupSet":
        out["Groups"] = view["Groups"]
    elif attribute == "sourceDestCheck":
        out["SourceDestCheck"] = {"Value": eni.source_dest_check}
    elif attribute == "attachment":
        if "Attachment" in view:
            out["Attachment"] = view["Attachment"]
    else:
        raise invalid_value(f"Value ({attribute}) for parameter attribute is invalid.")
    return out


def assign_private_ips(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    eni = get_network_interface(session, account_id, region, params["NetworkInterfaceId"])
    subnet = subnets.get_subnet(session, account_id, region, eni.subnet_id)
    wanted = [str(a) for a in params.get("PrivateIpAddresses") or []]
    count = int(params.get("SecondaryPrivateIpAddressCount") or 0)
    if params.get("AllowReassignment"):
        for address in wanted:
            session.execute(
                delete(PrivateIp).where(
                    PrivateIp.subnet_id == subnet.id,
                    PrivateIp.address == address,
                    PrivateIp.primary.is_(False),
                )
            )
    addresses = [_check_address(session, subnet, a) for a in wanted]
    _add_ips(session, eni, addresses, primary=False)
    if count:
        extra = _free_addresses(session, subnet, count)
        _add_ips(session, eni, extra, primary=False)
        addresses += extra
    return {
        "NetworkInterfaceId": eni.id,
        "AssignedPrivateIpAddresses": [{"PrivateIpAddress": a} for a in addresses],
    }


def unassign_private_ips(session: Session, account_id: str, region: str, params: dict[str, Any]) -> None:
    eni = get_network_interface(session, account_id, region, params["NetworkInterfaceId"])
    held = {
        ip.address: ip
        for ip in session.scalars(select(PrivateIp).where(PrivateIp.network_interface_id == eni.id))
    }
    wanted = [str(a) for a in params.get("PrivateIpAddresses") or []]
    for address in wanted:
        ip = held.get(address)
        if ip is None:
            raise invalid_value(f"Some of the specified addresses are not assigned to interface {eni.id}")
        if ip.primary:
            raise invalid_value(
                f"The primary IP address {address} of interface {eni.id} cannot be unassigned"
            )
    for address in wanted:
        session.delete(held[address])
