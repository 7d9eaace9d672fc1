"""Managed prefix lists through boto3: AWS's service lists and customer-managed, versioned lists."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.conftest import ClientFactory

from cove.services.ec2 import prefix_lists


@pytest.fixture
def ec2(client: ClientFactory) -> Any:
    return client("ec2")


def _name() -> str:
    return f"pl-test-{uuid.uuid4().hex[:8]}"


def test_service_addresses_are_cove_public_blocks() -> None:
    cove_public = ipaddress.ip_network("198.18.0.0/15")
    blocks = [ipaddress.ip_network(c) for c in prefix_lists.service_addresses.values()]
    assert all(b.subnet_of(cove_public) for b in blocks)
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])
    # Stable per region, different between regions.
    east = prefix_lists.service_prefix_list("us-east-1", "com.amazonaws.us-east-1.s3")
    assert east is not None and east["id"] == prefix_lists.aws_prefix_list_id("us-east-1", east["name"])
    west = prefix_lists.service_prefix_list("us-west-2", "com.amazonaws.us-west-2.s3")
    assert west is not None and west["id"] != east["id"]


def test_aws_managed_lists_in_both_describe_calls(ec2: Any) -> None:
    managed = ec2.describe_managed_prefix_lists(Filters=[{"Name": "owner-id", "Values": ["AWS"]}])[
        "PrefixLists"
    ]
    by_name = {pl["PrefixListName"]: pl for pl in managed}
    s3 = by_name["com.amazonaws.us-east-1.s3"]
    assert s3["OwnerId"] == "AWS" and s3["AddressFamily"] == "IPv4" and s3["State"] == "create-complete"
    assert s3["PrefixListId"].startswith("pl-")
    assert s3["PrefixListArn"] == f"arn:aws:ec2:us-east-1:aws:prefix-list/{s3['PrefixListId']}"
    assert "com.amazonaws.us-east-1.dynamodb" in by_name
    assert all("StateMessage" not in pl for pl in managed)

    legacy = ec2.describe_prefix_lists()["PrefixLists"]
    assert all(pl["PrefixListName"].startswith("com.amazonaws") for pl in legacy)
    legacy_s3 = [pl for pl in legacy if pl["PrefixListName"] == "com.amazonaws.us-east-1.s3"]
    assert legacy_s3 == [
        {
            "PrefixListId": s3["PrefixListId"],
            "PrefixListName": "com.amazonaws.us-east-1.s3",
            "Cidrs": [prefix_lists.service_addresses["s3"]],
        }
    ]
    filtered = ec2.describe_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": ["com.amazonaws.us-east-1.dynamodb"]}]
    )["PrefixLists"]
    assert [pl["Cidrs"] for pl in filtered] == [[prefix_lists.service_addresses["dynamodb"]]]

    entries = ec2.get_managed_prefix_list_entries(PrefixListId=s3["PrefixListId"])["Entries"]
    assert entries == [{"Cidr": prefix_lists.service_addresses["s3"]}]

    with pytest.raises(ClientError) as exc:
        ec2.modify_managed_prefix_list(PrefixListId=s3["PrefixListId"], PrefixListName="mine")
    assert exc.value.response["Error"]["Code"] == "InvalidPrefixListModification"


def test_customer_managed_lifecycle(ec2: Any) -> None:
    name = _name()
    created = ec2.create_managed_prefix_list(
        PrefixListName=name,
        MaxEntries=3,
        AddressFamily="IPv4",
        Entries=[{"Cidr": "10.0.0.0/24", "Description": "a"}, {"Cidr": "10.0.1.0/24"}],
        TagSpecifications=[{"ResourceType": "prefix-list", "Tags": [{"Key": "team", "Value": "ml"}]}],
    )["PrefixList"]
    pl_id = created["PrefixListId"]
    assert created["State"] == "create-complete"
    assert created["Version"] == 1 and created["MaxEntries"] == 3
    assert created["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert created["PrefixListArn"].endswith(f":prefix-list/{pl_id}")
    assert created["OwnerId"] != "AWS"

    described = ec2.describe_managed_prefix_lists(PrefixListIds=[pl_id])["PrefixLists"]
    assert described == [created]
    by_tag = ec2.describe_managed_prefix_lists(Filters=[{"Name": "tag:team", "Values": ["ml"]}])[
        "PrefixLists"
    ]
    assert pl_id in [pl["PrefixListId"] for pl in by_tag]
    by_name = ec2.describe_managed_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [name]}])
    assert [pl["PrefixListId"] for pl in by_name["PrefixLists"]] == [pl_id]

    modified = ec2.modify_managed_prefix_list(
        PrefixListId=pl_id,
        CurrentVersion=1,
        AddEntries=[{"Cidr": "10.0.2.0/24", "Description": "c"}],
        RemoveEntries=[{"Cidr": "10.0.1.0/24"}],
    )["PrefixList"]
    assert modified["Version"] == 2 and modified["State"] == "modify-complete"
    entries = ec2.get_managed_prefix_list_entries(PrefixListId=pl_id)["Entries"]
    assert entries == [
        {"Cidr": "10.0.0.0/24", "Description": "a"},
        {"Cidr": "10.0.2.0/24", "Description": "c"},
    ]
    old = ec2.get_managed_prefix_list_entries(PrefixListId=pl_id, TargetVersion=1)["Entries"]
    assert [e["Cidr"] for e in old] == ["10.0.0.0/24", "10.0.1.0/24"]
    page = ec2.get_managed_prefix_list_entries(PrefixListId=pl_id, MaxResults=1)
    assert len(page["Entries"]) == 1 and "NextToken" in page

    # A stale version is refused; a rename alone keeps the version.
    with pytest.raises(ClientError) as exc:
        ec2.modify_managed_prefix_list(
            PrefixListId=pl_id, CurrentVersion=1, AddEntries=[{"Cidr": "10.9.0.0/24"}]
        )
    assert exc.value.response["Error"]["Code"] == "PrefixListVersionMismatch"
    renamed = ec2.modify_managed_prefix_list(PrefixListId=pl_id, PrefixListName=name + "-x")["PrefixList"]
    assert renamed["Version"] == 2 and renamed["PrefixListName"] == name + "-x"

    # More entries than MaxEntries is refused.
    with pytest.raises(ClientError) as exc:
        ec2.modify_managed_prefix_list(
            PrefixListId=pl_id, AddEntries=[{"Cidr": "10.0.3.0/24"}, {"Cidr": "10.0.4.0/24"}]
        )
    assert exc.value.response["Error"]["Code"] == "PrefixListMaxEntriesExceeded"

    deleted = ec2.delete_managed_prefix_list(PrefixListId=pl_id)["PrefixList"]
    assert deleted["State"] == "delete-in-progress"
    after = ec2.describe_managed_prefix_lists(PrefixListIds=[pl_id])["PrefixLists"]
    assert [pl["State"] for pl in after] == ["delete-complete"]
    with pytest.raises(ClientError) as exc:
        ec2.get_managed_prefix_list_entries(PrefixListId=pl_id)
    assert exc.value.response["Error"]["Code"] == "InvalidPrefixListID.NotFound"


def test_bad_input(ec2: Any) -> None:
    with pytest.raises(ClientError) as exc:
        ec2.create_managed_prefix_list(
            PrefixListName=_name(), MaxEntries=2, AddressFamily="IPv4", Entries=[{"Cidr": "fd00::/8"}]
        )
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        ec2.create_managed_prefix_list(
            PrefixListName=_name(),
            MaxEntries=1,
            AddressFamily="IPv4",
            Entries=[{"Cidr": "10.0.0.0/24"}, {"Cidr": "10.0.1.0/24"}],
        )
    assert exc.value.response["Error"]["Code"] == "PrefixListMaxEntriesExceeded"
    with pytest.raises(ClientError) as exc:
        ec2.describe_managed_prefix_lists(PrefixListIds=["pl-00000000000000000"])
    assert exc.value.response["Error"]["Code"] == "InvalidPrefixListID.NotFound"
    with pytest.raises(ClientError) as exc:
        ec2.delete_managed_prefix_list(PrefixListId="pl-00000000000000000")
    assert exc.value.response["Error"]["Code"] == "InvalidPrefixListID.NotFound"
    with pytest.raises(ClientError) as exc:
        ec2.create_managed_prefix_list(
            PrefixListName=_name(), MaxEntries=2, AddressFamily="IPv4", DryRun=True
        )
    assert exc.value.response["Error"]["Code"] == "DryRunOperation"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_pagination(ec2: Any) -> None:
    for _ in range(3):
        ec2.create_managed_prefix_list(PrefixListName=_name(), MaxEntries=1, AddressFamily="IPv4")
    seen: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"MaxResults": 2}
        if token:
            kwargs["NextToken"] = token
        page = ec2.describe_managed_prefix_lists(**kwargs)
        assert len(page["PrefixLists"]) <= 2
        seen += [pl["PrefixListId"] for pl in page["PrefixLists"]]
        token = page.get("NextToken")
        if not token:
            break
    everything = [pl["PrefixListId"] for pl in ec2.describe_managed_prefix_lists()["PrefixLists"]]
    assert seen == everything and len(set(seen)) == len(seen)
