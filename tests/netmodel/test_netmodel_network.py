"""Network validation (every problem reported), flow errors, addresses and the JSON shape."""

from __future__ import annotations

import json

import pytest
from netmodel_builders import S3, edit, lab

from cove.netmodel import (
    Cidr,
    Eni,
    Flow,
    FlowError,
    NaclAction,
    NaclEntry,
    NetworkValidationError,
    Route,
    RouteTargetKind,
    SecurityGroupRule,
    Subnet,
    evaluate,
    protocol_number,
)


def test_lab_is_valid_and_indexes_defaults() -> None:
    network = lab()
    assert network.subnet_route_table["subnet-c"].id == "rtb-main"  # implicit main association
    assert network.subnet_acl["subnet-a"].id == "acl-default"  # implicit default NACL
    routes = {r.describe() for r in network.effective_routes["rtb-priv"]}
    assert {"10.0.0.0/16 -> local", "pl-s3 -> vpce-s3"} <= routes  # implicit local and endpoint routes


def test_every_problem_is_reported() -> None:
    with pytest.raises(NetworkValidationError) as caught:
        lab(
            eni_bad=Eni("eni-bad", "subnet-a", ("10.0.2.5", "10.0.1.1", "10.0.1.10"), ("sg-missing",)),
            subnet_overlap=Subnet("subnet-overlap", "vpc-1", "10.0.1.128/25"),
            subnet_outside=Subnet("subnet-outside", "vpc-1", "192.168.0.0/24"),
            **edit("rtb-pub", routes=(Route("0.0.0.0/0", RouteTargetKind.IGW, "igw-nope"),)),
            **edit(
                "sg-web", ingress=(SecurityGroupRule(peer="sg-ghost"), SecurityGroupRule(peer="pl-ghost"))
            ),
        )
    problems = "\n".join(caught.value.problems)
    for fragment in (
        "10.0.2.5 is not inside subnet-a",
        "10.0.1.1 is one of the five addresses AWS reserves",
        "10.0.1.10 is already used by eni-a1",
        "unknown security group sg-missing",
        "overlaps subnet-a",
        "not inside a CIDR of vpc-1",
        "targets unknown igw igw-nope",
        "unknown security group sg-ghost",
        "unknown prefix list pl-ghost",
    ):
        assert fragment in problems
    assert len(caught.value.problems) >= 9


def test_nacl_rule_numbers_and_ports_are_checked() -> None:
    with pytest.raises(ValueError, match="1-32766"):
        NaclEntry(32767, False, NaclAction.ALLOW)
    with pytest.raises(ValueError, match="0-65535"):
        SecurityGroupRule("tcp", (443, 80))
    with pytest.raises(NetworkValidationError, match="two ingress entries numbered 100"):
        lab(
            **edit(
                "acl-c",
                entries=(NaclEntry(100, False, NaclAction.ALLOW), NaclEntry(100, False, NaclAction.DENY)),
            )
        )


def test_flow_errors() -> None:
    network = lab()
    with pytest.raises(FlowError):
        Flow("eni-a1", "eni-b1", "tcp")  # TCP needs a port
    with pytest.raises(FlowError):
        Flow("eni-a1", "eni-b1", "sctp-ish", 1)
    with pytest.raises(FlowError):
        evaluate(network, Flow("eni-nope", "eni-b1", "tcp", 22))
    with pytest.raises(FlowError):
        evaluate(network, Flow("eni-a1", "com.amazonaws.us-east-1.nothing", "tcp", 443))
    with pytest.raises(FlowError):
        evaluate(network, Flow("192.168.9.9", "eni-b1", "tcp", 22))


def test_cidr_and_protocols() -> None:
    cidr = Cidr.parse("10.0.1.18/24")
    assert str(cidr) == "10.0.1.0/24" and cidr.size == 256
    assert cidr.contains((4, cidr.network + 255)) and not cidr.contains((4, cidr.network + 256))
    assert str(Cidr.parse("2001:db8::1/64")) == "2001:db8::/64"
    assert [protocol_number(p) for p in ("tcp", "UDP", "icmp", "-1", "all", "47", 6)] == [
        6,
        17,
        1,
        -1,
        -1,
        47,
        6,
    ]


def test_verdict_is_json_with_hops_blockers_and_return_path() -> None:
    verdict = evaluate(lab(), Flow("eni-a1", "eni-c1", "icmp"))
    data = json.loads(json.dumps(verdict.to_dict()))
    assert data["decision"] == "DENY"
    assert [h["sequence"] for h in data["path"]] == list(range(1, len(data["path"]) + 1))
    assert data["path"][0]["component_id"] == "eni-a1" and data["path"][-1]["component_id"] == "eni-c1"
    [blocker] = data["blockers"]
    assert blocker["code"] == "SUBNET_ACL_RESTRICTION" and blocker["path"] == "return"
    assert "stateless" in blocker["message"] and blocker["component_id"] == "acl-c"
    assert any(h["action"] == "deny" for h in data["return_path"])
    s3 = evaluate(lab(), Flow("eni-a1", S3, "tcp", 443)).to_dict()
    assert [h["component_type"] for h in s3["path"]][-2:] == ["vpc-endpoint", "service"]


def test_partial_ephemeral_range_names_the_blocked_ports() -> None:
    entries = (
        NaclEntry(100, False, NaclAction.ALLOW, "tcp", "10.0.0.0/16", (443, 443)),
        NaclEntry(100, True, NaclAction.ALLOW, "tcp", "10.0.0.0/16", (49152, 65535)),
    )
    verdict = evaluate(lab(**edit("acl-c", entries=entries)), Flow("eni-a1", "eni-c1", "tcp", 443))
    [blocker] = verdict.blockers
    assert "32768-49151" in blocker.message and "part of the ephemeral range" in blocker.message
    assert blocker.rule == "*"
