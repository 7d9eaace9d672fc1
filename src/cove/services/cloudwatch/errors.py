"""CloudWatch's typed errors: the codes AWS's query-compatible errors carry (botocore reads them
from ``x-amzn-query-error`` on CBOR and JSON, from ``<Code>`` on query)."""

from __future__ import annotations

from cove.aws.errors import ServiceError

__all__ = [
    "InvalidNextToken",
    "InvalidParameterCombination",
    "InvalidParameterValue",
    "MissingParameter",
    "ValidationError",
    "invalid_value",
]


class InvalidParameterValue(ServiceError):
    code = "InvalidParameterValue"


class InvalidParameterCombination(ServiceError):
    code = "InvalidParameterCombination"


class MissingParameter(ServiceError):
    code = "MissingParameter"


class InvalidNextToken(ServiceError):
    code = "InvalidNextToken"


class ValidationError(ServiceError):
    """GetMetricData's errors (its model declares only ValidationException, code ValidationError)."""

    code = "ValidationError"


def invalid_value(value: object, parameter: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"The value {value} for parameter {parameter} is invalid.")
