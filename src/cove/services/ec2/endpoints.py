"""VPC endpoints: the regional AWS services Cove offers through PrivateLink, and the endpoints to them.

A gateway endpoint is a route ``pl-… → vpce-…`` in each of its route tables (the topology family
owns routes); an interface endpoint is one requester-managed ENI per subnet (at most one per AZ)
carrying the endpoint's security groups. Every endpoint has one resource policy, checked by
``cove.policy`` as an endpoint policy. Deleted endpoints stay visible in state ``deleted``, as AWS
shows them for a while, but hold no routes or ENIs.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.policy import PolicyKind, parse_policy
from cove.policy.errors import PolicyError
from cove.services.ec2 import prefix_lists
from cove.services.ec2.errors import Ec2Error, invalid_value
from cove.services.ec2.filters import FilterSpec, apply_filters, field, path
from cove.services.ec2.ids import new_id
from cove.services.ec2.paging import paginate
from cove.services.ec2.tables.endpoints import VpcEndpoint
from cove.services.ec2.tags import tags_from_specifications

__all__ = [
    "DEFAULT_GATEWAY_POLICY",
    "DEFAULT_INTERFACE_POLICY",
    "EndpointService",
    "EndpointSummary",
    "create_vpc_endpoint",
    "delete_vpc_endpoints",
    "describe_vpc_endpoint_services",
    "describe_vpc_endpoints",
    "endpoint_services",
    "endpoint_view",
    "endpoints_in_vpc",
    "get_vpc_endpoint",
    "modify_vpc_endpoint",
    "vpc_has_endpoints",
]

# The policies AWS attaches when none is given, byte for byte as DescribeVpcEndpoints returns them:
# gateway endpoints keep the 2008 policy version, interface endpoints get the pretty-printed form.
DEFAULT_GATEWAY_POLICY = (
    '{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}'
)
DEFAULT_INTERFACE_POLICY = (
    '{\n  "Statement": [\n    {\n      "Action": "*", \n      "Effect": "Allow", \n'
    '      "Principal": "*", \n      "Resource": "*"\n    }\n  ]\n}'
)

# Service suffix → (the service's default host name under the region, endpoint types). Hosts come
# from each service's documented endpoint (``api.sagemaker.<region>.amazonaws.com``).
_CATALOG: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("application-autoscaling", "application-autoscaling", ("Interface",)),
    ("dynamodb", "dynamodb", ("Gateway",)),
    ("ec2", "ec2", ("Interface",)),
    ("ecr.api", "api.ecr", ("Interface",)),
    ("ecr.dkr", "*.dkr.ecr", ("Interface",)),
    ("kms", "kms", ("Interface",)),
    ("logs", "logs", ("Interface",)),
    ("monitoring", "monitoring", ("Interface",)),
    ("s3", "s3", ("Gateway", "Interface")),
    ("sagemaker.api", "api.sagemaker", ("Interface",)),
    ("sagemaker.runtime", "runtime.sagemaker", ("Interface",)),
    ("sts", "sts", ("Interface",)),
)

_ENDPOINT_TYPES = {"gateway": "Gateway", "interface": "Interface"}
_REFUSED_TYPES = {"gatewayloadbalancer", "resource", "servicenetwork"}

# Route 53 zone ids of ``<region>.vpce.amazonaws.com`` are per region at AWS; Cove uses one per region.
_VPCE_ZONE_PREFIX = "Z7HUB22UULQX"


@dataclass(frozen=True, slots=True)
class EndpointService:
    """One entry of DescribeVpcEndpointServices (S3 appears twice: Gateway and Interface)."""

    name: str
    service_type: str
    host: str  # the service's default DNS name in the region
    region: str

    @property
    def service_id(self) -> str:
        digest = hashlib.sha256(f"{self.name}/{self.service_type}".encode()).hexdigest()
        return f"vpce-svc-{digest[:17]}"

    @property
    def base_dns_name(self) -> str:
        if self.service_type == "Gateway":
            return self.host
        return self.host.removeprefix("*.").replace(".amazonaws.com", ".vpce.amazonaws.com")

    @property
    def private_dns_name(self) -> str | None:
        # S3's interface endpoints have no private DNS name of their own (the gateway serves VPCs).
        if self.service_type == "Gateway" or self.name.endswith(".s3"):
            return None
        return self.host


@dataclass(frozen=True, slots=True)
class EndpointSummary:
    """What the model/explain layer needs of an endpoint."""

    endpoint_id: str
    vpc_id: str
    endpoint_type: str
    service_name: str
    policy_document: str
    route_table_ids: list[str]
    subnet_ids: list[str]
    group_ids: list[str]
    network_interface_ids: list[str]
    private_dns_enabled: bool


def endpoint_services(region: str) -> list[EndpointService]:
    services: list[EndpointService] = []
    for suffix, host, kinds in _CATALOG:
        for kind in kinds:
            services.append(
                EndpointService(
                    name=f"com.amazonaws.{region}.{suffix}",
                    service_type=kind,
                    host=f"{host}.{region}.amazonaws.com",
                    region=region,
                )
            )
    return services


def _service_view(service: EndpointService) -> dict[str, Any]:
    from cove.services.ec2 import regions

    zones = regions.availability_zones(service.region)
    view: dict[str, Any] = {
        "ServiceName": service.name,
        "ServiceId": service.service_id,
        "ServiceType": [{"ServiceType": service.service_type}],
        "ServiceRegion": service.region,
        "AvailabilityZoneIds": [zone_id for _, zone_id in zones],
        "AvailabilityZones": [name for name, _ in zones],
        "Owner": "amazon",
        "BaseEndpointDnsNames": [service.base_dns_name],
        "VpcEndpointPolicySupported": True,
        "AcceptanceRequired": False,
        "ManagesVpcEndpoints": False,
        "Tags": [],
        "SupportedIpAddressTypes": ["ipv4"],
    }
    private = service.private_dns_name
    if private:
        view["PrivateDnsName"] = private
        view["PrivateDnsNames"] = [{"PrivateDnsName": private}]
        view["PrivateDnsNameVerificationState"] = "verified"
    return view


_SERVICE_FILTERS: FilterSpec = {
    "owner": field("Owner"),
    "service-name": field("ServiceName"),
    "service-region": field("ServiceRegion"),
    "service-type": path("ServiceType", "ServiceType"),
    "supported-ip-address-types": field("SupportedIpAddressTypes"),
}


def describe_vpc_endpoint_services(region: str, params: dict[str, Any]) -> dict[str, Any]:
    views = [_service_view(s) for s in endpoint_services(region)]
    names = params.get("ServiceNames")
    if names:
        known = {v["ServiceName"] for v in views}
        for name in names:
            if name not in known:
                raise Ec2Error(f"The Vpc Endpoint Service '{name}' does not exist", code="InvalidServiceName")
        views = [v for v in views if v["ServiceName"] in set(names)]
    for f in params.get("Filters") or []:
        name = str(f.get("Name", ""))
        if (
            name not in _SERVICE_FILTERS
            and not name.startswith("tag:")
            and name not in ("tag-key", "tag-value")
        ):
            raise Ec2Error(f"The filter '{name}' is invalid", code="InvalidFilter")
    views = [dict(v) for v in apply_filters(views, params.get("Filters"), _SERVICE_FILTERS)]
    # The token is the id of the next service: stable across calls, whatever the filters.
    start = 0
    token = params.get("NextToken")
    if token:
        ids = [v["ServiceId"] for v in views]
        if token not in ids:
            raise Ec2Error(f"The token '{token}' is invalid", code="InvalidNextToken")
        start = ids.index(token)
    limit = params.get("MaxResults")
    end = len(views) if limit is None else start + int(limit)
    page = views[start:end]
    out: dict[str, Any] = {"ServiceNames": [v["ServiceName"] for v in page], "ServiceDetails": page}
    if end < len(views):
        out["NextToken"] = views[end]["ServiceId"]
    return out


def _find_service(region: str, name: str, kind: str) -> EndpointService:
    matching = [s for s in endpoint_services(region) if s.name == name]
    if not matching:
        raise Ec2Error(f"The Vpc Endpoint Service '{name}' does not exist", code="InvalidServiceName")
    for service in matching:
        if service.service_type == kind:
            return service
    raise invalid_value(f"The Vpc Endpoint Service '{name}' does not support the endpoint type {kind}.")


def _endpoint_type(value: str | None, service_name: str, region: str) -> str:
    if value is None:
        return "Gateway"
    lowered = value.lower()
    if lowered in _REFUSED_TYPES:
        raise _invalid_parameter(f"The VPC endpoint type {value} is not supported.")
    kind = _ENDPOINT_TYPES.get(lowered)
    if kind is None:
        raise invalid_value(f"Value ({value}) for parameter VpcEndpointType is invalid.")
    return kind


def _invalid_parameter(message: str) -> Ec2Error:
    return Ec2Error(message, code="InvalidParameter")


def _check_policy(document: str) -> str:
    try:
        parse_policy(document, kind=PolicyKind.ENDPOINT)
    except PolicyError as exc:
        raise Ec2Error(str(exc), code="InvalidPolicyDocument") from None
    return document


def _not_found(endpoint_id: str) -> Ec2Error:
    return Ec2Error(
        f"The VpcEndpoint Id '{endpoint_id}' does not exist", code="InvalidVpcEndpointId.NotFound"
    )


def get_vpc_endpoint(session: Session, account_id: str, region: str, endpoint_id: str) -> VpcEndpoint:
    ep = session.get(VpcEndpoint, endpoint_id)
    if ep is None or ep.account_id != account_id or ep.region != region or ep.state == "deleted":
        raise _not_found(endpoint_id)
    return ep


def endpoint_view(ep: VpcEndpoint) -> dict[str, Any]:
    from cove.services.ec2.tables.security import SecurityGroup

    names: dict[str, str] = {}
    if ep.group_ids:
        from sqlalchemy.orm import object_session

        session = object_session(ep)
        if session is not None:
            for sg in session.scalars(select(SecurityGroup).where(SecurityGroup.id.in_(ep.group_ids))):
                names[sg.id] = sg.name
    view: dict[str, Any] = {
        "VpcEndpointId": ep.id,
        "VpcEndpointType": ep.endpoint_type,
        "VpcId": ep.vpc_id,
        "ServiceName": ep.service_name,
        "State": ep.state,
        "PolicyDocument": ep.policy_document,
        "SubnetIds": list(ep.subnet_ids),
        "Groups": [{"GroupId": g, "GroupName": names.get(g, "")} for g in ep.group_ids],
        "IpAddressType": ep.ip_address_type,
        "PrivateDnsEnabled": ep.private_dns_enabled,
        "RequesterManaged": False,
        "NetworkInterfaceIds": list(ep.network_interface_ids),
        "DnsEntries": list(ep.dns_entries),
        "CreationTimestamp": ep.created,
        "Tags": list(ep.tags),
        "OwnerId": ep.account_id,
    }
    if ep.route_table_ids:
        view["RouteTableIds"] = list(ep.route_table_ids)
    if ep.endpoint_type == "Interface":
        view["DnsOptions"] = {"DnsRecordIpType": "ipv4"}
    if ep.policy_document is None:
        del view["PolicyDocument"]
    return view


def _zone_id(region: str) -> str:
    return _VPCE_ZONE_PREFIX + hashlib.sha256(region.encode()).hexdigest()[:2].upper()


def _dns_entries(ep: VpcEndpoint, service: EndpointService, zones: list[str]) -> list[dict[str, Any]]:
    label = f"{ep.id}-{secrets.token_hex(4)}"
    zone = _zone_id(ep.region)
    base = service.base_dns_name
    entries = [{"DnsName": f"{label}.{base}", "HostedZoneId": zone}]
    entries += [{"DnsName": f"{label}-{az}.{base}", "HostedZoneId": zone} for az in sorted(set(zones))]
    if ep.private_dns_enabled and service.private_dns_name:
        # The private hosted zone AWS creates in the VPC; its id is private to the endpoint.
        private_zone = "Z" + hashlib.sha256(ep.id.encode()).hexdigest()[:20].upper()
        entries.append({"DnsName": service.private_dns_name, "HostedZoneId": private_zone})
    return entries


def _vpc(session: Session, account_id: str, region: str, vpc_id: str) -> Any:
    from cove.services.ec2 import vpcs

    return vpcs.get_vpc(session, account_id, region, vpc_id)


def _route_tables(session: Session, account_id: str, region: str, vpc_id: str, ids: list[str]) -> list[str]:
    from cove.services.ec2.tables.topology import RouteTable

    out: list[str] = []
    for rtb_id in ids:
        rtb = session.get(RouteTable, rtb_id)
        if rtb is None or rtb.account_id != account_id or rtb.region != region:
            raise Ec2Error(
                f"The routeTable ID '{rtb_id}' does not exist", code="InvalidRouteTableId.NotFound"
            )
        if rtb.vpc_id != vpc_id:
            raise invalid_value(f"The route table {rtb_id} does not belong to the VPC {vpc_id}.")
        if rtb_id not in out:
            out.append(rtb_id)
    return out


def _subnets(session: Session, account_id: str, region: str, vpc_id: str, ids: list[str]) -> list[Any]:
    from cove.services.ec2.tables.topology import Subnet

    out: list[Any] = []
    for subnet_id in ids:
        subnet = session.get(Subnet, subnet_id)
        if subnet is None or subnet.account_id != account_id or subnet.region != region:
            raise Ec2Error(f"The subnet ID '{subnet_id}' does not exist", code="InvalidSubnetID.NotFound")
        if subnet.vpc_id != vpc_id:
            raise invalid_value(f"The subnet {subnet_id} does not belong to the VPC {vpc_id}.")
        if subnet not in out:
            out.append(subnet)
    return out


def _check_one_per_zone(subnets: list[Any]) -> None:
    seen: dict[str, str] = {}
    for subnet in subnets:
        other = seen.get(subnet.availability_zone)
        if other is not None:
            raise Ec2Error(
                f"Found another VPC endpoint subnet in the availability zone of {subnet.id}. "
                "VPC endpoint subnets should be in different availability zones supported by the "
                "VPC endpoint service.",
                code="DuplicateSubnetsInSameZone",
            )
        seen[subnet.availability_zone] = subnet.id


def _groups(session: Session, account_id: str, region: str, vpc_id: str, ids: list[str]) -> list[str]:
    from cove.services.ec2 import security_groups

    if not ids:
        default = security_groups.default_security_group_id(session, vpc_id)
        return [default] if default else []
    out = list(dict.fromkeys(ids))
    security_groups.check_security_groups(
        session, account_id=account_id, region=region, vpc_id=vpc_id, group_ids=out
    )
    return out


def _check_private_dns(vpc: Any) -> None:
    if not (vpc.enable_dns_support and vpc.enable_dns_hostnames):
        raise Ec2Error(
            "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes "
            f"set to true for {vpc.id}",
            code="InvalidParameter",
        )


def _add_routes(session: Session, ep: VpcEndpoint, table_ids: list[str]) -> None:
    from cove.services.ec2 import routes

    pl = prefix_lists.service_prefix_list(ep.region, ep.service_name)
    if pl is None:
        return
    for rtb_id in table_ids:
        routes.add_endpoint_route(session, rtb_id, pl["id"], ep.id)


def _remove_routes(session: Session, ep: VpcEndpoint, table_ids: list[str]) -> None:
    from cove.services.ec2 import routes

    pl = prefix_lists.service_prefix_list(ep.region, ep.service_name)
    if pl is None:
        return
    for rtb_id in table_ids:
        routes.remove_endpoint_route(session, rtb_id, pl["id"], ep.id)


def _add_interfaces(session: Session, ep: VpcEndpoint, subnets: list[Any], group_ids: list[str]) -> list[str]:
    from cove.services.ec2 import interfaces

    created: list[str] = []
    for subnet in subnets:
        eni = interfaces.create_network_interface(
            session,
            account_id=ep.account_id,
            region=ep.region,
            subnet_id=subnet.id,
            group_ids=group_ids,
            description=f"VPC Endpoint Interface {ep.id}",
            interface_type="vpc_endpoint",
            requester_managed=True,
        )
        created.append(eni.id)
    return created


def _delete_interfaces(session: Session, eni_ids: list[str]) -> None:
    from cove.services.ec2 import interfaces
    from cove.services.ec2.tables.topology import NetworkInterface

    for eni_id in eni_ids:
        eni = session.get(NetworkInterface, eni_id)
        if eni is not None:
            interfaces.remove_network_interface(session, eni)
    session.flush()


def create_vpc_endpoint(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> VpcEndpoint:
    token = params.get("ClientToken")
    if token:
        existing = session.scalars(
            select(VpcEndpoint).where(
                VpcEndpoint.account_id == account_id,
                VpcEndpoint.region == region,
                VpcEndpoint.client_token == token,
            )
        ).first()
        if existing is not None:
            return existing
    service_name = str(params["ServiceName"])
    kind = _endpoint_type(params.get("VpcEndpointType"), service_name, region)
    service = _find_service(region, service_name, kind)
    vpc = _vpc(session, account_id, region, str(params["VpcId"]))
    document = params.get("PolicyDocument")
    policy = (
        _check_policy(str(document))
        if document is not None
        else (DEFAULT_GATEWAY_POLICY if kind == "Gateway" else DEFAULT_INTERFACE_POLICY)
    )
    ep = VpcEndpoint(
        id=new_id("vpce"),
        account_id=account_id,
        region=region,
        vpc_id=vpc.id,
        service_name=service_name,
        endpoint_type=kind,
        state="available",
        policy_document=policy,
        client_token=token,
        tags=tags_from_specifications(params.get("TagSpecifications"), "vpc-endpoint"),
    )
    if kind == "Gateway":
        if params.get("SubnetIds"):
            raise _invalid_parameter(
                "Subnet IDs are only supported for Interface and GatewayLoadBalancer type VPC Endpoints."
            )
        if params.get("SecurityGroupIds"):
            raise _invalid_parameter(
                "Security Group IDs are only supported for Interface type VPC Endpoints."
            )
        if params.get("PrivateDnsEnabled"):
            raise _invalid_parameter("Private DNS can only be enabled for Interface type VPC Endpoints.")
        tables = _route_tables(session, account_id, region, vpc.id, list(params.get("RouteTableIds") or []))
        ep.route_table_ids = tables
        session.add(ep)
        session.flush()
        _add_routes(session, ep, tables)
        return ep
    if params.get("RouteTableIds"):
        raise _invalid_parameter("Route table IDs are only supported for Gateway type VPC Endpoint.")
    subnets = _subnets(session, account_id, region, vpc.id, list(params.get("SubnetIds") or []))
    _check_one_per_zone(subnets)
    groups = _groups(session, account_id, region, vpc.id, list(params.get("SecurityGroupIds") or []))
    private_dns = params.get("PrivateDnsEnabled")
    if private_dns is None:
        private_dns = service.private_dns_name is not None
    if private_dns:
        if service.private_dns_name is None:
            raise _invalid_parameter(
                f"Private DNS can't be enabled because the service {service_name} does not provide a "
                "private DNS name."
            )
        _check_private_dns(vpc)
    ep.subnet_ids = [s.id for s in subnets]
    ep.group_ids = groups
    ep.private_dns_enabled = bool(private_dns)
    session.add(ep)
    session.flush()
    ep.network_interface_ids = _add_interfaces(session, ep, subnets, groups)
    ep.dns_entries = _dns_entries(ep, service, [s.availability_zone for s in subnets])
    session.flush()
    return ep


def modify_vpc_endpoint(session: Session, account_id: str, region: str, params: dict[str, Any]) -> None:
    ep = get_vpc_endpoint(session, account_id, region, str(params["VpcEndpointId"]))
    if params.get("ResetPolicy"):
        ep.policy_document = (
            DEFAULT_GATEWAY_POLICY if ep.endpoint_type == "Gateway" else DEFAULT_INTERFACE_POLICY
        )
    elif params.get("PolicyDocument") is not None:
        ep.policy_document = _check_policy(str(params["PolicyDocument"]))
    add_tables = list(params.get("AddRouteTableIds") or [])
    remove_tables = list(params.get("RemoveRouteTableIds") or [])
    if (add_tables or remove_tables) and ep.endpoint_type != "Gateway":
        raise _invalid_parameter("Route table IDs are only supported for Gateway type VPC Endpoint.")
    if add_tables or remove_tables:
        removing = [
            t
            for t in _route_tables(session, account_id, region, ep.vpc_id, remove_tables)
            if t in ep.route_table_ids
        ]
        adding = [
            t
            for t in _route_tables(session, account_id, region, ep.vpc_id, add_tables)
            if t not in ep.route_table_ids
        ]
        _remove_routes(session, ep, removing)
        _add_routes(session, ep, adding)
        ep.route_table_ids = [t for t in ep.route_table_ids if t not in removing] + adding
    add_subnets = list(params.get("AddSubnetIds") or [])
    remove_subnets = list(params.get("RemoveSubnetIds") or [])
    add_groups = list(params.get("AddSecurityGroupIds") or [])
    remove_groups = list(params.get("RemoveSecurityGroupIds") or [])
    touches_interface = add_subnets or remove_subnets or add_groups or remove_groups
    if touches_interface and ep.endpoint_type != "Interface":
        raise _invalid_parameter(
            "Subnet IDs and Security Group IDs are only supported for Interface type VPC Endpoints."
        )
    if add_groups or remove_groups:
        adding_groups = _groups(session, account_id, region, ep.vpc_id, add_groups) if add_groups else []
        groups = [g for g in ep.group_ids if g not in remove_groups]
        groups += [g for g in adding_groups if g not in groups]
        ep.group_ids = groups
        _set_interface_groups(session, ep.network_interface_ids, groups)
    if add_subnets or remove_subnets:
        _modify_subnets(session, ep, add_subnets, remove_subnets)
    if params.get("PrivateDnsEnabled") is not None:
        enable = bool(params["PrivateDnsEnabled"])
        if ep.endpoint_type != "Interface" and enable:
            raise _invalid_parameter("Private DNS can only be enabled for Interface type VPC Endpoints.")
        if enable:
            _check_private_dns(_vpc(session, account_id, region, ep.vpc_id))
        ep.private_dns_enabled = enable
        _refresh_dns(session, ep)
    session.flush()


def _set_interface_groups(session: Session, eni_ids: list[str], groups: list[str]) -> None:
    from cove.services.ec2.tables.topology import NetworkInterface

    for eni_id in eni_ids:
        eni = session.get(NetworkInterface, eni_id)
        if eni is not None:
            eni.group_ids = list(groups)


def _modify_subnets(session: Session, ep: VpcEndpoint, add: list[str], remove: list[str]) -> None:
    from cove.services.ec2.tables.topology import NetworkInterface

    current = _subnets(session, ep.account_id, ep.region, ep.vpc_id, list(ep.subnet_ids))
    dropping = [s for s in current if s.id in remove]
    keeping = [s for s in current if s.id not in remove]
    adding = [
        s
        for s in _subnets(session, ep.account_id, ep.region, ep.vpc_id, add)
        if s.id not in {k.id for k in keeping}
    ]
    _check_one_per_zone(keeping + adding)
    dropped_enis = [
        eni_id
        for eni_id in ep.network_interface_ids
        if (eni := session.get(NetworkInterface, eni_id)) is not None
        and eni.subnet_id in {s.id for s in dropping}
    ]
    _delete_interfaces(session, dropped_enis)
    new_enis = _add_interfaces(session, ep, adding, list(ep.group_ids))
    ep.network_interface_ids = [e for e in ep.network_interface_ids if e not in dropped_enis] + new_enis
    ep.subnet_ids = [s.id for s in keeping + adding]
    _refresh_dns(session, ep)


def _refresh_dns(session: Session, ep: VpcEndpoint) -> None:
    if ep.endpoint_type != "Interface":
        return
    service = _find_service(ep.region, ep.service_name, "Interface")
    subnets = _subnets(session, ep.account_id, ep.region, ep.vpc_id, list(ep.subnet_ids))
    ep.dns_entries = _dns_entries(ep, service, [s.availability_zone for s in subnets])


def delete_vpc_endpoints(
    session: Session, account_id: str, region: str, ids: list[str]
) -> list[dict[str, Any]]:
    """Deletes what it can; the ``Unsuccessful`` items for the rest."""
    unsuccessful: list[dict[str, Any]] = []
    for endpoint_id in ids:
        ep = session.get(VpcEndpoint, endpoint_id)
        if ep is None or ep.account_id != account_id or ep.region != region or ep.state == "deleted":
            unsuccessful.append(
                {
                    "ResourceId": endpoint_id,
                    "Error": {
                        "Code": "InvalidVpcEndpoint.NotFound",
                        "Message": f"The VpcEndpoint Id '{endpoint_id}' does not exist",
                    },
                }
            )
            continue
        _remove_routes(session, ep, list(ep.route_table_ids))
        _delete_interfaces(session, list(ep.network_interface_ids))
        ep.state = "deleted"
        ep.route_table_ids = []
        ep.network_interface_ids = []
        ep.dns_entries = []
    session.flush()
    return unsuccessful


_FILTERS: FilterSpec = {
    "ip-address-type": field("IpAddressType"),
    "service-name": field("ServiceName"),
    "service-region": lambda v: [v["ServiceName"].split(".")[2]] if v["ServiceName"].count(".") >= 3 else [],
    "vpc-id": field("VpcId"),
    "vpc-endpoint-id": field("VpcEndpointId"),
    "vpc-endpoint-state": field("State"),
    "vpc-endpoint-type": field("VpcEndpointType"),
}


def describe_vpc_endpoints(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    query = select(VpcEndpoint).where(VpcEndpoint.account_id == account_id, VpcEndpoint.region == region)
    ids = params.get("VpcEndpointIds")
    if ids:
        query = query.where(VpcEndpoint.id.in_(ids))
    rows = session.scalars(query.order_by(VpcEndpoint.created, VpcEndpoint.id)).all()
    if ids:
        found = {r.id for r in rows}
        missing = [i for i in ids if i not in found]
        if missing:
            raise Ec2Error(
                f"The VpcEndpoint Id '{missing[0]}' does not exist", code="InvalidVpcEndpointId.NotFound"
            )
    views = [endpoint_view(r) for r in rows]
    views = [dict(v) for v in apply_filters(views, params.get("Filters"), _FILTERS)]
    page, extra = paginate(views, params.get("MaxResults"), params.get("NextToken"))
    return {"VpcEndpoints": page, **extra}


def endpoints_in_vpc(session: Session, vpc_id: str) -> list[EndpointSummary]:
    """The live endpoints of a VPC, in creation order (for the network model and the explainer)."""
    rows = session.scalars(
        select(VpcEndpoint)
        .where(VpcEndpoint.vpc_id == vpc_id, VpcEndpoint.state != "deleted")
        .order_by(VpcEndpoint.created, VpcEndpoint.id)
    ).all()
    return [
        EndpointSummary(
            endpoint_id=ep.id,
            vpc_id=ep.vpc_id,
            endpoint_type=ep.endpoint_type,
            service_name=ep.service_name,
            policy_document=ep.policy_document
            or (DEFAULT_GATEWAY_POLICY if ep.endpoint_type == "Gateway" else DEFAULT_INTERFACE_POLICY),
            route_table_ids=list(ep.route_table_ids),
            subnet_ids=list(ep.subnet_ids),
            group_ids=list(ep.group_ids),
            network_interface_ids=list(ep.network_interface_ids),
            private_dns_enabled=ep.private_dns_enabled,
        )
        for ep in rows
    ]


def vpc_has_endpoints(session: Session, vpc: Any) -> bool:
    """A VPC with live endpoints cannot be deleted (DependencyViolation)."""
    return (
        session.scalars(
            select(VpcEndpoint.id)
            .where(VpcEndpoint.vpc_id == vpc.id, VpcEndpoint.state != "deleted")
            .limit(1)
        ).first()
        is not None
    )


def _register() -> None:
    from cove.services.ec2 import vpcs

    if vpc_has_endpoints not in vpcs.vpc_dependencies:
        vpcs.vpc_dependencies.append(vpc_has_endpoints)


_register()
