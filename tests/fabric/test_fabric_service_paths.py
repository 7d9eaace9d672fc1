"""S3 from inside a VPC, for real: boto3 runs in ENI namespaces (root without CAP_NET_ADMIN) and
reaches Cove's S3 only along the paths the VPC has — through a gateway endpoint (whose listener
supplies aws:SourceVpce, so the endpoint policy and an endpoint-only bucket policy are enforced),
through a NAT gateway (the request carries the NAT's Elastic IP as aws:SourceIp and no VPC keys),
or not at all."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cove.fabric import netns
from cove.listeners import INTERNET_HOST_BODY
from cove.server import EmbeddedServer, free_port
from cove.settings import Settings
from tests.conftest import make_client
from tests.fabric.fabric_support import fabric_available

pytestmark = [pytest.mark.root, pytest.mark.skipif(not fabric_available(), reason="needs root and netns")]

S3_ADDRESS = "198.18.16.10"  # inside the AWS-managed S3 prefix list's block

_CLIENT = r"""
import json, sys, urllib.request
import boto3
from botocore.config import Config
args = json.loads(sys.argv[1])
out = {}
s3 = boto3.client("s3", endpoint_url="http://%s" % args["s3"], region_name="us-east-1",
                  aws_access_key_id=args["key"], aws_secret_access_key=args["secret"],
                  config=Config(s3={"addressing_style": "path"}, connect_timeout=1.5, read_timeout=5,
                                retries={"max_attempts": 1}))
for bucket in args["buckets"]:
    try:
        out[bucket] = s3.get_object(Bucket=bucket, Key="data.txt")["Body"].read().decode()
    except s3.exceptions.ClientError as exc:
        out[bucket] = "%s: %s" % (exc.response["Error"]["Code"], exc.response["Error"]["Message"])
    except Exception as exc:
        out[bucket] = type(exc).__name__
try:
    out["internet"] = urllib.request.urlopen("http://203.0.113.7/", timeout=1.5).read().decode()
except Exception as exc:
    out["internet"] = type(exc).__name__
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    state = tmp_path_factory.mktemp("fabric-paths")
    server = EmbeddedServer(Settings(state_dir=state, port=free_port(), fabric="on")).start()
    try:
        yield server
    finally:
        server.stop()
        assert server.cove.kernel is not None
        server.cove.kernel.fabric.teardown()
        assert server.cove.kernel.fabric.owned() == []


def _wait(server: EmbeddedServer) -> None:
    assert server.cove.kernel is not None and server.cove.kernel.wait_applied(10.0)


