"""The rest-xml codec (S3 first) against botocore's RestXMLSerializer / RestXMLParser and a real
boto3 S3 client whose requests never leave the process."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import boto3
import pytest
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.handlers import parse_get_bucket_location

from cove.aws.errors import ServiceError
from cove.aws.http import HttpRequest, HttpResponse
from cove.aws.protocols.restxml import S3_NAMESPACE, RestXmlCodec

from .roundtrip import botocore_parse, operations, service_model, synthetic_payload, synthetic_service
from .test_rest import rest_input, rest_input_trip, rest_output, rest_output_trip

CODEC = RestXmlCodec()
# botocore cannot read its own deprecated GetBucketNotification shape (two members share the
# element name "Event"); GetBucketLocation is read by a handler, tested below.
_OUTPUT_SKIP = {("s3", "GetBucketNotification"), ("s3", "GetBucketLocation")}
_INPUT_SKIP = {("s3", "PutBucketNotification")}
CASES = [("s3", name) for name in operations("s3")] + [
    (service, name) for service in ("route53", "cloudfront") for name in operations(service, limit=25)
]


@pytest.mark.parametrize(("service", "name"), [case for case in CASES if case not in _INPUT_SKIP])
def test_request_round_trip(service: str, name: str) -> None:
    operation = service_model(service).operation_model(name)
    params = rest_input(operation)
    assert rest_input_trip(CODEC, "rest-xml", operation, params) == params


@pytest.mark.parametrize(("service", "name"), [case for case in CASES if case not in _OUTPUT_SKIP])
def test_response_round_trip(service: str, name: str) -> None:
    operation = service_model(service).operation_model(name)
    parsed, expected = rest_output_trip(CODEC, "rest-xml", operation, rest_output(operation))
    assert parsed == expected


def test_synthetic_traits_round_trip() -> None:
    operation = synthetic_service("rest-xml").operation_model("Echo")
    payload = synthetic_payload()
    # The serializer writes the input shape's locationName as root; the synthetic one has none.
    operation.input_shape.serialization["name"] = "EchoRequest"
    assert rest_input_trip(CODEC, "rest-xml", operation, payload) == payload
    parsed, expected = rest_output_trip(CODEC, "rest-xml", operation, payload)
    assert parsed == expected


def test_list_objects_document_shape() -> None:
    operation = service_model("s3").operation_model("ListObjectsV2")
    output = {
        "Name": "b",
        "KeyCount": 2,
        "IsTruncated": False,
        "Contents": [
            {"Key": "a", "Size": 1, "LastModified": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)},
            {"Key": "b", "Size": 2, "LastModified": datetime(2024, 1, 2, 3, 4, 6, tzinfo=UTC)},
        ],
    }
    response = CODEC.serialize(operation, output, "rid")
    assert response.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ElementTree.fromstring(response.body)
    assert root.tag == f"{{{S3_NAMESPACE}}}ListBucketResult"
    contents = root.findall(f"{{{S3_NAMESPACE}}}Contents")
    assert [item.findtext(f"{{{S3_NAMESPACE}}}Key") for item in contents] == ["a", "b"]
    assert contents[0].findtext(f"{{{S3_NAMESPACE}}}LastModified") == "2024-01-02T03:04:05.000Z"
    assert response.headers["x-amz-request-id"] == "rid"
    assert response.headers["x-amz-id-2"]


def test_acl_grantee_xsi_type_attribute() -> None:
    operation = service_model("s3").operation_model("GetObjectAcl")
    output = {
        "Owner": {"ID": "o"},
        "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": "o"}, "Permission": "FULL_CONTROL"}],
    }
    response = CODEC.serialize(operation, output, "r")
    assert b'xsi:type="CanonicalUser"' in response.body
    parsed = botocore_parse("rest-xml", operation.output_shape, response)
    assert parsed["Grants"] == output["Grants"]


def test_get_bucket_location_is_a_text_document() -> None:
    operation = service_model("s3").operation_model("GetBucketLocation")
    for region in ("eu-west-1", None):
        output = {} if region is None else {"LocationConstraint": region}
        response = CODEC.serialize(operation, output, "r")
        parsed = botocore_parse("rest-xml", operation.output_shape, response)
        parse_get_bucket_location(parsed, AWSResponse("http://x", 200, {}, _Raw(response.body)))
        assert parsed.get("LocationConstraint") == region


def test_content_md5_is_checked() -> None:
    operation = service_model("s3").operation_model("PutObject")
    body = b"hello"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    headers = {"host": "localhost", "content-md5": good}
    assert CODEC.parse(operation, HttpRequest("PUT", "/b/k", "", headers, body))["ContentMD5"] == good
    with pytest.raises(ServiceError) as bad:
        CODEC.parse(operation, HttpRequest("PUT", "/b/k", "", headers, b"hellO"))
    assert (bad.value.code, bad.value.status) == ("BadDigest", 400)
    with pytest.raises(ServiceError) as invalid:
        CODEC.parse(operation, HttpRequest("PUT", "/b/k", "", {**headers, "content-md5": "nope"}, body))
    assert invalid.value.code == "InvalidDigest"


def test_malformed_xml_is_a_client_error() -> None:
    operation = service_model("s3").operation_model("PutBucketTagging")
    with pytest.raises(ServiceError) as caught:
        CODEC.parse(
            operation, HttpRequest("PUT", "/b", "tagging", {"host": "localhost"}, b"<Tagging><TagSet>")
        )
    assert caught.value.code == "MalformedXML"


# ---- errors


def test_s3_error_document() -> None:
    model = service_model("s3")
    error = ServiceError(
        "The specified key does not exist.", code="NoSuchKey", status=404, extra={"Key": "k"}
    )
    response = CODEC.serialize_error(model, model.operation_model("GetObject"), error, "rid-1")
    assert response.status == 404
    root = ElementTree.fromstring(response.body)
    assert root.tag == "Error"
    assert [child.tag for child in root] == ["Code", "Message", "Key", "RequestId", "HostId"]
    parsed = botocore_parse("rest-xml", model.operation_model("GetObject").output_shape, response)
    assert parsed["Error"] == {
        "Code": "NoSuchKey",
        "Message": "The specified key does not exist.",
        "Key": "k",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-1"
    assert parsed["ResponseMetadata"]["HostId"] == response.headers["x-amz-id-2"]


def test_head_errors_have_no_body_and_surface_as_the_status() -> None:
    model = service_model("s3")
    operation = model.operation_model("HeadObject")
    response = CODEC.serialize_error(model, operation, ServiceError("no", code="NoSuchKey", status=404), "r")
    assert response.body == b""
    parsed = botocore_parse("rest-xml", operation.output_shape, response)
    assert parsed["Error"] == {"Code": "404", "Message": "Not Found"}


def test_other_rest_xml_services_use_error_response() -> None:
    model = service_model("route53")
    error = ServiceError("no such zone", code="NoSuchHostedZone", status=404)
    response = CODEC.serialize_error(model, model.operation_model("GetHostedZone"), error, "rid-2")
    assert ElementTree.fromstring(response.body).tag.endswith("ErrorResponse")
    parsed = botocore_parse("rest-xml", model.operation_model("GetHostedZone").output_shape, response)
    assert parsed["Error"]["Code"] == "NoSuchHostedZone"
    assert parsed["Error"]["Message"] == "no such zone"
    assert parsed["Error"]["Type"] == "Sender"
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-2"


# ---- a real boto3 client talking to the codec in-process


class _Raw(io.BytesIO):
    """What botocore expects of urllib3's raw response: stream() for buffered bodies, read() for
    streaming ones."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


