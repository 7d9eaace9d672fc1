"""Scenario: the private VPC of the SageMaker VPC guides, then what `cove explain` says about it.

Private subnets, an S3 gateway endpoint whose policy admits only the training bucket and denies the
package repositories, a security group that references itself for distributed training, and one
subnet left without the endpoint route. Everything made here is deleted at the end.
"""

from __future__ import annotations

import json
from typing import Any

from cove.app import Cove
from cove.fabric.probe import Agent, Probe
from cove.scenario.inside import s3_get_inside
from cove.scenario.steps import Clients, Steps
from cove.services.ec2.explain import explain
from cove.services.sagemaker.preflight import vpc_preflight

__all__ = ["ENDPOINT_POLICY", "network_steps"]

# SageMaker's managed policy grants S3 object access only to buckets named like *sagemaker*.
BUCKET = "sagemaker-cove-scenario-data"
REPO_BUCKET = "packages.us-east-1.amazonaws.com"
ENDPOINT_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "TrainingData",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        },
        {
            "Sid": "AmazonLinuxAMIRepositoryAccess",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["s3:GetObject"],
            "Resource": ["arn:aws:s3:::packages.*.amazonaws.com/*", "arn:aws:s3:::repo.*.amazonaws.com/*"],
        },
    ],
}


def network_steps(steps: Steps, client: Clients, cove: Cove, role_arn: str) -> None:
    ec2 = client("ec2")
    region = cove.settings.region
    made: dict[str, Any] = {}
    try:
        _build(ec2, made)
        steps.check(
            "private VPC",
            True,
            f"{made['vpc']}: subnets {made['a']} {made['b']} (endpoint route) and {made['c']} (none), "
            f"gateway endpoint {made['vpce']}, self-referencing group {made['sg']}",
        )
        with cove.db.read() as session:

            def ask(source: str, destination: str, port: int | None = None) -> Any:
                return explain(
                    session,
                    account_id=cove.account.account_id,
                    region=region,
                    source=source,
                    destination=destination,
                    port=port,
                    principal_arn=role_arn,
                )

            ok = ask(made["eni_a"], f"s3://{BUCKET}/train.csv")
            steps.check(
                "explain: training data through the endpoint",
                ok.allowed and ok.policies[-1].statements == ("TrainingData",),
                f"{ok.to_dict()['decision']}, endpoint policy statement {ok.policies[-1].statements}",
            )
            repo = ask(made["eni_a"], "s3://packages.us-east-1.amazonaws.com/kernel.rpm")
            steps.check(
                "explain: package repositories denied by the endpoint policy",
                not repo.allowed and repo.authorization == "explicitDeny",
                repo.denial or "",
            )
            peers = ask(made["eni_a"], made["eni_b"], 29500)
            steps.check(
                "explain: training peers reach each other",
                peers.allowed,
                "tcp/29500 allowed by the self rule",
            )
            cut = ask(made["c"], f"s3://{BUCKET}/train.csv")
            codes = [b.code.value for b in cut.verdict.blockers]
            steps.check(
                "explain: subnet without the endpoint route",
                codes == ["NO_ROUTE_TO_DESTINATION"],
                ", ".join(codes),
            )
            preflight = vpc_preflight(
                session,
                account_id=cove.account.account_id,
                region=region,
                subnets=[made["a"], made["c"]],
                security_group_ids=[made["sg"]],
                instance_type="ml.m5.xlarge",
                instance_count=2,
            )
            warned = [f.code for f in preflight.warnings]
            steps.check(
                "pre-flight warns about the subnet without S3", warned == ["NoPathToS3"], ", ".join(warned)
            )
        _enforced(steps, client, cove, made)
        path = ec2.create_network_insights_path(
            Source=made["eni_a"], Destination=made["eni_b"], Protocol="tcp", DestinationPort=22
        )["NetworkInsightsPath"]["NetworkInsightsPathId"]
        made["nip"] = path
        analysis = ec2.start_network_insights_analysis(NetworkInsightsPathId=path)["NetworkInsightsAnalysis"]
        made["nia"] = analysis["NetworkInsightsAnalysisId"]
        steps.check(
            "Reachability Analyzer API",
            analysis["NetworkPathFound"] is True,
            f"{analysis['NetworkInsightsAnalysisId']}: path found, {len(analysis['ForwardPathComponents'])} components",
        )
    finally:
        _tear_down(ec2, made)


