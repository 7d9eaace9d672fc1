"""Reachability Analyzer's API (network insights paths and analyses) over the network model.

An analysis runs when it is started (the model answers in microseconds), so it is ``succeeded``
as soon as StartNetworkInsightsAnalysis returns; clients that poll Describe see the same result.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove import netmodel as nm
from cove.services.ec2.errors import Ec2Error, invalid_value
from cove.services.ec2.filters import FilterSpec, apply_filters, field
from cove.services.ec2.ids import new_id
from cove.services.ec2.paging import paginate
from cove.services.ec2.snapshot import load_network
from cove.services.ec2.tables.insights import NetworkInsightsAnalysis, NetworkInsightsPath
from cove.services.ec2.tags import tags_from_specifications

__all__ = [
    "create_path",
    "delete_analysis",
    "delete_path",
    "describe_analyses",
    "describe_paths",
    "start_analysis",
]

# The simulated internet (RFC 5737 TEST-NET-3) stands in for "somewhere beyond the gateway".
_INTERNET_ADDRESS = "203.0.113.10"
_ARN_KINDS = {
    "eni-": "network-interface",
    "sg-": "security-group",
    "acl-": "network-acl",
    "rtb-": "route-table",
    "igw-": "internet-gateway",
    "nat-": "natgateway",
    "vpce-": "vpc-endpoint",
    "subnet-": "subnet",
    "vpc-": "vpc",
    "pl-": "prefix-list",
}
_EXPLANATION_FIELDS = {
    "security-group": "SecurityGroup",
    "network-acl": "Acl",
    "route-table": "RouteTable",
    "internet-gateway": "InternetGateway",
    "nat-gateway": "NatGateway",
    "network-interface": "NetworkInterface",
    "subnet": "Subnet",
    "vpc": "Vpc",
    "vpc-endpoint": "VpcEndpoint",
}


def _arn(region: str, account_id: str, resource_id: str) -> str | None:
    for prefix, kind in _ARN_KINDS.items():
        if resource_id.startswith(prefix):
            return f"arn:aws:ec2:{region}:{account_id}:{kind}/{resource_id}"
    return None


def _component(region: str, account_id: str, resource_id: str) -> dict[str, str]:
    out = {"Id": resource_id}
    arn = _arn(region, account_id, resource_id)
    if arn:
        out["Arn"] = arn
    return out


def path_view(path: NetworkInsightsPath) -> dict[str, Any]:
    view: dict[str, Any] = {
        "NetworkInsightsPathId": path.id,
        "NetworkInsightsPathArn": f"arn:aws:ec2:{path.region}:{path.account_id}:network-insights-path/{path.id}",
        "CreatedDate": path.created,
        "Source": path.source,
        "Protocol": path.protocol,
        "Tags": list(path.tags),
    }
    arn = _arn(path.region, path.account_id, path.source)
    if arn:
        view["SourceArn"] = arn
    if path.destination:
        view["Destination"] = path.destination
        dest_arn = _arn(path.region, path.account_id, path.destination)
        if dest_arn:
            view["DestinationArn"] = dest_arn
    if path.source_ip:
        view["SourceIp"] = path.source_ip
    if path.destination_ip:
        view["DestinationIp"] = path.destination_ip
    if path.destination_port is not None:
        view["DestinationPort"] = path.destination_port
    return view


def analysis_view(analysis: NetworkInsightsAnalysis) -> dict[str, Any]:
    return {
        "NetworkInsightsAnalysisId": analysis.id,
        "NetworkInsightsAnalysisArn": (
            f"arn:aws:ec2:{analysis.region}:{analysis.account_id}:network-insights-analysis/{analysis.id}"
        ),
        "NetworkInsightsPathId": analysis.path_id,
        "StartDate": analysis.started,
        "Status": analysis.status,
        "Tags": list(analysis.tags),
        **analysis.result,
    }


_SUPPORTED = "Cove analyses paths from a network interface to a network interface, an internet gateway, a VPC endpoint or an IP address."


def create_path(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> NetworkInsightsPath:
    source = params["Source"]
    destination = params.get("Destination")
    if not source.startswith("eni-"):
        raise invalid_value(f"The source {source} is not supported. {_SUPPORTED}")
    if destination is None and not params.get("DestinationIp"):
        raise Ec2Error(
            "The request must contain the parameter Destination or DestinationIp", code="MissingParameter"
        )
    if destination is not None and not destination.startswith(("eni-", "igw-", "vpce-")):
        raise invalid_value(f"The destination {destination} is not supported. {_SUPPORTED}")
    token = params.get("ClientToken")
    if token:
        existing = session.scalars(
            select(NetworkInsightsPath).where(
                NetworkInsightsPath.account_id == account_id, NetworkInsightsPath.client_token == token
            )
        ).first()
        if existing is not None:
            return existing
    path = NetworkInsightsPath(
        id=new_id("nip"),
        account_id=account_id,
        region=region,
        source=source,
        destination=destination,
        source_ip=params.get("SourceIp"),
        destination_ip=params.get("DestinationIp"),
        protocol=params["Protocol"],
        destination_port=params.get("DestinationPort"),
        client_token=token,
        tags=tags_from_specifications(params.get("TagSpecifications"), "network-insights-path"),
    )
    session.add(path)
    session.flush()
    return path


def _get_path(session: Session, account_id: str, region: str, path_id: str) -> NetworkInsightsPath:
    path = session.get(NetworkInsightsPath, path_id)
    if path is None or path.account_id != account_id or path.region != region:
        raise Ec2Error(
            f"The network insights path ID '{path_id}' does not exist",
            code="InvalidNetworkInsightsPathId.NotFound",
        )
    return path


def _flow(network: nm.Network, path: NetworkInsightsPath) -> nm.Flow:
    destination = path.destination_ip or ""
    if path.destination and path.destination.startswith("eni-"):
        destination = path.destination
    elif path.destination and path.destination.startswith("vpce-"):
        endpoint = network.vpc_endpoints.get(path.destination)
        if endpoint is None:
            raise nm.FlowError(f"unknown VPC endpoint {path.destination}")
        destination = endpoint.service_name
    elif path.destination and path.destination.startswith("igw-"):
        destination = path.destination_ip or _INTERNET_ADDRESS
    return nm.Flow(path.source, destination, path.protocol, path.destination_port)


def _path_components(region: str, account_id: str, hops: tuple[nm.Hop, ...]) -> list[dict[str, Any]]:
    components = []
    for n, hop in enumerate(hops, 1):
        item: dict[str, Any] = {
            "SequenceNumber": n,
            "Component": _component(region, account_id, hop.component_id),
        }
        if hop.component_type == "security-group":
            rule: dict[str, Any] = {
                "SecurityGroupId": hop.component_id,
                "Direction": hop.direction or "egress",
            }
            item["SecurityGroupRule"] = rule
        elif hop.component_type == "network-acl" and hop.rule.isdigit():
            item["AclRule"] = {
                "RuleNumber": int(hop.rule),
                "Egress": hop.direction == "outbound",
                "RuleAction": "allow" if hop.action == "allow" else "deny",
            }
        elif hop.component_type == "route-table" and " -> " in hop.rule:
            destination, target = hop.rule.split(" -> ", 1)
            route: dict[str, Any] = {"State": "active"}
            route["DestinationPrefixListId" if destination.startswith("pl-") else "DestinationCidr"] = (
                destination
            )
            key = (
                "NatGatewayId"
                if target.startswith("nat-")
                else ("NetworkInterfaceId" if target.startswith("eni-") else "GatewayId")
            )
            route[key] = target
            item["RouteTableRoute"] = route
        if hop.component_type == "service":
            item["ServiceName"] = hop.component_id
        components.append(item)
    return components


def _explanations(region: str, account_id: str, blockers: tuple[nm.Blocker, ...]) -> list[dict[str, Any]]:
    out = []
    for blocker in blockers:
        item: dict[str, Any] = {
            "ExplanationCode": blocker.code.value,
            "Component": _component(region, account_id, blocker.component_id),
        }
        if blocker.direction:
            item["Direction"] = "ingress" if blocker.direction in ("ingress", "inbound") else "egress"
        typed = _EXPLANATION_FIELDS.get(blocker.component_type)
        if typed:
            item[typed] = _component(region, account_id, blocker.component_id)
        out.append(item)
    return out


def start_analysis(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> NetworkInsightsAnalysis:
    path = _get_path(session, account_id, region, params["NetworkInsightsPathId"])
    network = load_network(session, account_id, region)
    try:
        verdict = nm.evaluate(network, _flow(network, path))
        status = "succeeded"
        result: dict[str, Any] = {
            "NetworkPathFound": verdict.allowed,
            "ForwardPathComponents": _path_components(region, account_id, verdict.path),
            "ReturnPathComponents": _path_components(region, account_id, verdict.return_path)
            if verdict.allowed
            else [],
            "Explanations": _explanations(region, account_id, verdict.blockers),
        }
    except nm.FlowError as exc:
        status = "failed"
        result = {"StatusMessage": str(exc)}
    analysis = NetworkInsightsAnalysis(
        id=new_id("nia"),
        path_id=path.id,
        account_id=account_id,
        region=region,
        status=status,
        result=result,
        client_token=params.get("ClientToken"),
        tags=tags_from_specifications(params.get("TagSpecifications"), "network-insights-analysis"),
    )
    session.add(analysis)
    session.flush()
    return analysis


_PATH_FILTERS: FilterSpec = {
    "destination": field("Destination"),
    "destination-ip": field("DestinationIp"),
    "destination-port": field("DestinationPort"),
    "protocol": field("Protocol"),
    "source": field("Source"),
    "source-ip": field("SourceIp"),
}
_ANALYSIS_FILTERS: FilterSpec = {
    "path-found": field("NetworkPathFound"),
    "status": field("Status"),
}


def describe_paths(session: Session, account_id: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
    rows = session.scalars(
        select(NetworkInsightsPath)
        .where(NetworkInsightsPath.account_id == account_id, NetworkInsightsPath.region == region)
        .order_by(NetworkInsightsPath.created, NetworkInsightsPath.id)
    )
    wanted = params.get("NetworkInsightsPathIds")
    views = [path_view(p) for p in rows if not wanted or p.id in wanted]
    if wanted:
        missing = sorted(set(wanted) - {v["NetworkInsightsPathId"] for v in views})
        if missing:
            raise Ec2Error(
                f"The network insights path ID '{missing[0]}' does not exist",
                code="InvalidNetworkInsightsPathId.NotFound",
            )
    filtered = apply_filters(views, params.get("Filters"), _PATH_FILTERS)
    page, more = paginate(filtered, params.get("MaxResults"), params.get("NextToken"))
    return {"NetworkInsightsPaths": page, **more}


def describe_analyses(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    query = select(NetworkInsightsAnalysis).where(
        NetworkInsightsAnalysis.account_id == account_id, NetworkInsightsAnalysis.region == region
    )
    if params.get("NetworkInsightsPathId"):
        query = query.where(NetworkInsightsAnalysis.path_id == params["NetworkInsightsPathId"])
    wanted = params.get("NetworkInsightsAnalysisIds")
    rows = session.scalars(query.order_by(NetworkInsightsAnalysis.started, NetworkInsightsAnalysis.id))
    views = [analysis_view(a) for a in rows if not wanted or a.id in wanted]
    if wanted:
        missing = sorted(set(wanted) - {v["NetworkInsightsAnalysisId"] for v in views})
        if missing:
            raise Ec2Error(
                f"The network insights analysis ID '{missing[0]}' does not exist",
                code="InvalidNetworkInsightsAnalysisId.NotFound",
            )
    filtered = apply_filters(views, params.get("Filters"), _ANALYSIS_FILTERS)
    page, more = paginate(filtered, params.get("MaxResults"), params.get("NextToken"))
    return {"NetworkInsightsAnalyses": page, **more}


def delete_path(session: Session, account_id: str, region: str, path_id: str) -> None:
    path = _get_path(session, account_id, region, path_id)
    if session.scalars(
        select(NetworkInsightsAnalysis.id).where(NetworkInsightsAnalysis.path_id == path.id)
    ).first():
        raise Ec2Error(
            f"The network insights path {path_id} has analyses; delete them first.",
            code="DependencyViolation",
        )
    session.delete(path)


def delete_analysis(session: Session, account_id: str, region: str, analysis_id: str) -> None:
    analysis = session.get(NetworkInsightsAnalysis, analysis_id)
    if analysis is None or analysis.account_id != account_id or analysis.region != region:
        raise Ec2Error(
            f"The network insights analysis ID '{analysis_id}' does not exist",
            code="InvalidNetworkInsightsAnalysisId.NotFound",
        )
    session.delete(analysis)
