"""EC2 accepts enum values in any letter case (moto-era scripts send RuleAction="ALLOW"); the json
services do not."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cove.server import EmbeddedServer
from tests.conftest import ClientFactory


def test_ec2_accepts_enum_values_in_other_case(client: ClientFactory) -> None:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(
        NetworkAclId=acl,
        RuleNumber=110,
        Protocol="6",
        RuleAction="ALLOW",
        Egress=False,
        CidrBlock="10.0.0.0/8",
        PortRange={"From": 443, "To": 443},
    )
    entries = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0]["Entries"]
    assert any(e["RuleNumber"] == 110 and e["RuleAction"] == "allow" for e in entries)
    with pytest.raises(ClientError) as exc:
        ec2.create_network_acl_entry(
            NetworkAclId=acl,
            RuleNumber=111,
            Protocol="6",
            RuleAction="maybe",
            Egress=False,
            CidrBlock="10.0.0.0/8",
            PortRange={"From": 443, "To": 443},
        )
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_json_services_keep_enums_strict(cove_server: EmbeddedServer) -> None:
    account = cove_server.cove.account
    session = boto3.Session(account.access_key_id, account.secret_access_key, region_name="us-east-1")
    kms = session.client(  # type: ignore[call-overload]
        "kms", endpoint_url=cove_server.endpoint_url, config=Config(parameter_validation=False)
    )
    with pytest.raises(ClientError) as exc:
        kms.create_key(KeySpec="symmetric_default")
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    assert "enum value set" in exc.value.response["Error"]["Message"]
