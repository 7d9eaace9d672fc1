"""Reachability Analyzer's API: paths and analyses evaluated by the network model."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from tests.conftest import ClientFactory


@pytest.fixture(scope="module")
def topo(client: ClientFactory) -> dict[str, str]:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.50.1.0/24")["Subnet"]["SubnetId"]
    web = ec2.create_security_group(GroupName="web", Description="https", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web, IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp="10.50.0.0/16"
    )
    client_eni = ec2.create_network_interface(SubnetId=a)["NetworkInterface"]["NetworkInterfaceId"]
    server_eni = ec2.create_network_interface(SubnetId=a, Groups=[web])["NetworkInterface"][
        "NetworkInterfaceId"
    ]
    return {"vpc": vpc, "client": client_eni, "server": server_eni, "web": web}


def test_path_found(client: ClientFactory, topo: dict[str, str]) -> None:
    ec2 = client("ec2")
    path = ec2.create_network_insights_path(
        Source=topo["client"], Destination=topo["server"], Protocol="tcp", DestinationPort=443
    )["NetworkInsightsPath"]
    assert path["NetworkInsightsPathId"].startswith("nip-") and path["SourceArn"].endswith(topo["client"])
    analysis = ec2.start_network_insights_analysis(NetworkInsightsPathId=path["NetworkInsightsPathId"])[
        "NetworkInsightsAnalysis"
    ]
    assert analysis["Status"] == "succeeded" and analysis["NetworkPathFound"] is True
    components = [c["Component"]["Id"] for c in analysis["ForwardPathComponents"]]
    assert components[0] == topo["client"] and topo["web"] in components
    listed = ec2.describe_network_insights_analyses(NetworkInsightsPathId=path["NetworkInsightsPathId"])
    assert [a["NetworkInsightsAnalysisId"] for a in listed["NetworkInsightsAnalyses"]] == [
        analysis["NetworkInsightsAnalysisId"]
    ]


def test_blocked_path_explains_every_blocker(client: ClientFactory, topo: dict[str, str]) -> None:
    ec2 = client("ec2")
    path_id = ec2.create_network_insights_path(
        Source=topo["client"], Destination=topo["server"], Protocol="tcp", DestinationPort=22
    )["NetworkInsightsPath"]["NetworkInsightsPathId"]
    analysis = ec2.start_network_insights_analysis(NetworkInsightsPathId=path_id)["NetworkInsightsAnalysis"]
    assert analysis["NetworkPathFound"] is False
    [explanation] = analysis["Explanations"]
    assert explanation["ExplanationCode"] == "ENI_SG_RULES_MISMATCH"
    assert explanation["SecurityGroup"]["Id"] == topo["web"] and explanation["Direction"] == "ingress"
    found = ec2.describe_network_insights_analyses(Filters=[{"Name": "path-found", "Values": ["false"]}])
    assert path_id in {a["NetworkInsightsPathId"] for a in found["NetworkInsightsAnalyses"]}


def test_internet_destination_without_gateway(client: ClientFactory, topo: dict[str, str]) -> None:
    ec2 = client("ec2")
    path_id = ec2.create_network_insights_path(
        Source=topo["client"], DestinationIp="203.0.113.7", Protocol="tcp", DestinationPort=443
    )["NetworkInsightsPath"]["NetworkInsightsPathId"]
    analysis = ec2.start_network_insights_analysis(NetworkInsightsPathId=path_id)["NetworkInsightsAnalysis"]
    assert "NO_ROUTE_TO_DESTINATION" in [e["ExplanationCode"] for e in analysis["Explanations"]]


def test_errors(client: ClientFactory, topo: dict[str, str]) -> None:
    ec2 = client("ec2")
    with pytest.raises(ClientError) as exc:
        ec2.start_network_insights_analysis(NetworkInsightsPathId="nip-0123456789abcdef0")
    assert exc.value.response["Error"]["Code"] == "InvalidNetworkInsightsPathId.NotFound"
    with pytest.raises(ClientError) as exc:
        ec2.create_network_insights_path(Source=topo["vpc"], Destination=topo["server"], Protocol="tcp")
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValue"
    path_id = ec2.create_network_insights_path(
        Source=topo["client"], Destination=topo["server"], Protocol="tcp", DestinationPort=1
    )["NetworkInsightsPath"]["NetworkInsightsPathId"]
    analysis_id = ec2.start_network_insights_analysis(NetworkInsightsPathId=path_id)[
        "NetworkInsightsAnalysis"
    ]["NetworkInsightsAnalysisId"]
    with pytest.raises(ClientError) as exc:
        ec2.delete_network_insights_path(NetworkInsightsPathId=path_id)
    assert exc.value.response["Error"]["Code"] == "DependencyViolation"
    ec2.delete_network_insights_analysis(NetworkInsightsAnalysisId=analysis_id)
    ec2.delete_network_insights_path(NetworkInsightsPathId=path_id)
    assert path_id not in {
        p["NetworkInsightsPathId"] for p in ec2.describe_network_insights_paths()["NetworkInsightsPaths"]
    }
