"""Fixtures for the S3 tests: unique bucket names on the session server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import ClientFactory


@pytest.fixture
def s3(client: ClientFactory) -> Any:
    return client("s3")


@pytest.fixture
def new_bucket(s3: Any) -> Iterator[Callable[[], str]]:
    """Makes buckets with unique names; empties and deletes them afterwards."""
    made: list[str] = []

    def make() -> str:
        name = f"t-{uuid.uuid4().hex[:20]}"
        s3.create_bucket(Bucket=name)
        made.append(name)
        return name

    yield make
    for name in made:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=item["Key"])
        for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
        s3.delete_bucket(Bucket=name)


@pytest.fixture
def bucket(new_bucket: Callable[[], str]) -> str:
    return new_bucket()
