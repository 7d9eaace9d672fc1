"""The contract every protocol codec fulfils.

A codec turns an :class:`HttpRequest` into the operation's input parameters (the same dict a
boto3 call takes) and turns an output dict or a :class:`ServiceError` back into the bytes botocore
expects. Everything is driven by botocore's ``ServiceModel``/``OperationModel``; no service
specific code lives in a codec.
"""

from __future__ import annotations

from typing import Any, Protocol

from botocore.model import OperationModel, ServiceModel

from cove.aws.errors import ServiceError
from cove.aws.http import HttpRequest, HttpResponse

__all__ = ["Codec"]


class Codec(Protocol):
    def operation_for(self, service: ServiceModel, request: HttpRequest) -> OperationModel | None:
        """Which operation the request calls, or None when it names none the model knows.

        For rest protocols this matches method + URI template (+ required query keys); for rpc
        protocols it reads ``X-Amz-Target`` or the ``Action`` parameter.
        """
        ...

    def parse(self, operation: OperationModel, request: HttpRequest) -> dict[str, Any]:
        """The input parameters, shaped exactly as boto3 accepts them (timestamps as aware
        ``datetime``, blobs as ``bytes``, members by their model names)."""
        ...

    def serialize(self, operation: OperationModel, output: dict[str, Any], request_id: str) -> HttpResponse:
        """The successful response for ``output`` (shaped like boto3's parsed response)."""
        ...

    def serialize_error(
        self, service: ServiceModel, operation: OperationModel | None, error: ServiceError, request_id: str
    ) -> HttpResponse:
        """The error response botocore parses into ``Error.Code``/``Error.Message``."""
        ...
