"""S3 URIs and where SageMaker puts the objects of a channel on the instance's disk.

Pure functions, no network: the data agent (cove.runtime.transfer) lists and copies, these decide
which keys a host gets and under which local name.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

__all__ = ["S3Location", "illegal_key", "join_key", "local_name", "parse_s3_uri", "safe_relative", "shard"]


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str  # a key or a key prefix; "" = the whole bucket

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_s3_uri(uri: str) -> S3Location:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"S3 URI without a bucket: {uri!r}")
    return S3Location(bucket, key)


def join_key(prefix: str, relative: str) -> str:
    """``prefix`` + ``/`` + ``relative`` without doubling the slash SageMaker would reject later."""
    if not prefix:
        return relative
    return prefix.rstrip("/") + "/" + relative.lstrip("/")


def local_name(prefix: str, key: str) -> str:
    """The path relative to the channel directory where ``key`` (listed under ``prefix``) is written.

    SageMaker's rule (contract §1.5): when the prefix ends with ``/`` or the key continues with ``/``
    the prefix is a folder and is stripped whole; otherwise the prefix ends inside a name
    (``data/train`` matching ``data/train-data.csv``) and the whole basename is kept, so only what
    precedes the prefix's last ``/`` is stripped. A prefix naming the object itself gives its basename.
    """
    if not key.startswith(prefix):
        raise ValueError(f"key {key!r} is not under prefix {prefix!r}")
    rest = key[len(prefix) :]
    if prefix == "" or prefix.endswith("/"):
        return rest
    if rest.startswith("/"):
        return rest.lstrip("/")
    return key[prefix.rfind("/") + 1 :]


def illegal_key(key: str) -> bool:
    # SageMaker refuses keys whose '//' would make an empty path component on disk.
    return "//" in key


def shard(keys: list[str], host_index: int, host_count: int) -> list[str]:
    """ShardedByS3Key: the keys in S3 listing order (UTF-8 binary), dealt round-robin.

    SageMaker documents only that each of n hosts receives about 1/n of the objects (more hosts than
    objects leaves some empty); dealing keeps the shares within one object of each other and every
    object on exactly one host. ``host_index`` is 0-based (algo-1 is 0).
    """
    if host_count < 1 or not 0 <= host_index < host_count:
        raise ValueError(f"host {host_index} of {host_count}")
    ordered = sorted(keys, key=lambda k: k.encode("utf-8"))
    return ordered[host_index::host_count]


def safe_relative(name: str) -> str:
    """A relative path that cannot leave the directory it is joined to."""
    normal = posixpath.normpath("/" + name).lstrip("/")
    if not normal or normal == ".":
        raise ValueError(f"empty local name for {name!r}")
    return normal
