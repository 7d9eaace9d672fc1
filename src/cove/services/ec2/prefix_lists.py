"""Managed prefix lists: AWS's per-region service lists and customer-managed, versioned lists.

AWS-managed lists are facts of a region, not rows: their ids are derived from the region and the
name, so every account sees the same ``pl-…`` for ``com.amazonaws.<region>.s3`` and the id never
changes between restarts. Their entries are the "public" addresses Cove gives the AWS services it
hosts (:data:`service_addresses`); the network layer routes those same blocks to the services.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.services.ec2.errors import Ec2Error, invalid_value
from cove.services.ec2.filters import FilterSpec, apply_filters, field
from cove.services.ec2.ids import new_id
from cove.services.ec2.paging import paginate
from cove.services.ec2.tables.endpoints import ManagedPrefixList
from cove.services.ec2.tags import tags_from_specifications

__all__ = [
    "AWS_OWNER",
    "MAX_ENTRIES_LIMIT",
    "aws_prefix_list_id",
    "aws_prefix_lists",
    "create_managed_prefix_list",
    "delete_managed_prefix_list",
    "describe_managed_prefix_lists",
    "describe_prefix_lists",
    "find_prefix_list",
    "get_customer_prefix_list",
    "get_managed_prefix_list_entries",
    "modify_managed_prefix_list",
    "prefix_list_cidrs",
    "prefix_list_view",
    "service_addresses",
    "service_prefix_list",
]

AWS_OWNER = "AWS"
MAX_ENTRIES_LIMIT = 1000

# Cove's "public" AWS service addresses, all inside 198.18.0.0/15 (RFC 2544 benchmarking space, never
# routed on the internet). Keyed by the service part of the prefix-list name
# (``com.amazonaws.<region>.<service>``); the same blocks serve every region because each region's
# network is separate. The network layer answers these addresses with the service itself.
service_addresses: dict[str, str] = {
    "s3": "198.18.16.0/20",
    "dynamodb": "198.18.32.0/20",
}

# The other AWS-managed lists AWS publishes, so that lookups by name (CDK, Terraform) find them.
# (name template, address family, cidrs); ``{region}`` is filled in.
_OTHER_AWS_LISTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("com.amazonaws.global.cloudfront.origin-facing", "IPv4", ("198.18.48.0/20",)),
    ("com.amazonaws.global.groundstation", "IPv4", ("198.18.64.0/24",)),
    ("com.amazonaws.{region}.vpc-lattice", "IPv4", ("169.254.171.0/24",)),
    ("com.amazonaws.{region}.ipv6.vpc-lattice", "IPv6", ("fd00:ec2:80::/64",)),
)

_FILTERS: FilterSpec = {
    # Lower-case "aws" matches too: some SDK-side tools spell the AWS owner that way.
    "owner-id": lambda v: [v["OwnerId"], "aws"] if v["OwnerId"] == AWS_OWNER else [v["OwnerId"]],
    "prefix-list-id": field("PrefixListId"),
    "prefix-list-name": field("PrefixListName"),
}

_LEGACY_FILTERS: FilterSpec = {
    "prefix-list-id": field("PrefixListId"),
    "prefix-list-name": field("PrefixListName"),
}


def aws_prefix_list_id(region: str, name: str) -> str:
    return "pl-" + hashlib.sha256(f"{region}/{name}".encode()).hexdigest()[:8]


def aws_prefix_lists(region: str) -> list[dict[str, Any]]:
    """The AWS-managed lists of ``region``: ``{"id", "name", "family", "cidrs"}`` each, s3 first."""
    lists: list[tuple[str, str, tuple[str, ...]]] = [
        (f"com.amazonaws.{region}.{service}", "IPv4", (cidr,)) for service, cidr in service_addresses.items()
    ]
    lists += [(name.format(region=region), family, cidrs) for name, family, cidrs in _OTHER_AWS_LISTS]
    return [
        {"id": aws_prefix_list_id(region, name), "name": name, "family": family, "cidrs": list(cidrs)}
        for name, family, cidrs in lists
    ]


def service_prefix_list(region: str, service_name: str) -> dict[str, Any] | None:
    """The AWS-managed list named ``service_name`` (``com.amazonaws.<region>.s3``) in ``region``."""
    return next((pl for pl in aws_prefix_lists(region) if pl["name"] == service_name), None)


def _aws_view(region: str, pl: dict[str, Any]) -> dict[str, Any]:
    return {
        "PrefixListId": pl["id"],
        "AddressFamily": pl["family"],
        "State": "create-complete",
        "PrefixListArn": f"arn:aws:ec2:{region}:aws:prefix-list/{pl['id']}",
        "PrefixListName": pl["name"],
        "Tags": [],
        "OwnerId": AWS_OWNER,
    }


def prefix_list_view(pl: ManagedPrefixList) -> dict[str, Any]:
    return {
        "PrefixListId": pl.id,
        "AddressFamily": pl.address_family,
        "State": pl.state,
        "PrefixListArn": f"arn:aws:ec2:{pl.region}:{pl.account_id}:prefix-list/{pl.id}",
        "PrefixListName": pl.name,
        "MaxEntries": pl.max_entries,
        "Version": pl.version,
        "Tags": list(pl.tags),
        "OwnerId": pl.account_id,
    }


def _not_found(prefix_list_id: str) -> Ec2Error:
    return Ec2Error(
        f"The prefix list ID '{prefix_list_id}' does not exist", code="InvalidPrefixListID.NotFound"
    )


def get_customer_prefix_list(
    session: Session, account_id: str, region: str, prefix_list_id: str, *, deleted: bool = False
) -> ManagedPrefixList:
    pl = session.get(ManagedPrefixList, prefix_list_id)
    if pl is None or pl.account_id != account_id or pl.region != region:
        raise _not_found(prefix_list_id)
    if pl.state == "delete-complete" and not deleted:
        raise _not_found(prefix_list_id)
    return pl


def find_prefix_list(session: Session, account_id: str, region: str, prefix_list_id: str) -> bool:
    """Whether ``prefix_list_id`` names a usable list (AWS-managed or the account's own)."""
    if any(pl["id"] == prefix_list_id for pl in aws_prefix_lists(region)):
        return True
    pl = session.get(ManagedPrefixList, prefix_list_id)
    return (
        pl is not None
        and pl.account_id == account_id
        and pl.region == region
        and pl.state != "delete-complete"
    )


def prefix_list_cidrs(session: Session, account_id: str, region: str, prefix_list_id: str) -> list[str]:
    """The CIDRs of the list's current version (what SG rules and routes that reference it mean)."""
    for aws in aws_prefix_lists(region):
        if aws["id"] == prefix_list_id:
            return list(aws["cidrs"])
    pl = get_customer_prefix_list(session, account_id, region, prefix_list_id)
    return [e["Cidr"] for e in pl.entries]


def _check_entries(family: str, entries: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for entry in entries:
        cidr = str(entry.get("Cidr", ""))
        if family in ("IPv4", "IPv6"):
            try:
                if "/" not in cidr:
                    raise ValueError(cidr)
                net = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise invalid_value(f"The CIDR '{cidr}' is invalid.") from None
            if (net.version == 4) != (family == "IPv4"):
                raise invalid_value(f"The CIDR '{cidr}' does not match the address family {family}.")
            cidr = str(net)
        if cidr in seen:
            raise invalid_value(f"The CIDR '{cidr}' is duplicated.")
        seen.add(cidr)
        item = {"Cidr": cidr}
        if entry.get("Description") is not None:
            item["Description"] = str(entry["Description"])
        out.append(item)
    return out


def _check_max(max_entries: int, count: int) -> None:
    if not 1 <= max_entries <= MAX_ENTRIES_LIMIT:
        raise invalid_value(f"The maximum number of entries must be between 1 and {MAX_ENTRIES_LIMIT}.")
    if count > max_entries:
        raise Ec2Error(
            f"The prefix list has {count} entries, more than its maximum of {max_entries}.",
            code="PrefixListMaxEntriesExceeded",
        )


def create_managed_prefix_list(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> ManagedPrefixList:
    token = params.get("ClientToken")
    if token:
        existing = session.scalars(
            select(ManagedPrefixList).where(
                ManagedPrefixList.account_id == account_id,
                ManagedPrefixList.region == region,
                ManagedPrefixList.client_token == token,
            )
        ).first()
        if existing is not None:
            return existing
    name = str(params["PrefixListName"])
    if name.startswith("com.amazonaws"):
        raise invalid_value("The prefix list name cannot start with 'com.amazonaws'.")
    family = str(params["AddressFamily"])
    entries = _check_entries(family, params.get("Entries") or [])
    max_entries = int(params["MaxEntries"])
    _check_max(max_entries, len(entries))
    pl = ManagedPrefixList(
        id=new_id("pl"),
        account_id=account_id,
        region=region,
        name=name,
        address_family=family,
        max_entries=max_entries,
        version=1,
        state="create-complete",
        entries=entries,
        history={"1": entries},
        client_token=token,
        tags=tags_from_specifications(params.get("TagSpecifications"), "prefix-list"),
    )
    session.add(pl)
    session.flush()
    return pl


def describe_managed_prefix_lists(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    views = [_aws_view(region, pl) for pl in aws_prefix_lists(region)]
    rows = session.scalars(
        select(ManagedPrefixList)
        .where(ManagedPrefixList.account_id == account_id, ManagedPrefixList.region == region)
        .order_by(ManagedPrefixList.created, ManagedPrefixList.id)
    ).all()
    views += [prefix_list_view(pl) for pl in rows]
    ids = params.get("PrefixListIds")
    if ids:
        known = {v["PrefixListId"] for v in views}
        for wanted in ids:
            if wanted not in known:
                raise _not_found(wanted)
        views = [v for v in views if v["PrefixListId"] in set(ids)]
    views = [dict(v) for v in apply_filters(views, params.get("Filters"), _FILTERS)]
    page, extra = paginate(views, params.get("MaxResults"), params.get("NextToken"))
    return {"PrefixLists": page, **extra}


def describe_prefix_lists(region: str, params: dict[str, Any]) -> dict[str, Any]:
    """The legacy call: AWS-managed service lists only, as ``{PrefixListId, PrefixListName, Cidrs}``."""
    views: list[dict[str, Any]] = [
        {"PrefixListId": pl["id"], "PrefixListName": pl["name"], "Cidrs": list(pl["cidrs"])}
        for pl in aws_prefix_lists(region)
    ]
    ids = params.get("PrefixListIds")
    if ids:
        known = {v["PrefixListId"] for v in views}
        for wanted in ids:
            if wanted not in known:
                raise _not_found(wanted)
        views = [v for v in views if v["PrefixListId"] in set(ids)]
    views = [dict(v) for v in apply_filters(views, params.get("Filters"), _LEGACY_FILTERS)]
    page, extra = paginate(views, params.get("MaxResults"), params.get("NextToken"))
    return {"PrefixLists": page, **extra}


def get_managed_prefix_list_entries(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    prefix_list_id = str(params["PrefixListId"])
    entries: list[dict[str, str]]
    aws = next((pl for pl in aws_prefix_lists(region) if pl["id"] == prefix_list_id), None)
    if aws is not None:
        entries = [{"Cidr": cidr} for cidr in aws["cidrs"]]
    else:
        pl = get_customer_prefix_list(session, account_id, region, prefix_list_id)
        target = params.get("TargetVersion")
        if target is None:
            entries = list(pl.entries)
        else:
            version = pl.history.get(str(target))
            if version is None:
                raise Ec2Error(
                    f"The prefix list '{prefix_list_id}' has no version {target}.",
                    code="InvalidParameterValue",
                )
            entries = list(version)
    page, extra = paginate(entries, params.get("MaxResults"), params.get("NextToken"))
    return {"Entries": page, **extra}


def modify_managed_prefix_list(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> ManagedPrefixList:
    prefix_list_id = str(params["PrefixListId"])
    if any(pl["id"] == prefix_list_id for pl in aws_prefix_lists(region)):
        raise Ec2Error(
            f"The prefix list '{prefix_list_id}' is managed by AWS and cannot be modified.",
            code="InvalidPrefixListModification",
        )
    pl = get_customer_prefix_list(session, account_id, region, prefix_list_id)
    current = params.get("CurrentVersion")
    if current is not None and int(current) != pl.version:
        raise Ec2Error(
            f"The prefix list '{prefix_list_id}' has been modified: its current version is {pl.version}, "
            f"not {current}.",
            code="PrefixListVersionMismatch",
        )
    if params.get("PrefixListName"):
        pl.name = str(params["PrefixListName"])
    add = params.get("AddEntries") or []
    remove = params.get("RemoveEntries") or []
    entries = list(pl.entries)
    if add or remove:
        removing = {str(e.get("Cidr", "")) for e in remove}
        if pl.address_family in ("IPv4", "IPv6"):
            removing = {e["Cidr"] for e in _check_entries(pl.address_family, remove)}
        entries = [e for e in entries if e["Cidr"] not in removing]
        for entry in _check_entries(pl.address_family, add):
            entries = [e for e in entries if e["Cidr"] != entry["Cidr"]] + [entry]
    max_entries = int(params["MaxEntries"]) if params.get("MaxEntries") is not None else pl.max_entries
    if params.get("MaxEntries") is not None and (add or remove):
        raise invalid_value("MaxEntries cannot be changed together with entries.")
    _check_max(max_entries, len(entries))
    pl.max_entries = max_entries
    if add or remove:
        pl.version += 1
        pl.entries = entries
        pl.history = {**pl.history, str(pl.version): entries}
    pl.state = "modify-complete"
    session.flush()
    return pl


def _prefix_list_user(session: Session, prefix_list_id: str) -> str | None:
    """A route table or security group that references the list, if any."""
    from cove.services.ec2.tables.security import SecurityGroupRule
    from cove.services.ec2.tables.topology import Route

    table = session.scalars(
        select(Route.route_table_id).where(Route.destination_prefix_list_id == prefix_list_id).limit(1)
    ).first()
    if table is not None:
        return table
    return session.scalars(
        select(SecurityGroupRule.group_id).where(SecurityGroupRule.prefix_list_id == prefix_list_id).limit(1)
    ).first()


def delete_managed_prefix_list(
    session: Session, account_id: str, region: str, prefix_list_id: str
) -> dict[str, Any]:
    if any(pl["id"] == prefix_list_id for pl in aws_prefix_lists(region)):
        raise Ec2Error(
            f"The prefix list '{prefix_list_id}' is managed by AWS and cannot be deleted.",
            code="InvalidPrefixListModification",
        )
    pl = get_customer_prefix_list(session, account_id, region, prefix_list_id)
    user = _prefix_list_user(session, prefix_list_id)
    if user is not None:
        raise Ec2Error(
            f"The prefix list '{prefix_list_id}' is referenced by {user} and cannot be deleted.",
            code="PrefixListInUse",
        )
    # The row stays in "delete-complete" for Describe (as AWS shows deleted lists for a while).
    pl.state = "delete-complete"
    session.flush()
    return {**prefix_list_view(pl), "State": "delete-in-progress"}
