"""The ``query`` (IAM, STS, CloudWatch legacy) and ``ec2`` protocols.

Requests are url-encoded forms whose keys flatten the input shape exactly as botocore's
``QuerySerializer``/``EC2Serializer`` write them; responses are XML read back by botocore's
``QueryParser``/``EC2QueryParser``. The two protocols differ only in member naming, list
flattening and the response/error envelopes, so :class:`Ec2Codec` is a thin subclass.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from cove.aws.errors import InvalidParameterValue, ServiceError
from cove.aws.http import HttpRequest, HttpResponse
from cove.aws.protocols import common
from cove.aws.protocols.common import xml_text as escape

__all__ = ["Ec2Codec", "QueryCodec", "looks_like"]

_FORM = "application/x-www-form-urlencoded"
_XML = "text/xml"


def looks_like(request: HttpRequest) -> bool:
    """True when the request is a query/ec2 call: a form body (or GET query) naming an ``Action``."""
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith(_FORM):
        return "Action" in request.form()
    if request.method.upper() == "GET" and not request.body:
        return any(key == "Action" for key, _ in request.query_items())
    return False


class _FormReader:
    """A flat form with the set of every dotted prefix of its keys, so a lookup of a nested
    structure or list element is one set membership test instead of a scan."""

    def __init__(self, form: dict[str, str]) -> None:
        self.form = form
        self.prefixes: set[str] = set()
        for key in form:
            parts = key.split(".")
            for end in range(1, len(parts)):
                self.prefixes.add(".".join(parts[:end]))

    def has_children(self, prefix: str) -> bool:
        return prefix in self.prefixes

    def present(self, key: str) -> bool:
        return key in self.form or key in self.prefixes


class QueryCodec:
    """Codec for the ``query`` protocol."""

    list_member_default = "member"

    # -- request ---------------------------------------------------------------------------------

    def operation_for(self, service: ServiceModel, request: HttpRequest) -> OperationModel | None:
        action = request.form().get("Action")
        if not action:
            action = dict(request.query_items()).get("Action")
        if not action or action not in service.operation_names:
            return None
        return service.operation_model(action)

    def parse(self, operation: OperationModel, request: HttpRequest) -> dict[str, Any]:
        form = request.form()
        if request.body:
            # A POST may still carry parameters in its query string; the body wins on conflicts.
            form = {**dict(request.query_items()), **form}
        shape = operation.input_shape
        if shape is None:
            return {}
        reader = _FormReader(form)
        return self._parse_structure(reader, shape, "")

    def _wire_name(self, shape: Shape, default: str) -> str:
        return common.serialized_name(shape, default)

    def _join(self, prefix: str, name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    def _parse_value(self, reader: _FormReader, shape: Shape, key: str) -> Any:
        if isinstance(shape, StructureShape):
            return self._parse_structure(reader, shape, key)
        if isinstance(shape, ListShape):
            return self._parse_list(reader, shape, key)
        if isinstance(shape, MapShape):
            return self._parse_map(reader, shape, key)
        return self._parse_scalar(shape, reader.form[key], key)

    def _parse_structure(self, reader: _FormReader, shape: StructureShape, prefix: str) -> dict[str, Any]:
        parsed: dict[str, Any] = {}
        for name, member in shape.members.items():
            key = self._join(prefix, self._wire_name(member, name))
            if isinstance(member, ListShape):
                value = self._parse_list(reader, member, key)
                if value is not None:
                    parsed[name] = value
            elif isinstance(member, StructureShape | MapShape):
                if reader.has_children(key) or reader.form.get(key) == "":
                    parsed[name] = self._parse_value(reader, member, key)
            elif key in reader.form:
                parsed[name] = self._parse_scalar(member, reader.form[key], key)
        return parsed

    def _list_prefix(self, shape: ListShape, key: str) -> str:
        if shape.serialization.get("flattened"):
            member_name = shape.member.serialization.get("name")
            if member_name:
                return ".".join([*key.split(".")[:-1], member_name])
            return key
        return f"{key}.{shape.member.serialization.get('name', self.list_member_default)}"

    def _parse_list(self, reader: _FormReader, shape: ListShape, key: str) -> list[Any] | None:
        list_prefix = self._list_prefix(shape, key)
        items: list[Any] = []
        index = 1
        while reader.present(f"{list_prefix}.{index}"):
            items.append(self._parse_value(reader, shape.member, f"{list_prefix}.{index}"))
            index += 1
        if items:
            return items
        # botocore writes an empty list as the bare key with an empty value.
        if reader.form.get(key) == "":
            return []
        return None

    def _parse_map(self, reader: _FormReader, shape: MapShape, key: str) -> dict[str, Any]:
        entry_prefix = key if shape.serialization.get("flattened") else f"{key}.entry"
        key_name = self._wire_name(shape.key, "key")
        value_name = self._wire_name(shape.value, "value")
        parsed: dict[str, Any] = {}
        index = 1
        while reader.present(f"{entry_prefix}.{index}"):
            base = f"{entry_prefix}.{index}"
            entry_key = reader.form.get(f"{base}.{key_name}", "")
            value_key = f"{base}.{value_name}"
            if reader.present(value_key):
                parsed[entry_key] = self._parse_value(reader, shape.value, value_key)
            index += 1
        return parsed

    def _parse_scalar(self, shape: Shape, text: str, key: str) -> Any:
        try:
            return self._convert_scalar(shape, text)
        except ValueError as exc:
            raise InvalidParameterValue(f"Value ({text}) for parameter {key} is invalid: {exc}") from exc

    def _convert_scalar(self, shape: Shape, text: str) -> Any:
        kind = shape.type_name
        if kind in ("integer", "long", "short", "byte"):
            return int(text)
        if kind in ("float", "double"):
            return common.parse_float(text)
        if kind == "boolean":
            return common.parse_bool(text)
        if kind == "timestamp":
            return common.parse_timestamp(text)
        if kind == "blob":
            return common.decode_blob(text)
        return text

    # -- response --------------------------------------------------------------------------------

    def serialize(self, operation: OperationModel, output: dict[str, Any], request_id: str) -> HttpResponse:
        output = common.strip_metadata(output)
        namespace = self._namespace(operation.service_model)
        parts: list[str] = [f"<{operation.name}Response xmlns={quoteattr(namespace)}>"]
        self._write_body(parts, operation, output, request_id)
        parts.append(f"</{operation.name}Response>")
        return self._xml_response(200, "".join(parts), request_id)

    def _write_body(
        self, parts: list[str], operation: OperationModel, output: dict[str, Any], request_id: str
    ) -> None:
        shape = operation.output_shape
        if shape is not None:
            wrapper = shape.serialization.get("resultWrapper")
            if wrapper:
                parts.append(f"<{wrapper}>")
            self._write_members(parts, shape, output)
            if wrapper:
                parts.append(f"</{wrapper}>")
        parts.append(f"<ResponseMetadata><RequestId>{escape(request_id)}</RequestId></ResponseMetadata>")

    def serialize_error(
        self, service: ServiceModel, operation: OperationModel | None, error: ServiceError, request_id: str
    ) -> HttpResponse:
        fault = "Sender" if error.sender_fault else "Receiver"
        namespace = self._namespace(service)
        body = (
            f"<ErrorResponse xmlns={quoteattr(namespace)}><Error><Type>{fault}</Type>"
            f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
            f"{_extra(error)}</Error><RequestId>{escape(request_id)}</RequestId></ErrorResponse>"
        )
        return self._xml_response(error.status, body, request_id)

    def _namespace(self, service: ServiceModel) -> str:
        return str(service.metadata.get("xmlNamespace", ""))

    def _xml_response(self, status: int, body: str, request_id: str) -> HttpResponse:
        return HttpResponse(
            status=status,
            headers={"Content-Type": _XML, "x-amzn-RequestId": request_id},
            body=('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8"),
        )

    def _element_name(self, shape: Shape, member_name: str) -> str:
        # Mirrors botocore's _member_key_name: a flattened list is named after its member.
        if isinstance(shape, ListShape) and shape.serialization.get("flattened"):
            inner = shape.member.serialization.get("name")
            if inner:
                return str(inner)
        return common.serialized_name(shape, member_name)

    def _write_members(self, parts: list[str], shape: StructureShape, value: dict[str, Any]) -> None:
        for name, member in shape.members.items():
            if name not in value or value[name] is None:
                continue
            self._write_element(parts, member, self._element_name(member, name), value[name])

    def _write_element(self, parts: list[str], shape: Shape, tag: str, value: Any) -> None:
        if isinstance(shape, ListShape):
            if shape.serialization.get("flattened"):
                for item in value:
                    self._write_element(parts, shape.member, tag, item)
                return
            inner = common.serialized_name(shape.member, self.list_member_default)
            parts.append(f"<{tag}>")
            for item in value:
                self._write_element(parts, shape.member, inner, item)
            parts.append(f"</{tag}>")
            return
        if isinstance(shape, MapShape):
            key_name = common.serialized_name(shape.key, "key")
            value_name = common.serialized_name(shape.value, "value")
            flattened = bool(shape.serialization.get("flattened"))
            if not flattened:
                parts.append(f"<{tag}>")
            for entry_key, entry_value in value.items():
                parts.append(f"<{tag}>" if flattened else "<entry>")
                self._write_element(parts, shape.key, key_name, entry_key)
                if entry_value is not None:
                    self._write_element(parts, shape.value, value_name, entry_value)
                parts.append(f"</{tag}>" if flattened else "</entry>")
            if not flattened:
                parts.append(f"</{tag}>")
            return
        if isinstance(shape, StructureShape):
            parts.append(f"<{tag}>")
            self._write_members(parts, shape, value)
            parts.append(f"</{tag}>")
            return
        parts.append(f"<{tag}>{escape(self._scalar_text(shape, value))}</{tag}>")

    def _scalar_text(self, shape: Shape, value: Any) -> str:
        kind = shape.type_name
        if kind == "boolean":
            return common.format_bool(value)
        if kind == "timestamp":
            return str(common.format_timestamp(value, common.timestamp_format(shape, common.ISO8601)))
        if kind == "blob":
            return common.encode_blob(value)
        if kind in ("float", "double"):
            return common.format_float(value)
        if kind in ("integer", "long", "short", "byte"):
            return str(int(value))
        return str(value)


class Ec2Codec(QueryCodec):
    """Codec for the ``ec2`` protocol: lists without ``.member``, capitalised ``locationName`` or
    ``queryName`` on input, ``<item>`` lists and a ``requestId`` element on output."""

    list_member_default = "item"

    def _wire_name(self, shape: Shape, default: str) -> str:
        if "queryName" in shape.serialization:
            return str(shape.serialization["queryName"])
        name = shape.serialization.get("name")
        if name:
            return str(name[0].upper() + name[1:])
        return default

    def _list_prefix(self, shape: ListShape, key: str) -> str:
        return key

    def _namespace(self, service: ServiceModel) -> str:
        namespace = super()._namespace(service)
        return namespace if namespace.endswith("/") else namespace + "/"

    def _write_body(
        self, parts: list[str], operation: OperationModel, output: dict[str, Any], request_id: str
    ) -> None:
        parts.append(f"<requestId>{escape(request_id)}</requestId>")
        shape = operation.output_shape
        if shape is not None:
            self._write_members(parts, shape, output)

    def serialize_error(
        self, service: ServiceModel, operation: OperationModel | None, error: ServiceError, request_id: str
    ) -> HttpResponse:
        body = (
            f"<Response><Errors><Error><Code>{escape(error.code)}</Code>"
            f"<Message>{escape(error.message)}</Message>{_extra(error)}</Error></Errors>"
            f"<RequestID>{escape(request_id)}</RequestID></Response>"
        )
        return self._xml_response(error.status, body, request_id)


def _extra(error: ServiceError) -> str:
    return "".join(f"<{key}>{escape(str(value))}</{key}>" for key, value in error.extra.items())
