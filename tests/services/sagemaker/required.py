"""Walk a parsed response against its botocore shape: every required member present."""

from __future__ import annotations

from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape


def missing_required(shape: Shape, value: Any, path: str = "") -> list[str]:
    missing: list[str] = []
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for name in shape.required_members:
            if name not in value:
                missing.append(f"{path}.{name}" if path else name)
        for name, member in shape.members.items():
            if name in value:
                missing += missing_required(member, value[name], f"{path}.{name}" if path else name)
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for n, item in enumerate(value):
            missing += missing_required(shape.member, item, f"{path}[{n}]")
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        for key, item in value.items():
            missing += missing_required(shape.value, item, f"{path}.{key}")
    return missing
