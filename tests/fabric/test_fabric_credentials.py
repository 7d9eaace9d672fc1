"""The credentials endpoint at 169.254.170.2: boto3 inside an ENI bound to a role finds that role's
temporary credentials with nothing but AWS_CONTAINER_CREDENTIALS_FULL_URI; another ENI presenting
the same URI is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from cove.fabric import netns
from cove.server import EmbeddedServer, free_port
from cove.settings import Settings
from tests.conftest import make_client
from tests.fabric.fabric_support import fabric_available

pytestmark = [pytest.mark.root, pytest.mark.skipif(not fabric_available(), reason="needs root and netns")]

_FETCH = r"""
import json, botocore.session
creds = botocore.session.get_session().get_credentials()
print(json.dumps(None if creds is None else [creds.access_key, creds.secret_key, creds.token]))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    state = tmp_path_factory.mktemp("fabric-credentials")
    server = EmbeddedServer(Settings(state_dir=state, port=free_port(), fabric="on")).start()
    try:
        yield server
    finally:
        server.stop()
        assert server.cove.kernel is not None
        server.cove.kernel.fabric.teardown()


def _fetch(namespace: str, uri: str) -> object:
    env = {
        "PATH": os.environ["PATH"],
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": uri,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done = subprocess.run(
        netns.unprivileged(namespace, [sys.executable, "-c", _FETCH]),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if done.returncode != 0:
        return "failed: " + done.stderr.strip().splitlines()[-1]
    return json.loads(done.stdout)


def test_boto3_inside_an_eni_gets_the_bound_roles_credentials(server: EmbeddedServer) -> None:
    ec2, iam = make_client(server, "ec2"), make_client(server, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_arn = iam.create_role(RoleName="job-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    vpc = ec2.create_vpc(CidrBlock="10.70.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.70.1.0/24")["Subnet"]["SubnetId"]
    job, other = (ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"] for _ in range(2))
    assert server.cove.kernel is not None and server.cove.kernel.wait_applied(10.0)
    store = server.cove.container_credentials
    assert store is not None
    token = store.bind(job["NetworkInterfaceId"], (job["PrivateIpAddress"],), role_arn, "training-job")
    names = server.cove.kernel.fabric.names

    found = _fetch(names.eni(job["NetworkInterfaceId"]), store.uri(token))
    assert isinstance(found, list), found
    key, secret, session_token = found
    sts = make_client(
        server, "sts", aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=session_token
    )
    caller = sts.get_caller_identity()
    assert (
        caller["Arn"] == f"arn:aws:sts::{server.cove.account.account_id}:assumed-role/job-role/training-job"
    )

    stolen = _fetch(names.eni(other["NetworkInterfaceId"]), store.uri(token))
    assert stolen is None or str(stolen).startswith("failed"), stolen