def _from_aws_request(request: AWSRequest) -> HttpRequest:
    url = urlsplit(request.url)
    body: Any = request.body or b""
    if hasattr(body, "read"):
        position = body.tell()
        data = body.read()
        body.seek(position)
        body = data
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = {
        key.lower(): value.decode() if isinstance(value, bytes) else str(value)
        for key, value in request.headers.items()
    }
    headers.setdefault("host", url.netloc)
    return HttpRequest(request.method, url.path or "/", url.query, headers, bytes(body))


class FakeS3:
    """A boto3 S3 client whose every request is routed, parsed and answered by the codec."""

    def __init__(self, addressing_style: str = "path") -> None:
        self.client = boto3.client(
            "s3",
            endpoint_url="http://localhost:1234",
            region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
            config=Config(s3={"addressing_style": addressing_style}, retries={"max_attempts": 1}),
        )
        self.client.meta.events.register("before-send.s3", self._answer)
        self.requests: list[HttpRequest] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.reply: dict[str, Any] | ServiceError = {}

    def _answer(self, request: AWSRequest, **_: Any) -> AWSResponse:
        incoming = _from_aws_request(request)
        self.requests.append(incoming)
        # The client's own model is rewritten by botocore (the bucket moves out of requestUri);
        # the server reads the model as published.
        model = service_model("s3")
        operation = CODEC.operation_for(model, incoming)
        assert operation is not None
        self.calls.append((operation.name, CODEC.parse(operation, incoming)))
        response: HttpResponse
        if isinstance(self.reply, ServiceError):
            response = CODEC.serialize_error(model, operation, self.reply, "req-1")
        else:
            response = CODEC.serialize(operation, self.reply, "req-1")
        return AWSResponse(request.url, response.status, response.headers, _Raw(response.body))


