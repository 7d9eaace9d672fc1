"""Filter patterns as compiled predicates: terms, phrases, OR and exclusion, JSON, space-delimited, regex."""

from __future__ import annotations

import json

import pytest

from cove.services.logs.errors import InvalidParameterException
from cove.services.logs.patterns import compile_pattern


def matches(pattern: str, message: str) -> bool:
    match = compile_pattern(pattern)
    return True if match is None else match(message)


@pytest.mark.parametrize("pattern", ["", "   ", '""'])
def test_empty_patterns_match_everything(pattern: str) -> None:
    assert compile_pattern(pattern) is None


def test_terms() -> None:
    assert matches("ERROR", "[ERROR] disk full")
    assert not matches("ERROR", "[error] disk full")  # case-sensitive
    assert matches("ERROR disk", "[ERROR] disk full")
    assert not matches("ERROR memory", "[ERROR] disk full")  # every term
    assert matches('"disk full"', "[ERROR] disk full")
    assert not matches('"full disk"', "[ERROR] disk full")
    assert matches('ERROR "disk full"', "[ERROR] disk full")
    assert matches('"say \\"hi\\""', 'they say "hi"')


def test_optional_and_excluded_terms() -> None:
    assert matches("?ERROR ?WARN", "WARN low memory")
    assert matches("?ERROR ?WARN", "ERROR no memory")
    assert not matches("?ERROR ?WARN", "INFO fine")
    assert matches("ERROR -Exiting", "ERROR retrying")
    assert not matches("ERROR -Exiting", "ERROR Exiting now")
    assert not matches('-"health check"', "GET /ping health check")
    assert matches('?"disk full" ?timeout', "request timeout")


def test_invalid_terms() -> None:
    with pytest.raises(InvalidParameterException) as exc:
        compile_pattern("ERROR (disk)")
    assert exc.value.message == "Invalid character(s) in term '(disk)'"
    for bad in ('"unterminated', "ERROR ?", "{ $.a = ", "[a, b", "%(%", "{ $.a > text }", "{ a = 1 }"):
        with pytest.raises(InvalidParameterException):
            compile_pattern(bad)


def test_json_patterns() -> None:
    event = json.dumps(
        {
            "level": "error",
            "latency": 250,
            "user": {"id": "u-42", "admin": True},
            "tags": ["a", "b"],
            "missing": None,
        }
    )
    assert matches('{ $.level = "error" }', event)
    assert matches("{$.level=error}", event)
    assert not matches('{ $.level = "info" }', event)
    assert matches('{ $.level != "info" }', event)
    assert matches('{ $.user.id = "u-*" }', event)
    assert matches("{ $.latency > 200 }", event)
    assert not matches("{ $.latency < 200 }", event)
    assert matches("{ $.latency >= 250 && $.latency <= 250 }", event)
    assert matches('{ $.level = "info" || $.latency = 250 }', event)
    assert matches('{ ($.level = "info" || $.level = "error") && $.user.admin IS TRUE }', event)
    assert matches('{ $.tags[1] = "b" }', event)
    assert matches("{ $.missing IS NULL }", event)
    assert matches("{ $.nothing NOT EXISTS }", event)
    assert not matches('{ $.nothing = "x" }', event)
    assert not matches('{ $.level = "error" }', "plain text error")
    assert not matches('{ $.level = "error" }', '"just a json string"')


def test_space_delimited_patterns() -> None:
    flow = "2 123456789012 eni-0a1b 10.0.1.5 10.0.2.9 49152 22 6 10 840 1700000000 1700000060 REJECT OK"
    fields = "version, account, eni, src, dst, srcport, dstport, protocol, packets, bytes, start, end, action, status"
    assert matches(f"[{fields}]", flow)
    assert matches(f"[{fields.replace('action', 'action = REJECT')}]", flow)
    assert not matches(f"[{fields.replace('action', 'action = ACCEPT')}]", flow)
    assert matches("[version, account, eni, src, dst, srcport, dstport = 22, ...]", flow)
    assert matches("[..., action = REJECT, status]", flow)
    assert matches("[v, a, e, src = 10.0.1.*, ...]", flow)
    assert matches("[v, a, e, s, d, sp, dp, p, packets > 5 && packets < 20, ...]", flow)
    assert not matches("[v, a, e, s, d, sp, dp, p, packets > 50, ...]", flow)
    assert not matches("[a, b, c]", flow)  # the field count must agree without an ellipsis
    access = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache.gif HTTP/1.0" 404 2326'
    assert matches("[ip, user, username, timestamp, request, status_code = 4*, bytes]", access)
    assert matches('[ip, user, username, timestamp, request = "GET *", status_code != 200, bytes]', access)


def test_regex_patterns() -> None:
    assert matches("%[0-9]{3} ms%", "took 250 ms")
    assert not matches("%[0-9]{3} ms%", "took 25 ms")
