"""Shared machinery of the REST protocols (rest-json and rest-xml).

Both protocols put members in the same places (URI labels, query string, headers, a header-prefix
map, the status code, a payload member); they differ only in how the body document is written.
:class:`RestCodec` does everything but the body; subclasses supply the document format.

Operation matching builds, once per service model, an index of every operation's
``http.requestUri`` template compiled to a regex; a request is matched on method, path, the
template's literal query keys (``/{Bucket}?uploads``) and then ranked by specificity so that S3's
many operations sharing ``GET /{Bucket}`` resolve the way S3 resolves them.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from botocore.model import OperationModel, ServiceModel, Shape

from cove.aws.errors import ServiceError
from cove.aws.http import HttpRequest, HttpResponse
from cove.aws.protocols.common import (
    ISO8601,
    RFC822,
    format_bool,
    format_float,
    format_timestamp,
    parse_bool,
    parse_float,
    parse_timestamp,
    timestamp_format,
    to_bytes,
)

__all__ = [
    "RestCodec",
    "Route",
    "RouteIndex",
    "format_header_value",
    "is_s3",
    "parse_header_value",
    "s3_bucket_from_host",
    "s3_path_style",
    "split_header_list",
]

# Hosts whose first label is a bucket name when S3 is addressed virtual-host style.
DEFAULT_S3_BASE_HOSTS: tuple[str, ...] = ("localhost",)
_S3_HOST_RE = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.\-]*?)\.s3[.\-]")
_IPV4_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def is_s3(service: ServiceModel) -> bool:
    return bool(service.metadata.get("serviceId") == "S3")


def s3_bucket_from_host(host: str, base_hosts: Iterable[str] = DEFAULT_S3_BASE_HOSTS) -> str | None:
    """The bucket a virtual-host style S3 request addresses, or None for path style.

    ``<bucket>.s3.<anything>`` / ``<bucket>.s3-<region>.<anything>`` (AWS's own spellings) and
    ``<bucket>.<base>`` for each of ``base_hosts`` (``bucket.localhost:9000``) name a bucket; a
    bare base host, ``s3.<anything>`` and IP addresses do not.
    """
    name = host.strip().lower()
    if name.startswith("["):
        return None
    name = name.rsplit(":", 1)[0] if ":" in name else name
    if not name or _IPV4_RE.match(name):
        return None
    match = _S3_HOST_RE.match(name)
    if match:
        return match.group("bucket")
    for base in base_hosts:
        suffix = "." + base.lower()
        if name.endswith(suffix) and len(name) > len(suffix):
            bucket = name[: -len(suffix)]
            # ``s3.localhost`` is the service endpoint itself, not a bucket called "s3".
            return None if bucket == "s3" else bucket
    return None


def s3_path_style(request: HttpRequest, base_hosts: Iterable[str] = DEFAULT_S3_BASE_HOSTS) -> str:
    """The request's path rewritten to path style (``/bucket/key``) when the Host names a bucket."""
    bucket = s3_bucket_from_host(request.host, base_hosts)
    if bucket is None:
        return request.path
    if request.path in ("", "/"):
        return "/" + bucket
    return "/" + bucket + (request.path if request.path.startswith("/") else "/" + request.path)


# -- scalar values in URI, query string and headers ---------------------------------------------


def split_header_list(text: str) -> list[str]:
    """Split a comma separated header list, honouring the double quotes botocore puts around
    items holding a comma or a quote."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
    was_quoted = False
    index = 0
    while index < len(text):
        char = text[index]
        if quoted:
            if char == "\\" and index + 1 < len(text):
                current.append(text[index + 1])
                index += 1
            elif char == '"':
                quoted = False
            else:
                current.append(char)
        elif char == '"' and not "".join(current).strip():
            quoted = True
            was_quoted = True
            current = []
        elif char == ",":
            items.append("".join(current) if was_quoted else "".join(current).strip())
            current = []
            was_quoted = False
        else:
            if not was_quoted:
                current.append(char)
        index += 1
    items.append("".join(current) if was_quoted else "".join(current).strip())
    return items


def _text_to_value(shape: Shape, text: str, default_timestamp: str) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long", "short", "byte"):
        return int(text)
    if kind in ("float", "double"):
        return parse_float(text)
    if kind == "boolean":
        return parse_bool(text)
    if kind == "timestamp":
        return parse_timestamp(text)
    if kind == "blob":
        return text.encode("utf-8")
    return text


def _value_to_text(shape: Shape, value: Any, default_timestamp: str) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return format_bool(value)
    if kind in ("float", "double"):
        return format_float(value)
    if kind == "timestamp":
        return str(format_timestamp(value, timestamp_format(shape, default_timestamp)))
    if kind == "blob":
        return to_bytes(value).decode("utf-8")
    return str(value)


def parse_header_value(shape: Shape, text: str) -> Any:
    """A ``location: header`` member's value, the inverse of botocore's ``_convert_header_value``."""
    if shape.type_name == "list":
        member = shape.member
        if member.type_name == "timestamp" and timestamp_format(member, RFC822).lower() == RFC822:
            # RFC 822 dates contain a comma of their own: "Tue, 02 Jan 2024 ..., Wed, ..."
            parts = [part.strip() for part in text.split(",")]
            return [parse_timestamp(f"{parts[i]}, {parts[i + 1]}") for i in range(0, len(parts) - 1, 2)]
        return [parse_header_value(member, item) for item in split_header_list(text)]
    if shape.type_name == "string" and shape.serialization.get("jsonvalue"):
        return json.loads(base64.b64decode(text).decode("utf-8"))
    return _text_to_value(shape, text, RFC822)


def format_header_value(shape: Shape, value: Any) -> str:
    """A ``location: header`` member as botocore's ``RestParser`` reads it back."""
    if shape.type_name == "list":
        member = shape.member
        items = [item for item in value if item is not None]
        if member.type_name == "string":
            return ",".join(_quote_header_item(str(item)) for item in items)
        return ",".join(format_header_value(member, item) for item in items)
    if shape.type_name == "string" and shape.serialization.get("jsonvalue"):
        return base64.b64encode(json.dumps(value, separators=(",", ":")).encode("utf-8")).decode("ascii")
    return _value_to_text(shape, value, RFC822)


def _quote_header_item(item: str) -> str:
    # botocore's parser splits on commas and never unquotes, so only an item that would be split
    # anyway is quoted (the form RFC 7230 and other SDKs read).
    if "," in item:
        return '"' + item.replace('"', '\\"') + '"'
    return item


# -- operation matching --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    """One operation's compiled ``requestUri`` template."""

    operation: OperationModel
    pattern: re.Pattern[str]
    labels: dict[str, str]  # regex group -> label name (without the greedy '+')
    literal_query: tuple[tuple[str, str | None], ...]
    literal_chars: int
    greedy: bool
    required_query: tuple[str, ...]
    required_headers: tuple[str, ...]

    @classmethod
    def compile(cls, operation: OperationModel) -> Route:
        template = str(operation.http.get("requestUri", "/"))
        path, _, query = template.partition("?")
        regex: list[str] = []
        labels: dict[str, str] = {}
        literal_chars = 0
        greedy = False
        for index, piece in enumerate(re.split(r"(\{[^}]+\})", path)):
            if index % 2 == 0:
                regex.append(re.escape(piece))
                literal_chars += len(piece)
                continue
            name = piece[1:-1]
            group = f"g{len(labels)}"
            if name.endswith("+"):
                greedy = True
                labels[group] = name[:-1]
                regex.append(f"(?P<{group}>.+)")
            else:
                labels[group] = name
                regex.append(f"(?P<{group}>[^/]+)")
        # A trailing slash is tolerated: clients differ on "/bucket" versus "/bucket/".
        suffix = "" if path.endswith("/") else "/?"
        literal_query: list[tuple[str, str | None]] = []
        for part in filter(None, query.split("&")):
            key, sep, value = part.partition("=")
            literal_query.append((key, value if sep else None))
        required_query: list[str] = []
        required_headers: list[str] = []
        shape = operation.input_shape
        if shape is not None:
            for member_name in shape.required_members:
                member = shape.members[member_name]
                location = member.serialization.get("location")
                wire = str(member.serialization.get("name", member_name))
                if location == "querystring" and member.type_name != "map":
                    required_query.append(wire)
                elif location == "header":
                    required_headers.append(wire.lower())
        return cls(
            operation=operation,
            pattern=re.compile("".join(regex) + suffix),
            labels=labels,
            literal_query=tuple(literal_query),
            literal_chars=literal_chars,
            greedy=greedy,
            required_query=tuple(required_query),
            required_headers=tuple(required_headers),
        )

    def match(
        self, path: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> tuple[int, ...] | None:
        """The specificity of this route for the request (higher wins), or None if it does not apply."""
        if not self.pattern.fullmatch(path):
            return None
        for key, value in self.literal_query:
            if key not in query or (value is not None and value not in query[key]):
                return None
        if any(key not in query for key in self.required_query):
            return None
        if any(name not in headers for name in self.required_headers):
            return None
        return (
            self.literal_chars,
            len(self.literal_query) + len(self.required_query) + len(self.required_headers),
            0 if self.greedy else 1,
            0 if self.operation.deprecated else 1,
        )

    def labels_of(self, path: str) -> dict[str, str]:
        match = self.pattern.fullmatch(path)
        if match is None:
            return {}
        return {label: unquote(match.group(group)) for group, label in self.labels.items()}


class RouteIndex:
    """Every operation of one service, grouped by HTTP method."""

    def __init__(self, service: ServiceModel) -> None:
        self.by_method: dict[str, list[Route]] = {}
        # Model order breaks ties (ListBuckets before ListDirectoryBuckets).
        for name in service.operation_names:
            operation = service.operation_model(name)
            method = str(operation.http.get("method", "POST")).upper()
            self.by_method.setdefault(method, []).append(Route.compile(operation))
        self.by_name: dict[str, Route] = {
            route.operation.name: route for routes in self.by_method.values() for route in routes
        }

    def find(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> Route | None:
        best: Route | None = None
        best_score: tuple[int, ...] | None = None
        for route in self.by_method.get(method.upper(), ()):
            score = route.match(path, query, headers)
            if score is not None and (best_score is None or score > best_score):
                best, best_score = route, score
        return best


_INDEXES: weakref.WeakKeyDictionary[ServiceModel, RouteIndex] = weakref.WeakKeyDictionary()
_INDEX_LOCK = threading.Lock()


def _index_for(service: ServiceModel) -> RouteIndex:
    index = _INDEXES.get(service)
    if index is None:
        with _INDEX_LOCK:
            index = _INDEXES.get(service)
            if index is None:
                index = RouteIndex(service)
                _INDEXES[service] = index
    return index


def _query_multi(request: HttpRequest) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(request.query, keep_blank_values=True):
        query.setdefault(key, []).append(value)
    return query


# -- the codec -----------------------------------------------------------------------------------


class RestCodec:
    """Everything of a rest protocol but the body document (see the subclasses)."""

    #: The body's media type.
    content_type = "application/octet-stream"

    def __init__(self, s3_base_hosts: Iterable[str] = DEFAULT_S3_BASE_HOSTS) -> None:
        self.s3_base_hosts = tuple(s3_base_hosts)

    # ---- request side

    def request_path(self, service: ServiceModel, request: HttpRequest) -> str:
        """The path matched against URI templates (S3 virtual-host requests become path style)."""
        if is_s3(service):
            return s3_path_style(request, self.s3_base_hosts)
        return request.path or "/"

    def operation_for(self, service: ServiceModel, request: HttpRequest) -> OperationModel | None:
        route = _index_for(service).find(
            request.method, self.request_path(service, request), _query_multi(request), request.headers
        )
        return None if route is None else route.operation

    def parse(self, operation: OperationModel, request: HttpRequest) -> dict[str, Any]:
        shape = operation.input_shape
        if shape is None:
            return {}
        route = _index_for(operation.service_model).by_name[operation.name]
        labels = route.labels_of(self.request_path(operation.service_model, request))
        query = _query_multi(request)
        claimed_query = {key for key, _ in route.literal_query}
        params: dict[str, Any] = {}
        query_maps: list[tuple[str, Shape]] = []
        body_members: list[str] = []
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire = str(member.serialization.get("name", name))
            if location == "uri":
                if wire in labels:
                    params[name] = _text_to_value(member, labels[wire], ISO8601)
            elif location == "querystring":
                if member.type_name == "map":
                    query_maps.append((name, member))
                    continue
                claimed_query.add(wire)
                if wire not in query:
                    continue
                if member.type_name == "list":
                    params[name] = [_text_to_value(member.member, item, ISO8601) for item in query[wire]]
                else:
                    params[name] = _text_to_value(member, query[wire][-1], ISO8601)
            elif location == "header":
                header = request.headers.get(wire.lower())
                if header is not None and not (member.type_name == "list" and header == ""):
                    params[name] = parse_header_value(member, header)
            elif location == "headers":
                prefix = wire.lower()
                found = {
                    key[len(prefix) :]: value
                    for key, value in request.headers.items()
                    if key.lower().startswith(prefix) and len(key) > len(prefix)
                }
                if found:
                    params[name] = found
            elif member.serialization.get("hostLabel"):
                continue
            else:
                body_members.append(name)
        for name, member in query_maps:
            rest = {key: values for key, values in query.items() if key not in claimed_query}
            if rest:
                many = member.value.type_name == "list"
                params[name] = {key: (values if many else values[-1]) for key, values in rest.items()}
        params.update(self._host_labels(operation, request))
        payload = shape.serialization.get("payload")
        if payload is not None:
            member = shape.members[payload]
            if member.type_name == "blob":
                if request.stream is not None:
                    params[payload] = request.stream  # read by the handler as it stores it
                elif request.body:
                    params[payload] = request.body
            elif member.type_name == "string":
                if request.body:
                    params[payload] = request.body.decode("utf-8")
            elif request.body.strip():
                params[payload] = self.parse_document(member, request.body, payload)
        elif body_members and request.body.strip():
            params.update(self.parse_body(shape, request.body))
        return params

    def _host_labels(self, operation: OperationModel, request: HttpRequest) -> dict[str, Any]:
        endpoint = operation.endpoint or {}
        prefix = endpoint.get("hostPrefix")
        shape = operation.input_shape
        if not prefix or shape is None:
            return {}
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[A-Za-z0-9\\-]+)", re.escape(str(prefix)))
        match = re.match(pattern, request.host)
        if match is None:
            return {}
        return {name: value for name, value in match.groupdict().items() if name in shape.members}

    # ---- response side

    def serialize(self, operation: OperationModel, output: dict[str, Any], request_id: str) -> HttpResponse:
        shape = operation.output_shape
        response = HttpResponse(status=int(operation.http.get("responseCode", 200)))
        # A handler may answer with another success status, named as boto3 reports it (S3's 206
        # for a range, 304 for a GET whose If-None-Match matched).
        metadata = output.get("ResponseMetadata")
        if isinstance(metadata, dict) and "HTTPStatusCode" in metadata:
            response.status = int(metadata["HTTPStatusCode"])
        response.headers.update(self.request_id_headers(operation.service_model, request_id))
        if shape is None:
            return response
        body_values: dict[str, Any] = {}
        for name, member in shape.members.items():
            value = output.get(name)
            if value is None:
                continue
            location = member.serialization.get("location")
            wire = str(member.serialization.get("name", name))
            if location == "statusCode":
                response.status = int(value)
            elif location == "header":
                if member.type_name == "list" and not value:
                    continue
                response.headers[wire] = format_header_value(member, value)
            elif location == "headers":
                for key, item in value.items():
                    response.headers[wire + str(key)] = str(item)
            else:
                body_values[name] = value
        payload = shape.serialization.get("payload")
        if payload is not None:
            member = shape.members[payload]
            value = output.get(payload)
            if member.type_name in ("blob", "string"):
                if value is not None:
                    if _is_stream(value):
                        response.stream = iter(value)
                    else:
                        response.body = _payload_bytes(value)
                    response.headers.setdefault("Content-Type", "application/octet-stream")
            elif value is not None:
                response.body = self.serialize_document(operation, member, value, payload)
                response.headers["Content-Type"] = self.content_type
        else:
            body = self.serialize_body(operation, shape, body_values)
            if body:
                response.body = body
                response.headers["Content-Type"] = self.content_type
        return response

    def request_id_headers(self, service: ServiceModel, request_id: str) -> dict[str, str]:
        return {"x-amzn-RequestId": request_id}

    # ---- document format, supplied by subclasses

    def parse_body(self, shape: Shape, body: bytes) -> dict[str, Any]:
        """The members of ``shape`` that live in the body document."""
        raise NotImplementedError

    def parse_document(self, shape: Shape, body: bytes, member_name: str) -> Any:
        """A structure payload member."""
        raise NotImplementedError

    def serialize_body(self, operation: OperationModel, shape: Shape, values: dict[str, Any]) -> bytes:
        raise NotImplementedError

    def serialize_document(
        self, operation: OperationModel, shape: Shape, value: Any, member_name: str
    ) -> bytes:
        raise NotImplementedError

    def serialize_error(
        self, service: ServiceModel, operation: OperationModel | None, error: ServiceError, request_id: str
    ) -> HttpResponse:
        raise NotImplementedError


def _is_stream(value: Any) -> bool:
    """A payload handed over as an iterator of chunks (S3 object data) is sent as it is produced."""
    return not isinstance(value, bytes | bytearray | memoryview | str) and hasattr(value, "__next__")


def _payload_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview | str):
        return to_bytes(value)
    read = getattr(value, "read", None)
    if callable(read):
        return to_bytes(read())
    return b"".join(to_bytes(chunk) for chunk in value)