def _build(ec2: Any, s3: Any) -> dict[str, Any]:
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = {
        name: ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"]
        for name, cidr in (
            ("public", "10.30.0.0/24"),
            ("endpoint", "10.30.1.0/24"),
            ("nat", "10.30.2.0/24"),
            ("none", "10.30.3.0/24"),
        )
    }
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    tables = {}
    for name in ("public", "endpoint", "nat"):
        tables[name] = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=tables[name], SubnetId=subnets[name])
    ec2.create_route(RouteTableId=tables["public"], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    allocation = ec2.allocate_address(Domain="vpc")
    nat = ec2.create_nat_gateway(SubnetId=subnets["public"], AllocationId=allocation["AllocationId"])
    nat_id = nat["NatGateway"]["NatGatewayId"]
    for _ in range(100):
        state = ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"][0]["State"]
        if state == "available":
            break
        time.sleep(0.1)
    ec2.create_route(RouteTableId=tables["nat"], DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat_id)
    endpoint_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
            {
                "Sid": "NoBlockedBucket",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::blocked-bucket", "arn:aws:s3:::blocked-bucket/*"],
            },
        ],
    }
    vpce = ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName="com.amazonaws.us-east-1.s3",
        VpcEndpointType="Gateway",
        RouteTableIds=[tables["endpoint"]],
        PolicyDocument=json.dumps(endpoint_policy),
    )["VpcEndpoint"]["VpcEndpointId"]
    eip = allocation["PublicIp"]
    policies = {
        "vpce-only": {
            "Sid": "OnlyThroughTheEndpoint",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::vpce-only", "arn:aws:s3:::vpce-only/*"],
            "Condition": {"StringNotEquals": {"aws:SourceVpce": vpce}},
        },
        "nat-only": {
            "Sid": "OnlyFromTheNat",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::nat-only", "arn:aws:s3:::nat-only/*"],
            "Condition": {"NotIpAddress": {"aws:SourceIp": f"{eip}/32"}},
        },
    }
    for bucket in ("vpce-only", "nat-only", "blocked-bucket"):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="data.txt", Body=f"contents of {bucket}".encode())
        if bucket in policies:
            s3.put_bucket_policy(
                Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [policies[bucket]]})
            )
    enis = {
        name: ec2.create_network_interface(SubnetId=subnets[name])["NetworkInterface"]["NetworkInterfaceId"]
        for name in ("endpoint", "nat", "none")
    }
    return {"vpc": vpc, "vpce": vpce, "enis": enis, "eip": eip}


def _from_eni(server: EmbeddedServer, eni_id: str) -> dict[str, str]:
    assert server.cove.kernel is not None
    namespace = server.cove.kernel.fabric.names.eni(eni_id)
    account = server.cove.account
    args = {
        "s3": S3_ADDRESS,
        "key": account.access_key_id,
        "secret": account.secret_access_key,
        "buckets": ["vpce-only", "nat-only", "blocked-bucket"],
    }
    done = subprocess.run(
        netns.unprivileged(namespace, [sys.executable, "-c", _CLIENT, json.dumps(args)]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout)
    return result


def test_s3_reachable_only_along_the_vpc_paths_with_policies_enforced(server: EmbeddedServer) -> None:
    ec2, s3 = make_client(server, "ec2"), make_client(server, "s3")
    world = _build(ec2, s3)
    _wait(server)

    via_endpoint = _from_eni(server, world["enis"]["endpoint"])
    assert via_endpoint["vpce-only"] == "contents of vpce-only"
    assert via_endpoint["nat-only"].startswith("AccessDenied")
    assert via_endpoint["blocked-bucket"].startswith("AccessDenied")
    assert "explicit deny in a VPC endpoint policy" in via_endpoint["blocked-bucket"]
    assert via_endpoint["internet"] != INTERNET_HOST_BODY.decode(), "no NAT on this subnet"

    via_nat = _from_eni(server, world["enis"]["nat"])
    assert via_nat["nat-only"] == "contents of nat-only"
    assert via_nat["blocked-bucket"] == "contents of blocked-bucket", "no endpoint policy on the NAT path"
    assert via_nat["vpce-only"].startswith("AccessDenied")
    assert "explicit deny in a resource-based policy" in via_nat["vpce-only"]
    assert via_nat["internet"] == INTERNET_HOST_BODY.decode()

    isolated = _from_eni(server, world["enis"]["none"])
    assert all(value in ("ConnectTimeoutError", "URLError", "TimeoutError") for value in isolated.values()), (
        isolated
    )

    # From the host (loopback, "the internet" without the EIP) both restricted buckets refuse.
    for bucket in ("vpce-only", "nat-only"):
        with pytest.raises(s3.exceptions.ClientError) as denied:
            s3.get_object(Bucket=bucket, Key="data.txt")
        assert denied.value.response["Error"]["Code"] == "AccessDenied"


_RESOLVE = r"""
import json, sys
from dnslib import DNSRecord, RCODE
out = {}
for name in sys.argv[2:]:
    try:
        reply = DNSRecord.parse(DNSRecord.question(name).send(sys.argv[1], 53, timeout=2))
        out[name] = [str(r.rdata) for r in reply.rr] or RCODE[reply.header.rcode]
    except Exception as exc:
        out[name] = type(exc).__name__
print(json.dumps(out))
"""


def test_the_vpc_resolver_answers_inside_the_vpc(server: EmbeddedServer) -> None:
    ec2 = make_client(server, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.31.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.31.1.0/24")["Subnet"]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]
    _wait(server)
    assert server.cove.kernel is not None
    namespace = server.cove.kernel.fabric.names.eni(eni["NetworkInterfaceId"])
    names = [
        "s3.us-east-1.amazonaws.com",
        "my-bucket.s3.us-east-1.amazonaws.com",
        eni["PrivateDnsName"],
        "nowhere.example",
    ]

    def ask(resolver: str) -> dict[str, object]:
        done = subprocess.run(
            netns.unprivileged(namespace, [sys.executable, "-c", _RESOLVE, resolver, *names]),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        answers: dict[str, object] = json.loads(done.stdout)
        return answers

    for resolver in ("10.31.0.2", "169.254.169.253"):
        answers = ask(resolver)
        assert answers["s3.us-east-1.amazonaws.com"] == [S3_ADDRESS]
        assert answers["my-bucket.s3.us-east-1.amazonaws.com"] == [S3_ADDRESS]
        assert answers[eni["PrivateDnsName"]] == [eni["PrivateIpAddress"]]
        assert answers["nowhere.example"] == "NXDOMAIN"

    # enableDnsSupport off: no Amazon DNS server in the VPC any more.
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": False})
    _wait(server)
    assert ask("10.31.0.2")["s3.us-east-1.amazonaws.com"] in ("TimeoutError", "timeout", "error")
