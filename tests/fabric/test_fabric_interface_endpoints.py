"""Interface endpoints for real: Cove's services answer HTTPS (Cove's CA) on the endpoint's ENIs,
behind the endpoint's security groups, and requests through them carry aws:SourceVpce — a KMS key
policy that admits only the endpoint works from inside the VPC and refuses the host."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from cove.fabric import netns
from cove.server import EmbeddedServer, free_port
from cove.settings import Settings
from tests.conftest import make_client
from tests.fabric.fabric_support import fabric_available

pytestmark = [pytest.mark.root, pytest.mark.skipif(not fabric_available(), reason="needs root and netns")]

_CLIENT = r"""
import json, sys
import boto3
from botocore.config import Config
a = json.loads(sys.argv[1])
out = {}
def client(name, address):
    return boto3.client(name, endpoint_url="https://" + address, region_name="us-east-1", verify=a["ca"],
                        aws_access_key_id=a["key"], aws_secret_access_key=a["secret"],
                        config=Config(connect_timeout=1.5, read_timeout=5, retries={"max_attempts": 1}))
try:
    out["sts"] = client("sts", a["sts"]).get_caller_identity()["Account"]
except Exception as exc:
    out["sts"] = type(exc).__name__
try:
    blob = client("kms", a["kms"]).encrypt(KeyId=a["key_id"], Plaintext=b"secret")["CiphertextBlob"]
    out["kms"] = "encrypted %d bytes" % len(blob)
except Exception as exc:
    out["kms"] = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    state = tmp_path_factory.mktemp("fabric-interface")
    server = EmbeddedServer(Settings(state_dir=state, port=free_port(), fabric="on")).start()
    try:
        yield server
    finally:
        server.stop()
        assert server.cove.kernel is not None
        server.cove.kernel.fabric.teardown()


def _endpoint_address(ec2: Any, vpce: str) -> str:
    eni = ec2.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"][0]["NetworkInterfaceIds"][0]
    return str(
        ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]["PrivateIpAddress"]
    )


def test_services_over_https_on_interface_endpoints(server: EmbeddedServer) -> None:
    ec2, kms = make_client(server, "ec2"), make_client(server, "kms")
    account = server.cove.account
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    inside = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.1.0/24")["Subnet"]["SubnetId"]
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.2.0/24")["Subnet"]["SubnetId"]
    guard = ec2.create_security_group(GroupName="endpoints", Description="e", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=guard,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.60.1.0/24"}]}
        ],
    )
    endpoints = {
        name: ec2.create_vpc_endpoint(
            VpcId=vpc,
            ServiceName=f"com.amazonaws.us-east-1.{name}",
            VpcEndpointType="Interface",
            SubnetIds=[inside],
            SecurityGroupIds=[guard],
        )["VpcEndpoint"]["VpcEndpointId"]
        for name in ("sts", "kms")
    }
    key_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Admin",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account.account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "UseOnlyThroughTheEndpoint",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["kms:Encrypt", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:SourceVpce": endpoints["kms"]}},
            },
        ],
    }
    key_id = kms.create_key(Policy=json.dumps(key_policy))["KeyMetadata"]["KeyId"]
    with pytest.raises(kms.exceptions.ClientError) as refused:
        kms.encrypt(KeyId=key_id, Plaintext=b"secret")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"

    clients = {
        where: ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
        for where, subnet in (("inside", inside), ("other", other))
    }
    assert server.cove.kernel is not None and server.cove.kernel.wait_applied(10.0)
    args = {
        "sts": _endpoint_address(ec2, endpoints["sts"]),
        "kms": _endpoint_address(ec2, endpoints["kms"]),
        "ca": str(server.cove.settings.state_dir / "ca" / "ca.pem"),
        "key": account.access_key_id,
        "secret": account.secret_access_key,
        "key_id": key_id,
    }

    def run(where: str) -> dict[str, str]:
        namespace = server.cove.kernel.fabric.names.eni(clients[where])  # type: ignore[union-attr]
        done = subprocess.run(
            netns.unprivileged(namespace, [sys.executable, "-c", _CLIENT, json.dumps(args)]),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        result: dict[str, str] = json.loads(done.stdout)
        return result

    inside_result = run("inside")
    assert inside_result["sts"] == account.account_id, inside_result
    assert inside_result["kms"].startswith("encrypted "), inside_result
    # The endpoint's security group admits only the first subnet.
    assert run("other") == {"sts": "ConnectTimeoutError", "kms": "ConnectTimeoutError"}
