"""The rest-xml protocol (S3, and Route 53 / CloudFront style services): REST locations plus an
XML body; the inverse of botocore's ``RestXMLSerializer`` / ``RestXMLParser``.

S3 differs from the other rest-xml services in a few well-known ways, all keyed on
``serviceId == "S3"``: virtual-host addressing, its bare ``<Error>`` document with ``RequestId`` and
``HostId``, the ``x-amz-request-id``/``x-amz-id-2`` headers, ``Content-MD5`` checking, the root
element names its documents carry, and ``GetBucketLocation``'s text-only document.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any
from xml.etree import ElementTree

from botocore.model import OperationModel, ServiceModel, Shape

from cove.aws.errors import ServiceError
from cove.aws.http import HttpRequest, HttpResponse
from cove.aws.protocols.common import (
    ISO8601,
    decode_blob,
    encode_blob,
    format_bool,
    format_float,
    format_timestamp,
    parse_float,
    parse_timestamp,
    timestamp_format,
)
from cove.aws.protocols.rest import RestCodec, is_s3

__all__ = ["S3_NAMESPACE", "RestXmlCodec", "from_xml", "s3_host_id", "to_xml"]

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_NAMESPACE_RE = re.compile(r"^\{.*?\}")

# The root element S3 gives documents whose output shape names none (botocore ignores the root;
# other SDKs and tools do not). Operations not listed get "<Operation>Result".
_S3_ROOTS = {
    "ListBuckets": "ListAllMyBucketsResult",
    "ListDirectoryBuckets": "ListAllMyDirectoryBucketsResult",
    "ListObjects": "ListBucketResult",
    "ListObjectsV2": "ListBucketResult",
    "ListObjectVersions": "ListVersionsResult",
    "ListMultipartUploads": "ListMultipartUploadsResult",
    "ListParts": "ListPartsResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CompleteMultipartUpload": "CompleteMultipartUploadResult",
    "DeleteObjects": "DeleteResult",
    "GetBucketAcl": "AccessControlPolicy",
    "GetObjectAcl": "AccessControlPolicy",
    "GetBucketTagging": "Tagging",
    "GetObjectTagging": "Tagging",
    "GetBucketVersioning": "VersioningConfiguration",
    "GetBucketCors": "CORSConfiguration",
    "GetBucketLifecycleConfiguration": "LifecycleConfiguration",
    "GetBucketLogging": "BucketLoggingStatus",
    "GetBucketNotificationConfiguration": "NotificationConfiguration",
    "GetBucketWebsite": "WebsiteConfiguration",
    "GetBucketRequestPayment": "RequestPaymentConfiguration",
    "GetBucketAccelerateConfiguration": "AccelerateConfiguration",
    "GetObjectAttributes": "GetObjectAttributesResponse",
}
# Operations whose whole document is one text element (botocore reads ``root.text``).
_S3_TEXT_ROOTS = {"GetBucketLocation": "LocationConstraint"}


def s3_host_id(request_id: str) -> str:
    """A stable ``x-amz-id-2`` for a request id (S3's opaque host id)."""
    return base64.b64encode(hashlib.sha256(request_id.encode("utf-8")).digest()).decode("ascii")


def _local(tag: str) -> str:
    return _NAMESPACE_RE.sub("", tag)


def _member_key(member: Shape, name: str) -> str:
    # Mirrors botocore's _member_key_name: a flattened list is named after its member's
    # locationName when it has one.
    if member.type_name == "list" and member.serialization.get("flattened"):
        inner = member.member.serialization.get("name")
        if inner is not None:
            return str(inner)
    return str(member.serialization.get("name", name))


def _children(node: ElementTree.Element) -> dict[str, list[ElementTree.Element]]:
    grouped: dict[str, list[ElementTree.Element]] = {}
    for child in node:
        grouped.setdefault(_local(child.tag), []).append(child)
    return grouped


def _attribute(node: ElementTree.Element, wire: str) -> str | None:
    prefix, _, local = wire.rpartition(":")
    for key, value in node.attrib.items():
        if key == wire or (prefix and key.startswith("{") and _local(key) == local):
            return value
    return None


def _structure_from_xml(shape: Shape, node: ElementTree.Element, skip_located: bool) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    grouped = _children(node)
    for name, member in shape.members.items():
        if skip_located and "location" in member.serialization:
            continue
        if member.serialization.get("xmlAttribute"):
            value = _attribute(node, str(member.serialization.get("name", name)))
            if value is not None:
                parsed[name] = value
            continue
        # botocore's serializer names flattened list items after the member, its parser after
        # the list's member; accept either.
        nodes = grouped.get(_member_key(member, name)) or grouped.get(
            str(member.serialization.get("name", name))
        )
        if not nodes:
            continue
        flattened = member.type_name in ("list", "map") and member.serialization.get("flattened")
        parsed[name] = from_xml(member, nodes if flattened else nodes[0])
    return parsed


def from_xml(shape: Shape, node: ElementTree.Element | list[ElementTree.Element]) -> Any:
    """An XML element (a list of sibling elements for flattened lists and maps) as the Python value
    boto3 accepts for ``shape``."""
    kind = shape.type_name
    if kind == "list":
        items = node if isinstance(node, list) else list(node)
        return [from_xml(shape.member, item) for item in items]
    if kind == "map":
        entries = node if isinstance(node, list) else list(node)
        key_name = str(shape.key.serialization.get("name", "key"))
        value_name = str(shape.value.serialization.get("name", "value"))
        parsed: dict[str, Any] = {}
        for entry in entries:
            pair = _children(entry)
            if key_name in pair:
                value_nodes = pair.get(value_name)
                parsed[from_xml(shape.key, pair[key_name][0])] = (
                    from_xml(shape.value, value_nodes[0]) if value_nodes else None
                )
        return parsed
    element = node[0] if isinstance(node, list) else node
    if kind == "structure":
        return _structure_from_xml(shape, element, skip_located=False)
    text = element.text or ""
    if kind == "boolean":
        return text.strip() == "true"
    if kind in ("integer", "long", "short", "byte"):
        return int(text)
    if kind in ("float", "double"):
        return parse_float(text)
    if kind == "timestamp":
        return parse_timestamp(text)
    if kind == "blob":
        return decode_blob(text)
    return text


def _add_namespace(shape: Shape, node: ElementTree.Element) -> None:
    namespace = shape.serialization.get("xmlNamespace")
    if isinstance(namespace, dict):
        attribute = "xmlns:" + namespace["prefix"] if namespace.get("prefix") else "xmlns"
        node.set(attribute, str(namespace["uri"]))
    elif isinstance(namespace, str):
        node.set("xmlns", namespace)


def _fill_structure(
    shape: Shape, node: ElementTree.Element, value: dict[str, Any], skip_located: bool
) -> None:
    for name, member in shape.members.items():
        item = value.get(name)
        if item is None or (skip_located and "location" in member.serialization):
            continue
        if member.serialization.get("xmlAttribute"):
            node.set(str(member.serialization.get("name", name)), _scalar_text(member, item))
            continue
        to_xml(node, member, item, _member_key(member, name))


def _scalar_text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return format_bool(value)
    if kind in ("float", "double"):
        return format_float(value)
    if kind == "timestamp":
        return str(format_timestamp(value, timestamp_format(shape, ISO8601)))
    if kind == "blob":
        return encode_blob(value)
    return str(value)


def to_xml(parent: ElementTree.Element, shape: Shape, value: Any, name: str) -> None:
    """Append ``value`` to ``parent`` as element(s) called ``name``, the way botocore's
    ``RestXMLParser`` reads them back."""
    kind = shape.type_name
    if kind == "structure":
        node = ElementTree.SubElement(parent, name)
        _add_namespace(shape, node)
        _fill_structure(shape, node, value, skip_located=False)
    elif kind == "list":
        if shape.serialization.get("flattened"):
            for item in value:
                to_xml(parent, shape.member, item, name)
        else:
            node = ElementTree.SubElement(parent, name)
            _add_namespace(shape, node)
            item_name = str(shape.member.serialization.get("name", "member"))
            for item in value:
                to_xml(node, shape.member, item, item_name)
    elif kind == "map":
        key_name = str(shape.key.serialization.get("name", "key"))
        value_name = str(shape.value.serialization.get("name", "value"))
        flattened = bool(shape.serialization.get("flattened"))
        container = parent
        if not flattened:
            container = ElementTree.SubElement(parent, name)
            _add_namespace(shape, container)
        for key, item in value.items():
            entry = ElementTree.SubElement(container, name if flattened else "entry")
            to_xml(entry, shape.key, key, key_name)
            to_xml(entry, shape.value, item, value_name)
    else:
        node = ElementTree.SubElement(parent, name)
        node.text = _scalar_text(shape, value)
        _add_namespace(shape, node)


def _document(root: ElementTree.Element) -> bytes:
    text: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=False)
    return _XML_DECLARATION + text