@pytest.mark.parametrize("style", ["path", "virtual"])
def test_boto3_put_and_get_object(style: str) -> None:
    s3 = FakeS3(style)
    s3.reply = {"ETag": '"abc"', "VersionId": "v1"}
    result = s3.client.put_object(
        Bucket="my-bucket",
        Key="dir/a b+c é.txt",
        Body=b"hello",
        Metadata={"owner": "me"},
        ContentType="text/plain",
    )
    assert result["ETag"] == '"abc"' and result["VersionId"] == "v1"
    name, params = s3.calls[-1]
    assert name == "PutObject"
    assert params["Bucket"] == "my-bucket"
    assert params["Key"] == "dir/a b+c é.txt"
    assert params["Body"] == b"hello"
    assert params["Metadata"] == {"owner": "me"}
    assert params["ContentType"] == "text/plain"
    if style == "virtual":
        assert s3.requests[-1].host.startswith("my-bucket.")

    modified = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    s3.reply = {"Body": b"hello", "ContentLength": 5, "LastModified": modified, "Metadata": {"owner": "me"}}
    got = s3.client.get_object(Bucket="my-bucket", Key="dir/a b+c é.txt", Range="bytes=0-4")
    assert got["Body"].read() == b"hello"
    assert got["LastModified"] == modified and got["Metadata"] == {"owner": "me"}
    # boto3 asks for checksum validation on every GetObject (x-amz-checksum-mode).
    assert s3.calls[-1] == (
        "GetObject",
        {"Bucket": "my-bucket", "Key": "dir/a b+c é.txt", "Range": "bytes=0-4", "ChecksumMode": "ENABLED"},
    )


def test_boto3_listing_and_multipart() -> None:
    s3 = FakeS3()
    s3.reply = {"Name": "b", "KeyCount": 1, "IsTruncated": False, "Contents": [{"Key": "k", "Size": 3}]}
    listed = s3.client.list_objects_v2(Bucket="b", Prefix="k")
    assert listed["Contents"][0]["Key"] == "k"
    name, params = s3.calls[-1]
    assert name == "ListObjectsV2" and params["Prefix"] == "k"

    s3.reply = {"Bucket": "b", "Key": "big", "UploadId": "u-1"}
    assert s3.client.create_multipart_upload(Bucket="b", Key="big")["UploadId"] == "u-1"
    assert s3.calls[-1][0] == "CreateMultipartUpload"
    s3.reply = {"ETag": '"p1"'}
    s3.client.upload_part(Bucket="b", Key="big", UploadId="u-1", PartNumber=1, Body=b"x" * 10)
    assert s3.calls[-1][0] == "UploadPart"
    assert s3.calls[-1][1]["PartNumber"] == 1
    s3.reply = {"Location": "loc", "Bucket": "b", "Key": "big", "ETag": '"all"'}
    parts = {"Parts": [{"ETag": '"p1"', "PartNumber": 1}]}
    done = s3.client.complete_multipart_upload(Bucket="b", Key="big", UploadId="u-1", MultipartUpload=parts)
    assert done["ETag"] == '"all"'
    assert s3.calls[-1] == (
        "CompleteMultipartUpload",
        {"Bucket": "b", "Key": "big", "UploadId": "u-1", "MultipartUpload": parts},
    )


def test_boto3_bucket_configuration_documents() -> None:
    s3 = FakeS3()
    tagging = {"TagSet": [{"Key": "team", "Value": "ml"}]}
    s3.client.put_bucket_tagging(Bucket="b", Tagging=tagging)
    name, params = s3.calls[-1]
    assert name == "PutBucketTagging" and params["Tagging"] == tagging
    s3.reply = {"LocationConstraint": "eu-west-1"}
    assert s3.client.get_bucket_location(Bucket="b")["LocationConstraint"] == "eu-west-1"
    s3.reply = {}
    s3.client.create_bucket(Bucket="nb", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.calls[-1] == (
        "CreateBucket",
        {"Bucket": "nb", "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}},
    )


def test_boto3_sees_s3_errors() -> None:
    s3 = FakeS3()
    s3.reply = ServiceError(
        "The specified bucket does not exist", code="NoSuchBucket", status=404, extra={"BucketName": "b"}
    )
    with pytest.raises(s3.client.exceptions.NoSuchBucket) as caught:
        s3.client.list_objects_v2(Bucket="b")
    assert caught.value.response["Error"]["Message"] == "The specified bucket does not exist"
    assert caught.value.response["Error"]["BucketName"] == "b"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    s3.reply = ServiceError("Not Found", code="NoSuchKey", status=404)
    with pytest.raises(ClientError) as head:
        s3.client.head_object(Bucket="b", Key="missing")
    assert head.value.response["Error"]["Code"] == "404"
    assert head.value.response["Error"]["Message"] == "Not Found"