def _enforced(steps: Steps, client: Clients, cove: Cove, made: dict[str, Any]) -> None:
    """The same VPC in the kernel: packets and boto3 from inside the ENIs agree with explain."""
    if cove.kernel is None:
        steps.check(
            "kernel enforcement", True, "skipped: the fabric is off here (needs root; see cove doctor)"
        )
        return
    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="train.csv", Body=b"label,feature\n1,0.5\n")
    s3.create_bucket(Bucket=REPO_BUCKET)
    s3.put_object(Bucket=REPO_BUCKET, Key="kernel.rpm", Body=b"not a real package")
    try:
        _probe_inside(steps, client, cove, made)
    finally:
        for bucket, key in ((BUCKET, "train.csv"), (REPO_BUCKET, "kernel.rpm")):
            s3.delete_object(Bucket=bucket, Key=key)
            s3.delete_bucket(Bucket=bucket)


def _probe_inside(steps: Steps, client: Clients, cove: Cove, made: dict[str, Any]) -> None:
    assert cove.kernel is not None
    steps.check(
        "kernel caught up with the API", cove.kernel.wait_applied(10.0), "namespaces, routes, nftables"
    )
    names = cove.kernel.fabric.names
    creds = (cove.account.access_key_id, cove.account.secret_access_key)
    data = s3_get_inside(names.eni(made["eni_a"]), creds, BUCKET, "train.csv")
    steps.check("boto3 in a private ENI reads training data via the endpoint", "ok" in data, str(data)[:120])
    repo = s3_get_inside(names.eni(made["eni_a"]), creds, REPO_BUCKET, "kernel.rpm")
    steps.check(
        "the endpoint policy's Deny, enforced",
        repo.get("error") == "AccessDenied" and "VPC endpoint policy" in repo.get("message", ""),
        repo.get("message", str(repo))[:160],
    )
    cut = s3_get_inside(names.eni(made["eni_c"]), creds, BUCKET, "train.csv")
    steps.check(
        "no endpoint route, no path", cut.get("error") == "ConnectTimeoutError", cut.get("error", str(cut))
    )
    b_address = ec2_address(client("ec2"), made["eni_b"])
    with Agent(names.eni(made["eni_b"])) as peer, Agent(names.eni(made["eni_a"])) as prober:
        peer.serve(tcp=[29500])
        seen = prober.probe([Probe("peers", "tcp", b_address, 29500)])
    steps.check(
        "training peers connect (self-referencing rule)",
        seen["peers"] == "open",
        f"tcp/29500 {seen['peers']}",
    )


def ec2_address(ec2: Any, eni_id: str) -> str:
    found = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
    return str(found["PrivateIpAddress"])


def _build(ec2: Any, made: dict[str, Any]) -> None:
    made["vpc"] = vpc = ec2.create_vpc(
        CidrBlock="10.0.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "cove-scenario"}]}],
    )["Vpc"]["VpcId"]
    for name, cidr, zone in (
        ("a", "10.0.1.0/24", "us-east-1a"),
        ("b", "10.0.2.0/24", "us-east-1b"),
        ("c", "10.0.3.0/24", "us-east-1c"),
    ):
        made[name] = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
    made["rtb"] = rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    made["assoc"] = [
        ec2.associate_route_table(RouteTableId=rtb, SubnetId=made[s])["AssociationId"] for s in ("a", "b")
    ]
    made["vpce"] = ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName="com.amazonaws.us-east-1.s3",
        VpcEndpointType="Gateway",
        RouteTableIds=[rtb],
        PolicyDocument=json.dumps(ENDPOINT_POLICY),
    )["VpcEndpoint"]["VpcEndpointId"]
    made["sg"] = sg = ec2.create_security_group(
        GroupName="training", Description="training peers", VpcId=vpc
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": sg}]}]
    )
    for name, subnet in (("eni_a", "a"), ("eni_b", "b"), ("eni_c", "c")):
        made[name] = ec2.create_network_interface(
            SubnetId=made[subnet], Groups=[sg], Description="training instance"
        )["NetworkInterface"]["NetworkInterfaceId"]


def _tear_down(ec2: Any, made: dict[str, Any]) -> None:
    if "nia" in made:
        ec2.delete_network_insights_analysis(NetworkInsightsAnalysisId=made["nia"])
    if "nip" in made:
        ec2.delete_network_insights_path(NetworkInsightsPathId=made["nip"])
    for name in ("eni_a", "eni_b", "eni_c"):
        if name in made:
            ec2.delete_network_interface(NetworkInterfaceId=made[name])
    if "vpce" in made:
        ec2.delete_vpc_endpoints(VpcEndpointIds=[made["vpce"]])
    if "sg" in made:
        ec2.delete_security_group(GroupId=made["sg"])
    for assoc in made.get("assoc", []):
        ec2.disassociate_route_table(AssociationId=assoc)
    if "rtb" in made:
        ec2.delete_route_table(RouteTableId=made["rtb"])
    for name in ("a", "b", "c"):
        if name in made:
            ec2.delete_subnet(SubnetId=made[name])
    if "vpc" in made:
        ec2.delete_vpc(VpcId=made["vpc"])
