"""Security groups through boto3 against the live server."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.conftest import ClientFactory

from cove.server import EmbeddedServer
from cove.services.ec2 import security_groups, vpcs


def make_vpc(cove_server: EmbeddedServer, ec2: Any, cidr: str = "10.20.0.0/16") -> str:
    """A VPC through CreateVpc, or through the topology service while CreateVpc is not wired yet."""
    try:
        return str(ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"])
    except ClientError as error:
        if error.response["Error"]["Code"] != "NotImplemented":
            raise
    with cove_server.cove.db.session() as s:
        return vpcs.create_vpc(s, cove_server.cove.account.account_id, "us-east-1", {"CidrBlock": cidr}).id


def code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def message(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Message"])


@pytest.fixture
def ec2(client: ClientFactory) -> Any:
    return client("ec2")


@pytest.fixture
def vpc_id(cove_server: EmbeddedServer, ec2: Any) -> str:
    return make_vpc(cove_server, ec2)


def new_group(ec2: Any, vpc_id: str, **extra: Any) -> str:
    name = f"g-{uuid.uuid4().hex[:8]}"
    return str(
        ec2.create_security_group(GroupName=name, Description="test group", VpcId=vpc_id, **extra)["GroupId"]
    )


def describe(ec2: Any, group_id: str) -> dict[str, Any]:
    groups = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    assert len(groups) == 1
    return dict(groups[0])


def test_default_group_of_a_vpc(ec2: Any, vpc_id: str) -> None:
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    assert [g["GroupName"] for g in groups] == ["default"]
    group = groups[0]
    assert group["Description"] == "default VPC security group"
    assert group["IpPermissions"] == [
        {
            "IpProtocol": "-1",
            "IpRanges": [],
            "Ipv6Ranges": [],
            "PrefixListIds": [],
            "UserIdGroupPairs": [{"UserId": group["OwnerId"], "GroupId": group["GroupId"]}],
        }
    ]
    assert group["IpPermissionsEgress"] == [
        {
            "IpProtocol": "-1",
            "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            "Ipv6Ranges": [],
            "PrefixListIds": [],
            "UserIdGroupPairs": [],
        }
    ]
    with pytest.raises(ClientError) as err:
        ec2.delete_security_group(GroupId=group["GroupId"])
    assert code(err) == "CannotDelete"


def test_default_vpc_has_a_default_group(ec2: Any) -> None:
    groups = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    assert groups and groups[0]["GroupName"] == "default"


def test_create_describe_delete(ec2: Any, vpc_id: str) -> None:
    created = ec2.create_security_group(
        GroupName="web",
        Description="web servers",
        VpcId=vpc_id,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": "env", "Value": "test"}]}],
    )
    group_id = created["GroupId"]
    assert group_id.startswith("sg-")
    assert created["Tags"] == [{"Key": "env", "Value": "test"}]
    assert created["SecurityGroupArn"].endswith(f":security-group/{group_id}")
    group = describe(ec2, group_id)
    assert group["GroupName"] == "web" and group["VpcId"] == vpc_id and group["IpPermissions"] == []
    assert group["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    assert group["Tags"] == [{"Key": "env", "Value": "test"}]

    with pytest.raises(ClientError) as err:
        ec2.create_security_group(GroupName="web", Description="again", VpcId=vpc_id)
    assert code(err) == "InvalidGroup.Duplicate"
    assert message(err) == f"The security group 'web' already exists for VPC '{vpc_id}'"

    ec2.delete_security_group(GroupId=group_id)
    with pytest.raises(ClientError) as err:
        ec2.describe_security_groups(GroupIds=[group_id])
    assert code(err) == "InvalidGroup.NotFound"
    assert message(err) == f"The security group '{group_id}' does not exist"
    with pytest.raises(ClientError) as err:
        ec2.delete_security_group(GroupId=group_id)
    assert code(err) == "InvalidGroup.NotFound"


def test_create_errors(ec2: Any, vpc_id: str) -> None:
    with pytest.raises(ClientError) as err:
        ec2.create_security_group(GroupName="sg-nope", Description="d", VpcId=vpc_id)
    assert code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.create_security_group(GroupName="default", Description="d", VpcId=vpc_id)
    assert code(err) == "InvalidGroup.Reserved"
    with pytest.raises(ClientError) as err:
        ec2.create_security_group(GroupName="x", Description="", VpcId=vpc_id)
    assert code(err) == "MissingParameter"
    with pytest.raises(ClientError) as err:
        ec2.create_security_group(GroupName="x", Description="d", VpcId="vpc-00000000000000000")
    assert code(err) == "InvalidVpcID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.create_security_group(GroupName="x", Description="d", VpcId=vpc_id, DryRun=True)
    assert code(err) == "DryRunOperation"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_same_name_in_two_vpcs_and_default_vpc_by_name(
    cove_server: EmbeddedServer, ec2: Any, vpc_id: str
) -> None:
    other = make_vpc(cove_server, ec2, "10.21.0.0/16")
    name = f"shared-{uuid.uuid4().hex[:6]}"
    a = ec2.create_security_group(GroupName=name, Description="d", VpcId=vpc_id)["GroupId"]
    b = ec2.create_security_group(GroupName=name, Description="d", VpcId=other)["GroupId"]
    assert a != b
    # Without VpcId the group goes to the default VPC and can be addressed by name.
    c = ec2.create_security_group(GroupName=name, Description="d")["GroupId"]
    by_name = ec2.describe_security_groups(GroupNames=[name])["SecurityGroups"]
    assert [g["GroupId"] for g in by_name] == [c]
    ec2.delete_security_group(GroupName=name)
    with pytest.raises(ClientError) as err:
        ec2.describe_security_groups(GroupIds=[c])
    assert code(err) == "InvalidGroup.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.describe_security_groups(GroupNames=["no-such-group"])
    assert code(err) == "InvalidGroup.NotFound"


def test_authorize_aggregates_into_ip_permissions(ec2: Any, vpc_id: str) -> None:
    group_id = new_group(ec2, vpc_id)
    other_id = new_group(ec2, vpc_id)
    out = ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "ssh"}, {"CidrIp": "192.168.0.0/16"}],
                "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}],
                "UserIdGroupPairs": [{"GroupId": other_id}],
            },
            {
                "IpProtocol": "6",
                "FromPort": 443,
                "ToPort": 443,
                "PrefixListIds": [{"PrefixListId": "pl-12345678"}],
            },
        ],
    )
    assert out["Return"] is True
    rules = out["SecurityGroupRules"]
    assert len(rules) == 5 and all(r["SecurityGroupRuleId"].startswith("sgr-") for r in rules)
    assert {r["IsEgress"] for r in rules} == {False}
    assert {r["IpProtocol"] for r in rules} == {"tcp"}
    # A second authorization with the same (protocol, ports) joins the first permission.
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "172.16.0.0/12"}]}
        ],
    )
    perms = describe(ec2, group_id)["IpPermissions"]
    assert len(perms) == 2
    ssh, https = perms
    assert (ssh["FromPort"], ssh["ToPort"], https["FromPort"]) == (22, 22, 443)
    assert ssh["IpRanges"] == [
        {"CidrIp": "10.0.0.0/8", "Description": "ssh"},
        {"CidrIp": "192.168.0.0/16"},
        {"CidrIp": "172.16.0.0/12"},
    ]
    assert ssh["Ipv6Ranges"] == [{"CidrIpv6": "2001:db8::/32"}]
    assert [p["GroupId"] for p in ssh["UserIdGroupPairs"]] == [other_id]
    assert https["PrefixListIds"] == [{"PrefixListId": "pl-12345678"}]
    assert https["IpProtocol"] == "tcp"


def test_self_reference_and_dependency(ec2: Any, vpc_id: str) -> None:
    group_id = new_group(ec2, vpc_id)
    other_id = new_group(ec2, vpc_id)
    ec2.authorize_security_group_ingress(
        GroupId=group_id, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group_id}]}]
    )
    ec2.authorize_security_group_ingress(
        GroupId=other_id,
        IpPermissions=[
            {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "UserIdGroupPairs": [{"GroupId": group_id}]}
        ],
    )
    perm = describe(ec2, group_id)["IpPermissions"][0]
    assert perm["IpProtocol"] == "-1" and "FromPort" not in perm
    assert perm["UserIdGroupPairs"][0]["GroupId"] == group_id
    with pytest.raises(ClientError) as err:
        ec2.delete_security_group(GroupId=group_id)
    assert code(err) == "DependencyViolation"
    ec2.delete_security_group(GroupId=other_id)
    # Its own self-reference does not keep a group alive.
    ec2.delete_security_group(GroupId=group_id)


def test_duplicate_and_invalid_rules(ec2: Any, vpc_id: str) -> None:
    group_id = new_group(ec2, vpc_id)
    ssh = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=ssh)
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=ssh)
    assert code(err) == "InvalidPermission.Duplicate"
    assert message(err) == (
        'the specified rule "peer: 0.0.0.0/0, TCP, from port: 22, to port: 22, ALLOW" already exists'
    )
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_egress(
            GroupId=group_id, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        )
    assert message(err) == 'the specified rule "peer: 0.0.0.0/0, ALL, ALLOW" already exists'
    bad: list[dict[str, Any]] = [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "123.123.123.123"}]},
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 22, "IpRanges": [{"CidrIp": "1.2.3.4/32"}]},
        {"IpProtocol": "tcp", "IpRanges": [{"CidrIp": "1.2.3.4/32"}]},
        {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 70000, "IpRanges": [{"CidrIp": "1.2.3.4/32"}]},
        {"IpProtocol": "bogus", "IpRanges": [{"CidrIp": "1.2.3.4/32"}]},
        {"IpProtocol": "icmp", "FromPort": -1, "ToPort": 3, "IpRanges": [{"CidrIp": "1.2.3.4/32"}]},
        {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "10.0.0.0/8"}]},
    ]
    for perm in bad:
        with pytest.raises(ClientError) as err:
            ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[perm])
        assert code(err) == "InvalidParameterValue", perm
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(
            GroupId=group_id,
            IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-foo"}]}],
        )
    assert code(err) == "InvalidGroup.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(GroupId="sg-00000000000000000", IpPermissions=ssh)
    assert code(err) == "InvalidGroup.NotFound"


def test_protocol_numbers_icmp_and_other_protocols(ec2: Any, vpc_id: str) -> None:
    group_id = new_group(ec2, vpc_id)
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {"IpProtocol": "17", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
            {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
            {"IpProtocol": "50", "FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        ],
    )
    perms = {p["IpProtocol"]: p for p in describe(ec2, group_id)["IpPermissions"]}
    assert set(perms) == {"udp", "icmp", "50"}
    assert (perms["icmp"]["FromPort"], perms["icmp"]["ToPort"]) == (8, -1)
    assert "FromPort" not in perms["50"]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])[
        "SecurityGroupRules"
    ]
    esp = next(r for r in rules if r["IpProtocol"] == "50")
    assert (esp["FromPort"], esp["ToPort"]) == (-1, -1)


def test_legacy_flat_parameters(ec2: Any, vpc_id: str) -> None:
    group_id = new_group(ec2, vpc_id)
    ec2.authorize_security_group_ingress(
        GroupId=group_id, IpProtocol="tcp", FromPort=80, ToPort=80, CidrIp="192.0.2.0/24"
    )
    perm = describe(ec2, group_id)["IpPermissions"][0]
    assert (perm["IpProtocol"], perm["FromPort"], perm["IpRanges"]) == (
        "tcp",
        80,
        [{"CidrIp": "192.0.2.0/24"}],
    )
    ec2.revoke_security_group_ingress(
        GroupId=group_id, IpProtocol="tcp", FromPort=80, ToPort=80, CidrIp="192.0.2.0/24"
    )
    assert describe(ec2, group_id)["IpPermissions"] == []


def test_revoke(ec2: Any, vpc_id: str) -> None:
    group_id = new_group(ec2, vpc_id)
    perm = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[perm])
    wrong = {**perm, "IpRanges": [{"CidrIp": "10.0.0.1/32"}]}
    with pytest.raises(ClientError) as err:
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[wrong])
    assert code(err) == "InvalidPermission.NotFound"
    out = ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[perm, wrong])
    assert out["Return"] is True
    assert out["UnknownIpPermissions"][0]["IpRanges"] == [{"CidrIp": "10.0.0.1/32"}]
    assert describe(ec2, group_id)["IpPermissions"] == []
    # Ports are meaningless for protocol -1: the default egress rule goes with any ports given.
    ec2.revoke_security_group_egress(
        GroupId=group_id,
        IpPermissions=[
            {"IpProtocol": "-1", "FromPort": 0, "ToPort": 123, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    assert describe(ec2, group_id)["IpPermissionsEgress"] == []


def test_revoke_by_rule_id_and_describe_rules(ec2: Any, vpc_id: str) -> None:
    group_id = new_group(ec2, vpc_id)
    rules = ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 1,
                "ToPort": 2,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}] + [{"CidrIp": f"10.{i}.0.0/16"} for i in range(1, 6)],
            }
        ],
        TagSpecifications=[{"ResourceType": "security-group-rule", "Tags": [{"Key": "k", "Value": "v"}]}],
    )["SecurityGroupRules"]
    rule_id = rules[0]["SecurityGroupRuleId"]
    described = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])["SecurityGroupRules"]
    assert described[0]["Tags"] == [{"Key": "k", "Value": "v"}]
    assert described[0]["CidrIpv4"] == "10.0.0.0/8" and described[0]["GroupId"] == group_id
    all_rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])
    assert {r["IsEgress"] for r in all_rules["SecurityGroupRules"]} == {True, False}
    page = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group_id]}], MaxResults=5
    )
    assert len(page["SecurityGroupRules"]) == 5 and page["NextToken"]
    out = ec2.revoke_security_group_ingress(GroupId=group_id, SecurityGroupRuleIds=[rule_id])
    assert out["Return"] is True
    with pytest.raises(ClientError) as err:
        ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])
    assert code(err) == "InvalidSecurityGroupRuleId.NotFound"


def test_modify_rules_and_descriptions(ec2: Any, vpc_id: str) -> None:
    group_id = new_group(ec2, vpc_id)
    perm = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
    rule_id = ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[perm])[
        "SecurityGroupRules"
    ][0]["SecurityGroupRuleId"]
    ec2.update_security_group_rule_descriptions_ingress(
        GroupId=group_id,
        IpPermissions=[{**perm, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "new"}]}],
    )
    assert describe(ec2, group_id)["IpPermissions"][0]["IpRanges"] == [
        {"CidrIp": "10.0.0.0/8", "Description": "new"}
    ]
    ec2.modify_security_group_rules(
        GroupId=group_id,
        SecurityGroupRules=[
            {
                "SecurityGroupRuleId": rule_id,
                "SecurityGroupRule": {
                    "IpProtocol": "tcp",
                    "FromPort": 2222,
                    "ToPort": 2222,
                    "CidrIpv4": "10.1.0.0/16",
                },
            }
        ],
    )
    perm_now = describe(ec2, group_id)["IpPermissions"][0]
    assert (perm_now["FromPort"], perm_now["IpRanges"][0]["CidrIp"]) == (2222, "10.1.0.0/16")


def test_rule_limit(ec2: Any, vpc_id: str) -> None:
    group_id = new_group(ec2, vpc_id)
    other_id = new_group(ec2, vpc_id)
    too_many = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": f"{i}.0.0.0/0"} for i in range(61)]}]
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=too_many)
    assert code(err) == "RulesPerSecurityGroupLimitExceeded"
    assert message(err) == "The maximum number of rules per security group has been reached."
    assert describe(ec2, group_id)["IpPermissions"] == []
    ec2.authorize_security_group_ingress(
        GroupId=group_id, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": other_id}]}]
    )
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": f"{i}.0.0.0/0"} for i in range(59)]}],
    )
    # IPv6 rules are counted on their own (the group reference counts in both families).
    ec2.authorize_security_group_ingress(
        GroupId=group_id, IpPermissions=[{"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}]}]
    )
    for perm in (
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "100.0.0.0/0"}]},
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": other_id}]},
    ):
        with pytest.raises(ClientError) as err:
            ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[perm])
        assert code(err) == "RulesPerSecurityGroupLimitExceeded"


def test_filters_and_pagination(ec2: Any, vpc_id: str) -> None:
    tagged = new_group(
        ec2,
        vpc_id,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": "role", "Value": "db"}]}],
    )
    plain = new_group(ec2, vpc_id)
    ec2.authorize_security_group_ingress(
        GroupId=tagged,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.9.0.0/16"}]},
            {"IpProtocol": "tcp", "FromPort": 5433, "ToPort": 5433, "UserIdGroupPairs": [{"GroupId": plain}]},
        ],
    )
    ec2.authorize_security_group_egress(
        GroupId=plain,
        IpPermissions=[
            {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.8.0.0/16"}]}
        ],
    )
    plain_name = describe(ec2, plain)["GroupName"]

    def ids(*filters: tuple[str, list[str]]) -> set[str]:
        wanted = [{"Name": "vpc-id", "Values": [vpc_id]}] + [{"Name": n, "Values": v} for n, v in filters]
        return {g["GroupId"] for g in ec2.describe_security_groups(Filters=wanted)["SecurityGroups"]}

    assert ids(("tag:role", ["db"])) == {tagged}
    assert ids(("ip-permission.cidr", ["10.9.0.0/16"])) == {tagged}
    assert ids(("ip-permission.from-port", ["5432"])) == {tagged}
    assert ids(("ip-permission.to-port", ["5433"])) == {tagged}
    assert ids(("ip-permission.protocol", ["tcp"])) == {tagged}
    assert ids(("ip-permission.group-id", [plain])) == {tagged}
    # AWS lists VPC pairs without GroupName, so the group-name filters match no VPC group.
    assert ids(("ip-permission.group-name", [plain_name])) == set()
    assert ids(("egress.ip-permission.cidr", ["10.8.0.0/16"])) == {plain}
    assert ids(("egress.ip-permission.protocol", ["udp"])) == {plain}
    assert ids(("egress.ip-permission.from-port", ["53"])) == {plain}
    assert ids(("group-name", [plain_name])) == {plain}
    assert ids(("description", ["test group"])) == {tagged, plain}
    assert ids(("group-id", [plain])) == {plain}
    assert ids(("owner-id", [describe(ec2, plain)["OwnerId"]])) >= {tagged, plain}
    with pytest.raises(ClientError) as err:
        ec2.describe_security_groups(Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert code(err) == "InvalidParameterValue"

    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}], MaxResults=5, **token
        )
        assert len(page["SecurityGroups"]) <= 5
        seen += [g["GroupId"] for g in page["SecurityGroups"]]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    assert len(seen) == len(set(seen)) == 3


def test_get_security_groups_for_vpc(ec2: Any, vpc_id: str) -> None:
    group_id = new_group(ec2, vpc_id)
    found = ec2.get_security_groups_for_vpc(VpcId=vpc_id)["SecurityGroupForVpcs"]
    assert {g["GroupId"] for g in found} >= {group_id}
    assert {g["PrimaryVpcId"] for g in found} == {vpc_id}
    assert ec2.describe_security_group_references(GroupId=[group_id])["SecurityGroupReferenceSet"] == []


def test_service_functions(cove_server: EmbeddedServer, ec2: Any, vpc_id: str) -> None:
    with cove_server.cove.db.session() as s:
        default_id = security_groups.default_security_group_id(s, vpc_id)
        assert default_id is not None
        account = cove_server.cove.account.account_id
        # Idempotent: the VPC already has its default group.
        assert (
            security_groups.create_default_security_group(
                s, account_id=account, region="us-east-1", vpc_id=vpc_id
            )
            == default_id
        )
        assert security_groups.vpc_has_security_dependencies(s, vpc_id) is False
    custom = new_group(ec2, vpc_id)
    with cove_server.cove.db.session() as s:
        assert security_groups.vpc_has_security_dependencies(s, vpc_id) is True
    ec2.delete_security_group(GroupId=custom)
    with cove_server.cove.db.session() as s:
        security_groups.delete_vpc_security(s, vpc_id)
        assert security_groups.default_security_group_id(s, vpc_id) is None


def test_vpc_deletion_with_security_resources(cove_server: EmbeddedServer, ec2: Any) -> None:
    vpc_id = make_vpc(cove_server, ec2, "10.22.0.0/16")
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.22.1.0/24")["Subnet"]["SubnetId"]
    acl_id = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]["NetworkAclId"]
    default_acl = ec2.describe_network_acls(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "default", "Values": ["true"]}]
    )["NetworkAcls"][0]
    assoc = default_acl["Associations"][0]["NetworkAclAssociationId"]
    ec2.replace_network_acl_association(AssociationId=assoc, NetworkAclId=acl_id)
    # Deleting the subnet takes its (explicit) association with it.
    ec2.delete_subnet(SubnetId=subnet_id)
    assert ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"][0]["Associations"] == []
    group_id = new_group(ec2, vpc_id)
    for blocker in ("group", "acl"):
        with pytest.raises(ClientError) as err:
            ec2.delete_vpc(VpcId=vpc_id)
        assert code(err) == "DependencyViolation", blocker
        if blocker == "group":
            ec2.delete_security_group(GroupId=group_id)
        else:
            ec2.delete_network_acl(NetworkAclId=acl_id)
    ec2.delete_vpc(VpcId=vpc_id)
    assert (
        ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"] == []
    )
    assert ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NetworkAcls"] == []


def test_rules_group_id_filter_rejects_malformed_ids(ec2: Any, vpc_id: str) -> None:
    with pytest.raises(ClientError) as err:
        ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": ["foobar"]}])
    assert code(err) == "InvalidGroupId.Malformed"
    assert message(err) == "The security group ID 'foobar' is malformed"
    unknown = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": ["sg-005216b55886f0fdc"]}]
    )
    assert unknown["SecurityGroupRules"] == []
