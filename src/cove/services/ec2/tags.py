"""Tags on EC2 resources: ``TagSpecifications`` at creation, kept as a JSON list on each row."""

from __future__ import annotations

from typing import Any

from cove.services.ec2.errors import Ec2Error

__all__ = ["MAX_TAGS", "merge_tags", "remove_tags", "tags_from_specifications"]

MAX_TAGS = 50


def tags_from_specifications(specs: list[dict[str, Any]] | None, resource_type: str) -> list[dict[str, str]]:
    """The tags meant for ``resource_type`` (``vpc``, ``subnet``, ``security-group``, …)."""
    tags: list[dict[str, str]] = []
    for spec in specs or []:
        kind = spec.get("ResourceType")
        if kind != resource_type:
            raise Ec2Error(
                f"'{kind}' is not a valid taggable resource type for this operation.",
                code="InvalidParameterValue",
            )
        tags = merge_tags(tags, spec.get("Tags", []))
    return tags


def merge_tags(existing: list[dict[str, str]], new: list[dict[str, Any]]) -> list[dict[str, str]]:
    merged = {t["Key"]: t["Value"] for t in existing}
    for tag in new:
        key = tag.get("Key", "")
        if key.lower().startswith("aws:"):
            raise Ec2Error(
                "Tag keys starting with 'aws:' are reserved for internal use", code="InvalidParameterValue"
            )
        merged[key] = tag.get("Value", "")
    if len(merged) > MAX_TAGS:
        raise Ec2Error(f"The maximum number of tags for a resource is {MAX_TAGS}.", code="TagLimitExceeded")
    return [{"Key": k, "Value": v} for k, v in merged.items()]


def remove_tags(existing: list[dict[str, str]], remove: list[dict[str, Any]]) -> list[dict[str, str]]:
    """DeleteTags semantics: a key alone removes the tag; key and value remove it only on a match."""
    out = []
    for tag in existing:
        drop = False
        for r in remove:
            if r.get("Key") == tag["Key"] and ("Value" not in r or r["Value"] == tag["Value"]):
                drop = True
        if not drop:
            out.append(tag)
    return out
