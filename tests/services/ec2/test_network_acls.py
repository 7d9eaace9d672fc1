"""Network ACLs through boto3 against the live server."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.conftest import ClientFactory
from tests.services.ec2.test_security_groups import code, make_vpc, message

from cove.server import EmbeddedServer
from cove.services.ec2 import network_acls, subnets


@pytest.fixture
def ec2(client: ClientFactory) -> Any:
    return client("ec2")


@pytest.fixture
def vpc_id(cove_server: EmbeddedServer, ec2: Any) -> str:
    return make_vpc(cove_server, ec2, "10.30.0.0/16")


def make_subnet(cove_server: EmbeddedServer, ec2: Any, vpc_id: str, cidr: str) -> str:
    try:
        return str(ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr)["Subnet"]["SubnetId"])
    except ClientError as error:
        if error.response["Error"]["Code"] != "NotImplemented":
            raise
    with cove_server.cove.db.session() as s:
        account = cove_server.cove.account.account_id
        return subnets.create_subnet(s, account, "us-east-1", {"VpcId": vpc_id, "CidrBlock": cidr}).id


def acl(ec2: Any, acl_id: str) -> dict[str, Any]:
    return dict(ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"][0])


def default_acl(ec2: Any, vpc_id: str) -> dict[str, Any]:
    found = ec2.describe_network_acls(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "default", "Values": ["true"]}]
    )["NetworkAcls"]
    assert len(found) == 1
    return dict(found[0])


def test_default_acl_shape(ec2: Any, vpc_id: str) -> None:
    default = default_acl(ec2, vpc_id)
    assert default["IsDefault"] is True and default["VpcId"] == vpc_id
    assert default["NetworkAclId"].startswith("acl-")
    assert [(e["Egress"], e["RuleNumber"], e["RuleAction"]) for e in default["Entries"]] == [
        (True, 100, "allow"),
        (True, 32767, "deny"),
        (False, 100, "allow"),
        (False, 32767, "deny"),
    ]
    assert {(e["CidrBlock"], e["Protocol"]) for e in default["Entries"]} == {("0.0.0.0/0", "-1")}
    with pytest.raises(ClientError) as err:
        ec2.delete_network_acl(NetworkAclId=default["NetworkAclId"])
    assert code(err) == "InvalidParameterValue"


def test_default_vpc_subnets_are_associated(ec2: Any) -> None:
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    default = default_acl(ec2, vpc)
    subnet_ids = {
        s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    }
    assert subnet_ids and {a["SubnetId"] for a in default["Associations"]} == subnet_ids
    again = default_acl(ec2, vpc)
    assert again["Associations"] == default["Associations"]


def test_custom_acl_entries_and_association(cove_server: EmbeddedServer, ec2: Any, vpc_id: str) -> None:
    subnet_id = make_subnet(cove_server, ec2, vpc_id, "10.30.1.0/24")
    default = default_acl(ec2, vpc_id)
    (assoc,) = [a for a in default["Associations"] if a["SubnetId"] == subnet_id]
    assert assoc["NetworkAclAssociationId"].startswith("aclassoc-")

    created = ec2.create_network_acl(
        VpcId=vpc_id,
        TagSpecifications=[{"ResourceType": "network-acl", "Tags": [{"Key": "tier", "Value": "web"}]}],
    )["NetworkAcl"]
    acl_id = created["NetworkAclId"]
    assert created["IsDefault"] is False and created["Associations"] == []
    assert created["Tags"] == [{"Key": "tier", "Value": "web"}]
    # A new ACL denies everything: only the * rules.
    assert [(e["Egress"], e["RuleNumber"], e["RuleAction"]) for e in created["Entries"]] == [
        (True, 32767, "deny"),
        (False, 32767, "deny"),
    ]

    ec2.create_network_acl_entry(
        NetworkAclId=acl_id,
        RuleNumber=110,
        Protocol="6",
        RuleAction="allow",
        CidrBlock="100.68.0.18/18",
        Egress=False,
        PortRange={"From": 443, "To": 443},
    )
    ec2.create_network_acl_entry(
        NetworkAclId=acl_id,
        RuleNumber=90,
        Protocol="icmp",
        RuleAction="deny",
        CidrBlock="0.0.0.0/0",
        Egress=False,
        IcmpTypeCode={"Type": 8, "Code": -1},
    )
    ingress = [e for e in acl(ec2, acl_id)["Entries"] if not e["Egress"]]
    assert [e["RuleNumber"] for e in ingress] == [90, 110, 32767]
    icmp, https, _ = ingress
    assert https["CidrBlock"] == "100.68.0.0/18" and https["PortRange"] == {"From": 443, "To": 443}
    assert https["Protocol"] == "6" and https["RuleAction"] == "allow"
    assert icmp["Protocol"] == "1" and icmp["IcmpTypeCode"] == {"Type": 8, "Code": -1}

    with pytest.raises(ClientError) as err:
        ec2.create_network_acl_entry(
            NetworkAclId=acl_id,
            RuleNumber=110,
            Protocol="-1",
            RuleAction="deny",
            CidrBlock="1.0.0.0/8",
            Egress=False,
        )
    assert code(err) == "NetworkAclEntryAlreadyExists"
    assert message(err) == "The network acl entry identified by 110 already exists."

    ec2.replace_network_acl_entry(
        NetworkAclId=acl_id,
        RuleNumber=110,
        Protocol="-1",
        RuleAction="deny",
        CidrBlock="1.0.0.0/8",
        Egress=False,
    )
    replaced = next(e for e in acl(ec2, acl_id)["Entries"] if e["RuleNumber"] == 110)
    assert (replaced["Protocol"], replaced["RuleAction"], replaced["CidrBlock"]) == (
        "-1",
        "deny",
        "1.0.0.0/8",
    )
    assert "PortRange" not in replaced
    with pytest.raises(ClientError) as err:
        ec2.replace_network_acl_entry(
            NetworkAclId=acl_id,
            RuleNumber=111,
            Protocol="-1",
            RuleAction="deny",
            CidrBlock="1.0.0.0/8",
            Egress=False,
        )
    assert code(err) == "InvalidNetworkAclEntry.NotFound"
    ec2.delete_network_acl_entry(NetworkAclId=acl_id, RuleNumber=110, Egress=False)
    with pytest.raises(ClientError) as err:
        ec2.delete_network_acl_entry(NetworkAclId=acl_id, RuleNumber=110, Egress=False)
    assert code(err) == "InvalidNetworkAclEntry.NotFound"

    new_assoc = ec2.replace_network_acl_association(
        AssociationId=assoc["NetworkAclAssociationId"], NetworkAclId=acl_id
    )["NewAssociationId"]
    assert new_assoc.startswith("aclassoc-") and new_assoc != assoc["NetworkAclAssociationId"]
    assert acl(ec2, acl_id)["Associations"] == [
        {"NetworkAclAssociationId": new_assoc, "NetworkAclId": acl_id, "SubnetId": subnet_id}
    ]
    assert subnet_id not in {a["SubnetId"] for a in default_acl(ec2, vpc_id)["Associations"]}
    found = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])
    assert [a["NetworkAclId"] for a in found["NetworkAcls"]] == [acl_id]

    with pytest.raises(ClientError) as err:
        ec2.delete_network_acl(NetworkAclId=acl_id)
    assert code(err) == "DependencyViolation"
    back = ec2.replace_network_acl_association(AssociationId=new_assoc, NetworkAclId=default["NetworkAclId"])
    assert back["NewAssociationId"] != new_assoc
    with pytest.raises(ClientError) as err:
        ec2.replace_network_acl_association(AssociationId=new_assoc, NetworkAclId=acl_id)
    assert code(err) == "InvalidAssociationID.NotFound"
    ec2.delete_network_acl(NetworkAclId=acl_id)
    with pytest.raises(ClientError) as err:
        ec2.describe_network_acls(NetworkAclIds=[acl_id])
    assert code(err) == "InvalidNetworkAclID.NotFound"
    assert message(err) == f"The networkAcl ID '{acl_id}' does not exist"


def test_entry_validation_and_limit(ec2: Any, vpc_id: str) -> None:
    acl_id = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]["NetworkAclId"]
    base: dict[str, Any] = {"NetworkAclId": acl_id, "RuleAction": "allow", "Egress": True}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"RuleNumber": 32767, "Protocol": "-1", "CidrBlock": "0.0.0.0/0"}, "InvalidParameterValue"),
        ({"RuleNumber": 5, "Protocol": "6", "CidrBlock": "0.0.0.0/0"}, "MissingParameter"),
        ({"RuleNumber": 5, "Protocol": "-1"}, "MissingParameter"),
        ({"RuleNumber": 5, "Protocol": "-1", "CidrBlock": "10.0.0.0"}, "InvalidParameterValue"),
        ({"RuleNumber": 5, "Protocol": "bogus", "CidrBlock": "10.0.0.0/8"}, "InvalidParameterValue"),
        (
            {"RuleNumber": 5, "Protocol": "17", "CidrBlock": "10.0.0.0/8", "PortRange": {"From": 9, "To": 1}},
            "InvalidParameterValue",
        ),
    ]
    for extra, expected in cases:
        with pytest.raises(ClientError) as err:
            ec2.create_network_acl_entry(**base, **extra)
        assert code(err) == expected, extra
    for number in range(1, 21):
        ec2.create_network_acl_entry(
            **base, RuleNumber=number, Protocol="-1", CidrBlock=f"10.{number}.0.0/16"
        )
    with pytest.raises(ClientError) as err:
        ec2.create_network_acl_entry(**base, RuleNumber=21, Protocol="-1", CidrBlock="10.99.0.0/16")
    assert code(err) == "NetworkAclEntryLimitExceeded"
    # The limit is per direction and per address family.
    ec2.create_network_acl_entry(
        **{**base, "Egress": False}, RuleNumber=21, Protocol="-1", CidrBlock="10.99.0.0/16"
    )
    ec2.create_network_acl_entry(**base, RuleNumber=22, Protocol="-1", Ipv6CidrBlock="2001:db8::/32")
    ipv6 = next(e for e in acl(ec2, acl_id)["Entries"] if e["RuleNumber"] == 22)
    assert ipv6["Ipv6CidrBlock"] == "2001:db8::/32" and "CidrBlock" not in ipv6


def test_filters_and_pagination(ec2: Any, vpc_id: str) -> None:
    first = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]["NetworkAclId"]
    second = ec2.create_network_acl(
        VpcId=vpc_id,
        TagSpecifications=[{"ResourceType": "network-acl", "Tags": [{"Key": "k", "Value": "v"}]}],
    )["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(
        NetworkAclId=first,
        RuleNumber=7,
        Protocol="6",
        RuleAction="deny",
        CidrBlock="192.0.2.0/24",
        Egress=True,
        PortRange={"From": 25, "To": 25},
    )

    def ids(name: str, values: list[str]) -> set[str]:
        filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": name, "Values": values}]
        return {a["NetworkAclId"] for a in ec2.describe_network_acls(Filters=filters)["NetworkAcls"]}

    default_id = default_acl(ec2, vpc_id)["NetworkAclId"]
    assert ids("entry.cidr", ["192.0.2.0/24"]) == {first}
    assert ids("entry.rule-number", ["7"]) == {first}
    assert ids("entry.port-range.from", ["25"]) == {first}
    assert ids("entry.port-range.to", ["25"]) == {first}
    assert ids("entry.protocol", ["6"]) == {first}
    assert ids("entry.rule-action", ["allow"]) == {default_id}
    assert ids("entry.egress", ["true"]) == {first, second, default_id}
    assert ids("default", ["false"]) == {first, second}
    assert ids("tag:k", ["v"]) == {second}
    assert ids("network-acl-id", [second]) == {second}
    page = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}], MaxResults=5)
    assert len(page["NetworkAcls"]) == 3 and "NextToken" not in page


def test_service_functions(cove_server: EmbeddedServer, ec2: Any, vpc_id: str) -> None:
    subnet_id = make_subnet(cove_server, ec2, vpc_id, "10.30.2.0/24")
    with cove_server.cove.db.session() as s:
        default_id = network_acls.subnet_network_acl_id(s, subnet_id)
        assert default_id == default_acl(ec2, vpc_id)["NetworkAclId"]
        assoc = network_acls.associate_default_network_acl(s, vpc_id, subnet_id)
        assert network_acls.associate_default_network_acl(s, vpc_id, subnet_id) == assoc
        assert network_acls.vpc_has_custom_acls(s, vpc_id) is False
    listed = {a["NetworkAclAssociationId"] for a in default_acl(ec2, vpc_id)["Associations"]}
    assert assoc in listed
