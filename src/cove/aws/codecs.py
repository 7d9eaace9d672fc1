"""One codec instance per protocol, and the error shape for requests no service claimed."""

from __future__ import annotations

import json
from functools import cache

from cove.aws.errors import ServiceError
from cove.aws.http import HttpRequest, HttpResponse
from cove.aws.protocols.base import Codec
from cove.aws.protocols.cbor import CborCodec
from cove.aws.protocols.common import xml_text as escape
from cove.aws.protocols.json import JsonCodec
from cove.aws.protocols.query import Ec2Codec, QueryCodec
from cove.aws.protocols.restjson import RestJsonCodec
from cove.aws.protocols.restxml import RestXmlCodec

__all__ = ["codec_for", "error_family", "fallback_error"]

_FAMILY = {
    "query": "query",
    "ec2": "ec2",
    "json": "json",
    "smithy-rpc-v2-cbor": "json",
    "rest-json": "rest-json",
    "rest-xml": "rest-xml",
}


@cache
def codec_for(protocol: str) -> Codec:
    codecs: dict[str, type[Codec]] = {
        "query": QueryCodec,
        "ec2": Ec2Codec,
        "json": JsonCodec,
        "smithy-rpc-v2-cbor": CborCodec,
        "rest-json": RestJsonCodec,
        "rest-xml": RestXmlCodec,
    }
    return codecs[protocol]()


def error_family(protocol: str) -> str:
    """Error codes differ by protocol family (``ValidationError`` vs ``ValidationException``...)."""
    return _FAMILY.get(protocol, "query")


def fallback_error(error: ServiceError, request_id: str, request: HttpRequest | None = None) -> HttpResponse:
    """For requests that never reached a service (unknown service, unparseable signature): answer
    in the shape the client most likely parses, XML for form posts and JSON otherwise."""
    if request is not None and "x-www-form-urlencoded" in request.headers.get("content-type", ""):
        xml = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return HttpResponse(
            status=error.status,
            headers={"content-type": "text/xml", "x-amzn-requestid": request_id},
            body=xml.encode(),
        )
    body = json.dumps({"__type": error.code, "message": error.message}).encode()
    return HttpResponse(
        status=error.status,
        headers={
            "content-type": "application/x-amz-json-1.1",
            "x-amzn-requestid": request_id,
            "x-amzn-errortype": error.code,
        },
        body=body,
    )
