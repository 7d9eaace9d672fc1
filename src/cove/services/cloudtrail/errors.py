"""CloudTrail's typed errors (json protocol: the code is the exception's shape name)."""

from __future__ import annotations

from cove.aws.errors import ServiceError

__all__ = [
    "InvalidEventCategory",
    "InvalidLookupAttributes",
    "InvalidMaxResults",
    "InvalidNextToken",
    "InvalidTimeRange",
]


class InvalidLookupAttributes(ServiceError):
    code = "InvalidLookupAttributesException"


class InvalidTimeRange(ServiceError):
    code = "InvalidTimeRangeException"


class InvalidMaxResults(ServiceError):
    code = "InvalidMaxResultsException"


class InvalidNextToken(ServiceError):
    code = "InvalidNextTokenException"


class InvalidEventCategory(ServiceError):
    code = "InvalidEventCategoryException"
