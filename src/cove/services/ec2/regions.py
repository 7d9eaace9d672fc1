"""Regions, availability zones and account attributes: fixed facts about Cove's simulated AWS."""

from __future__ import annotations

from typing import Any

from cove.services.ec2.errors import Ec2Error
from cove.services.ec2.filters import FilterSpec, apply_filters, field

__all__ = [
    "REGIONS",
    "account_attributes",
    "availability_zones",
    "describe_availability_zones",
    "describe_regions",
    "zone_id_for",
]

# The commercial regions enabled by default, with the zone-id prefix AWS uses and their AZ count.
REGIONS: dict[str, tuple[str, int]] = {
    "us-east-1": ("use1", 6),
    "us-east-2": ("use2", 3),
    "us-west-1": ("usw1", 2),
    "us-west-2": ("usw2", 4),
    "ca-central-1": ("cac1", 3),
    "eu-west-1": ("euw1", 3),
    "eu-west-2": ("euw2", 3),
    "eu-west-3": ("euw3", 3),
    "eu-central-1": ("euc1", 3),
    "eu-north-1": ("eun1", 3),
    "ap-south-1": ("aps1", 3),
    "ap-northeast-1": ("apne1", 3),
    "ap-northeast-2": ("apne2", 4),
    "ap-northeast-3": ("apne3", 3),
    "ap-southeast-1": ("apse1", 3),
    "ap-southeast-2": ("apse2", 3),
    "sa-east-1": ("sae1", 3),
}

# Zone letters map to physical zones per account in AWS; us-west-1's two zones are "a" and "b" here
# (accounts see a/b, b/c or a/c), the pair boto3-based suites written against older accounts expect.
_ZONE_LETTERS = {"us-west-1": "ab"}

_ZONE_FILTERS: FilterSpec = {
    "group-name": field("GroupName"),
    "message": field("Messages"),
    "opt-in-status": field("OptInStatus"),
    "parent-zone-id": field("ParentZoneId"),
    "parent-zone-name": field("ParentZoneName"),
    "region-name": field("RegionName"),
    "state": field("State"),
    "zone-id": field("ZoneId"),
    "zone-name": field("ZoneName"),
    "zone-type": field("ZoneType"),
}

_REGION_FILTERS: FilterSpec = {
    "endpoint": field("Endpoint"),
    "opt-in-status": field("OptInStatus"),
    "region-name": field("RegionName"),
}


def _prefix(region: str) -> tuple[str, int]:
    known = REGIONS.get(region)
    if known:
        return known
    return "".join(part[0] if not part.isdigit() else part for part in region.split("-")), 3


def availability_zones(region: str) -> list[tuple[str, str]]:
    """(zone name, zone id) pairs of ``region`` in order: ``("us-east-1a", "use1-az1")``…"""
    prefix, count = _prefix(region)
    letters = _ZONE_LETTERS.get(region, "abcdefgh"[:count])
    return [(f"{region}{letter}", f"{prefix}-az{i + 1}") for i, letter in enumerate(letters)]


def zone_id_for(region: str, zone_name: str) -> str | None:
    return dict(availability_zones(region)).get(zone_name)


def _zone_view(region: str, name: str, zone_id: str) -> dict[str, Any]:
    return {
        "OptInStatus": "opt-in-not-required",
        "Messages": [],
        "RegionName": region,
        "ZoneName": name,
        "ZoneId": zone_id,
        "GroupName": region,
        "NetworkBorderGroup": region,
        "ZoneType": "availability-zone",
        "GroupLongName": region,
        "State": "available",
    }


def describe_availability_zones(region: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    views = [_zone_view(region, name, zid) for name, zid in availability_zones(region)]
    names = params.get("ZoneNames") or []
    ids = params.get("ZoneIds") or []
    for wanted, key in ((names, "ZoneName"), (ids, "ZoneId")):
        known = {v[key] for v in views}
        for item in wanted:
            if item not in known:
                raise Ec2Error(f"The zone '{item}' does not exist.", code="InvalidParameterValue")
    if names or ids:
        views = [v for v in views if v["ZoneName"] in names or v["ZoneId"] in ids]
    return [dict(v) for v in apply_filters(views, params.get("Filters"), _ZONE_FILTERS)]


def describe_regions(params: dict[str, Any]) -> list[dict[str, Any]]:
    views = [
        {"RegionName": r, "Endpoint": f"ec2.{r}.amazonaws.com", "OptInStatus": "opt-in-not-required"}
        for r in REGIONS
    ]
    names = params.get("RegionNames") or []
    if names:
        unknown = [n for n in names if n not in REGIONS]
        if unknown:
            raise Ec2Error(f"Invalid region names: {', '.join(unknown)}", code="InvalidParameterValue")
        views = [v for v in views if v["RegionName"] in names]
    return [dict(v) for v in apply_filters(views, params.get("Filters"), _REGION_FILTERS)]


def account_attributes(default_vpc_id: str | None, names: list[str] | None) -> list[dict[str, Any]]:
    values: dict[str, list[str]] = {
        "supported-platforms": ["VPC"],
        "default-vpc": [default_vpc_id or "none"],
        "max-instances": ["20"],
        "vpc-max-security-groups-per-interface": ["5"],
        "max-elastic-ips": ["5"],
        "vpc-max-elastic-ips": ["5"],
    }
    wanted = names or list(values)
    out = []
    for name in wanted:
        if name not in values:
            raise Ec2Error(f"The attribute '{name}' is not supported.", code="InvalidParameterValue")
        out.append({"AttributeName": name, "AttributeValues": [{"AttributeValue": v} for v in values[name]]})
    return out