def _parse_xml(body: bytes) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise ServiceError(
            "The XML you provided was not well-formed or did not validate against our published schema.",
            code="MalformedXML",
            status=400,
        ) from exc


class RestXmlCodec(RestCodec):
    content_type = "application/xml"

    # ---- request side

    def parse(self, operation: OperationModel, request: HttpRequest) -> dict[str, Any]:
        if is_s3(operation.service_model):
            _check_content_md5(request)
        return super().parse(operation, request)

    def parse_body(self, shape: Shape, body: bytes) -> dict[str, Any]:
        return _structure_from_xml(shape, _parse_xml(body), skip_located=True)

    def parse_document(self, shape: Shape, body: bytes, member_name: str) -> Any:
        return from_xml(shape, _parse_xml(body))

    # ---- response side

    def request_id_headers(self, service: ServiceModel, request_id: str) -> dict[str, str]:
        if is_s3(service):
            return {"x-amz-request-id": request_id, "x-amz-id-2": s3_host_id(request_id)}
        return {"x-amzn-RequestId": request_id}

    def _namespace(self, service: ServiceModel, shape: Shape) -> str | None:
        if "xmlNamespace" in shape.serialization:
            return None  # the shape writes its own
        if is_s3(service):
            return S3_NAMESPACE
        namespace = service.metadata.get("xmlNamespace")
        return str(namespace) if namespace else None

    def serialize_body(self, operation: OperationModel, shape: Shape, values: dict[str, Any]) -> bytes:
        service = operation.service_model
        text_root = _S3_TEXT_ROOTS.get(operation.name) if is_s3(service) else None
        if text_root is not None:
            root = ElementTree.Element(text_root)
            root.set("xmlns", S3_NAMESPACE)
            member = shape.members.get(text_root)
            value = values.get(text_root)
            if member is not None and value is not None:
                root.text = _scalar_text(member, value)
            return _document(root)
        if not values:
            return b""
        name = shape.serialization.get("name")
        if name is None:
            name = _S3_ROOTS.get(operation.name) if is_s3(service) else None
        root = ElementTree.Element(str(name or f"{operation.name}Result"))
        namespace = self._namespace(service, shape)
        if namespace:
            root.set("xmlns", namespace)
        _add_namespace(shape, root)
        _fill_structure(shape, root, values, skip_located=True)
        return _document(root)

    def serialize_document(
        self, operation: OperationModel, shape: Shape, value: Any, member_name: str
    ) -> bytes:
        holder = ElementTree.Element("holder")
        to_xml(holder, shape, value, str(shape.serialization.get("name", member_name)))
        root = holder[0]
        namespace = self._namespace(operation.service_model, shape)
        if namespace and "xmlns" not in root.attrib:
            root.set("xmlns", namespace)
        return _document(root)

    def serialize_error(
        self, service: ServiceModel, operation: OperationModel | None, error: ServiceError, request_id: str
    ) -> HttpResponse:
        response = HttpResponse(status=error.status, headers=self.request_id_headers(service, request_id))
        # botocore derives Code from the status for bodiless answers ("404" / "Not Found"), which
        # is exactly what S3 does for HEAD.
        if operation is not None and str(operation.http.get("method", "")).upper() == "HEAD":
            return response
        if is_s3(service):
            root = ElementTree.Element("Error")
            ElementTree.SubElement(root, "Code").text = error.code
            ElementTree.SubElement(root, "Message").text = error.message
            for key, value in error.extra.items():
                ElementTree.SubElement(root, key).text = str(value)
            ElementTree.SubElement(root, "RequestId").text = request_id
            ElementTree.SubElement(root, "HostId").text = s3_host_id(request_id)
        else:
            root = ElementTree.Element("ErrorResponse")
            namespace = service.metadata.get("xmlNamespace")
            if namespace:
                root.set("xmlns", str(namespace))
            detail = ElementTree.SubElement(root, "Error")
            ElementTree.SubElement(detail, "Type").text = "Sender" if error.sender_fault else "Receiver"
            ElementTree.SubElement(detail, "Code").text = error.code
            ElementTree.SubElement(detail, "Message").text = error.message
            for key, value in error.extra.items():
                ElementTree.SubElement(detail, key).text = str(value)
            ElementTree.SubElement(root, "RequestId").text = request_id
        response.headers["Content-Type"] = self.content_type
        response.body = _document(root)
        return response


def _check_content_md5(request: HttpRequest) -> None:
    claimed = request.headers.get("content-md5")
    if claimed is None or request.stream is not None:
        # A streamed body is not here yet: the handler checks its MD5 as it stores it.
        return
    try:
        digest = base64.b64decode(claimed.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ServiceError(
            "The Content-MD5 you specified was invalid.", code="InvalidDigest", status=400
        ) from exc
    if len(digest) != 16:
        raise ServiceError("The Content-MD5 you specified was invalid.", code="InvalidDigest", status=400)
    if hashlib.md5(request.body).digest() != digest:
        raise ServiceError(
            "The Content-MD5 you specified did not match what we received.", code="BadDigest", status=400
        )
