from __future__ import annotations

import io
import re
import time
from datetime import UTC, datetime
from functools import cache
from typing import Any

import botocore.session
import pytest
from botocore.model import OperationModel, ServiceModel

from cove.aws.validate import (
    ProblemKind,
    ValidationProblem,
    compile_java_pattern,
    translate_java_pattern,
    validate,
    validation_error,
)

ROLE_ARN = "arn:aws:iam::123456789012:role/service-role/Trainer"


@cache
def _session() -> Any:
    return botocore.session.get_session()


@cache
def op(service: str, name: str) -> OperationModel:
    return _session().get_service_model(service).operation_model(name)


def training_job(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "TrainingJobName": "job-1",
        "AlgorithmSpecification": {"TrainingImage": "img:latest", "TrainingInputMode": "File"},
        "RoleArn": ROLE_ARN,
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/train"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "HyperParameters": {"epochs": "3"},
        "Environment": {"MODE": "fast"},
        "EnableNetworkIsolation": True,
        "Tags": [{"Key": "team", "Value": "ml"}],
        "VpcConfig": {"SecurityGroupIds": ["sg-0123"], "Subnets": ["subnet-0123"]},
    }
    params.update(overrides)
    return params


VALID = [
    ("iam", "CreateRole", {"RoleName": "my-role", "AssumeRolePolicyDocument": '{"Version": "2012-10-17"}'}),
    (
        "iam",
        "CreateRole",
        {
            "RoleName": "a+b=c,d.e@f_g-h",
            "AssumeRolePolicyDocument": "{}",
            "MaxSessionDuration": 3600,
            "Tags": [{"Key": "env:stage/é", "Value": "prod"}],
            "Path": "/service-role/",
        },
    ),
    ("sts", "AssumeRole", {"RoleArn": ROLE_ARN, "RoleSessionName": "session", "DurationSeconds": 900}),
    ("sagemaker", "CreateTrainingJob", training_job()),
    ("ec2", "CreateVpc", {"CidrBlock": "10.0.0.0/16"}),
    (
        "ec2",
        "CreateSubnet",
        {
            "VpcId": "vpc-1",
            "CidrBlock": "10.0.1.0/24",
            "TagSpecifications": [{"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": "a"}]}],
        },
    ),
    ("kms", "Encrypt", {"KeyId": "alias/key", "Plaintext": b"secret", "EncryptionContext": {"a": "b"}}),
    (
        "logs",
        "PutLogEvents",
        {
            "logGroupName": "/aws/sagemaker/TrainingJobs",
            "logStreamName": "job-1/algo-1",
            "logEvents": [{"timestamp": 1767225600000, "message": "hello"}],
        },
    ),
    ("s3", "PutObject", {"Bucket": "bucket", "Key": "dir/key with space", "Body": b"data", "ACL": "private"}),
    ("s3", "PutObject", {"Bucket": "bucket", "Key": "k", "Body": io.BytesIO(b"stream")}),
    ("s3", "PutObject", {"Bucket": "bucket", "Key": "k", "Expires": datetime(2026, 1, 1, tzinfo=UTC)}),
]


@pytest.mark.parametrize(("service", "operation", "params"), VALID)
def test_valid_params_have_no_problems(service: str, operation: str, params: dict[str, Any]) -> None:
    assert validate(op(service, operation), params) == []


def test_unknown_members_are_ignored() -> None:
    params = {"RoleName": "r", "AssumeRolePolicyDocument": "{}", "NotAMember": object()}
    assert validate(op("iam", "CreateRole"), params) == []


def _summary(problems: list[ValidationProblem]) -> list[tuple[str, ProblemKind, str]]:
    return [(p.path, p.kind, p.constraint) for p in problems]


CASES = [
    (
        "iam",
        "CreateRole",
        {"AssumeRolePolicyDocument": "{}"},
        [("roleName", ProblemKind.REQUIRED, "Member must not be null")],
    ),
    (
        "iam",
        "CreateRole",
        {"RoleName": None, "AssumeRolePolicyDocument": "{}"},
        [("roleName", ProblemKind.REQUIRED, "Member must not be null")],
    ),
    (
        "iam",
        "CreateRole",
        {"RoleName": "bad name", "AssumeRolePolicyDocument": "{}"},
        [("roleName", ProblemKind.PATTERN, r"Member must satisfy regular expression pattern: [\w+=,.@-]+")],
    ),
    (
        "iam",
        "CreateRole",
        {"RoleName": "r" * 65, "AssumeRolePolicyDocument": "{}"},
        [("roleName", ProblemKind.LENGTH, "Member must have length less than or equal to 64")],
    ),
    (
        "iam",
        "CreateRole",
        {"RoleName": "r", "AssumeRolePolicyDocument": "{}", "MaxSessionDuration": 60},
        [("maxSessionDuration", ProblemKind.RANGE, "Member must have value greater than or equal to 3600")],
    ),
    (
        "iam",
        "CreateRole",
        {
            "RoleName": "r",
            "AssumeRolePolicyDocument": "{}",
            "Tags": [{"Key": "k"}, {"Key": "", "Value": "v"}],
        },
        [
            ("tags.1.member.value", ProblemKind.REQUIRED, "Member must not be null"),
            ("tags.2.member.key", ProblemKind.LENGTH, "Member must have length greater than or equal to 1"),
            (
                "tags.2.member.key",
                ProblemKind.PATTERN,
                r"Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+",
            ),
        ],
    ),
    (
        "iam",
        "CreateRole",
        # IAM's policy-document pattern is written with escaped surrogate pairs; control
        # characters other than tab/CR/LF are outside it.
        {"RoleName": "r", "AssumeRolePolicyDocument": "{\x01}"},
        [
            (
                "assumeRolePolicyDocument",
                ProblemKind.PATTERN,
                "Member must satisfy regular expression pattern: "
                r"[\u0009\u000A\u000D\u0020-\u00FF]+",
            )
        ],
    ),
    (
        "sts",
        "AssumeRole",
        {"RoleArn": ROLE_ARN, "RoleSessionName": "s", "DurationSeconds": 100},
        [
            ("roleSessionName", ProblemKind.LENGTH, "Member must have length greater than or equal to 2"),
            ("durationSeconds", ProblemKind.RANGE, "Member must have value greater than or equal to 900"),
        ],
    ),
    (
        "sts",
        "AssumeRole",
        {"RoleArn": ROLE_ARN, "RoleSessionName": "session", "DurationSeconds": "900"},
        [("durationSeconds", ProblemKind.TYPE, "Member must be of type integer")],
    ),
    (
        "sts",
        "AssumeRole",
        {"RoleArn": ROLE_ARN, "RoleSessionName": "session", "DurationSeconds": True},
        [("durationSeconds", ProblemKind.TYPE, "Member must be of type integer")],
    ),
    (
        "sagemaker",
        "CreateTrainingJob",
        training_job(AlgorithmSpecification={"TrainingInputMode": "Bad"}),
        [
            (
                "algorithmSpecification.trainingInputMode",
                ProblemKind.ENUM,
                "Member must satisfy enum value set: [Pipe, File, FastFile]",
            )
        ],
    ),
    (
        "sagemaker",
        "CreateTrainingJob",
        training_job(
            ResourceConfig={
                "InstanceType": "ml.m5.xlarge",
                "InstanceCount": 1,
                "KeepAlivePeriodInSeconds": 21601,
            }
        ),
        [
            (
                "resourceConfig.keepAlivePeriodInSeconds",
                ProblemKind.RANGE,
                "Member must have value less than or equal to 21600",
            )
        ],
    ),
    (
        "sagemaker",
        "CreateTrainingJob",
        training_job(VpcConfig={"SecurityGroupIds": ["sg-1", "bad sg"], "Subnets": ["subnet-1"]}),
        [
            (
                "vpcConfig.securityGroupIds",
                ProblemKind.PATTERN,
                "Member must satisfy constraint: [Member must satisfy regular expression pattern: [-0-9a-zA-Z]+]",
            )
        ],
    ),
    (
        "sagemaker",
        "CreateTrainingJob",
        training_job(VpcConfig={"SecurityGroupIds": [], "Subnets": ["subnet-1"]}),
        [
            (
                "vpcConfig.securityGroupIds",
                ProblemKind.LENGTH,
                "Member must have length greater than or equal to 1",
            )
        ],
    ),
    (
        "sagemaker",
        "CreateTrainingJob",
        training_job(Environment={"MODE": "v" * 513}),
        [
            (
                "environment",
                ProblemKind.LENGTH,
                "Map value must satisfy constraint: [Member must have length less than or equal to 512]",
            )
        ],
    ),
    (
        "sagemaker",
        "CreateTrainingJob",
        training_job(EnableNetworkIsolation="yes", StoppingCondition="1h"),
        [
            ("stoppingCondition", ProblemKind.TYPE, "Member must be of type structure"),
            ("enableNetworkIsolation", ProblemKind.TYPE, "Member must be of type boolean"),
        ],
    ),
    (
        "sagemaker",
        "CreateTrainingJob",
        training_job(InputDataConfig="train"),
        [("inputDataConfig", ProblemKind.TYPE, "Member must be of type list")],
    ),
    (
        "ec2",
        "CreateSubnet",
        {"CidrBlock": "10.0.0.0/24"},
        [("vpcId", ProblemKind.REQUIRED, "Member must not be null")],
    ),
    (
        "kms",
        "Encrypt",
        {"KeyId": "k", "Plaintext": b"x" * 4097},
        [("plaintext", ProblemKind.LENGTH, "Member must have length less than or equal to 4096")],
    ),
    (
        "kms",
        "Encrypt",
        {"KeyId": "k", "Plaintext": "not bytes"},
        [("plaintext", ProblemKind.TYPE, "Member must be of type blob")],
    ),
    (
        "logs",
        "PutLogEvents",
        {"logGroupName": "g", "logStreamName": "s", "logEvents": [{"timestamp": "now", "message": "m"}]},
        [("logEvents.1.member.timestamp", ProblemKind.TYPE, "Member must be of type long")],
    ),
    (
        "logs",
        "PutLogEvents",
        {"logGroupName": "bad group!", "logStreamName": "s", "logEvents": []},
        [
            (
                "logGroupName",
                ProblemKind.PATTERN,
                r"Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+",
            ),
            ("logEvents", ProblemKind.LENGTH, "Member must have length greater than or equal to 1"),
        ],
    ),
    (
        "s3",
        "PutObject",
        {"Bucket": "b", "Key": "k", "Expires": "tomorrow"},
        [("expires", ProblemKind.TYPE, "Member must be of type timestamp")],
    ),
    (
        "s3",
        "PutObject",
        {"Bucket": "b", "Key": "k", "ACL": "bogus"},
        [
            (
                "aCL",
                ProblemKind.ENUM,
                "Member must satisfy enum value set: [private, public-read, public-read-write, "
                "authenticated-read, aws-exec-read, bucket-owner-read, bucket-owner-full-control]",
            )
        ],
    ),
]


@pytest.mark.parametrize(("service", "operation", "params", "expected"), CASES)
def test_rules(
    service: str, operation: str, params: dict[str, Any], expected: list[tuple[str, ProblemKind, str]]
) -> None:
    assert _summary(validate(op(service, operation), params)) == expected


SYNTHETIC = {
    "metadata": {"protocol": "json", "apiVersion": "2026-01-01", "jsonVersion": "1.1", "targetPrefix": "T"},
    "operations": {
        "Op": {"name": "Op", "http": {"method": "POST", "requestUri": "/"}, "input": {"shape": "In"}}
    },
    "shapes": {
        "In": {
            "type": "structure",
            "members": {
                "Ratio": {"shape": "Ratio"},
                "Flag": {"shape": "Flag"},
                "When": {"shape": "When"},
                "Data": {"shape": "Data"},
                "Labels": {"shape": "Labels"},
                "Nested": {"shape": "Nested"},
                "Doc": {"shape": "Doc"},
            },
        },
        "Ratio": {"type": "double", "min": 0.5, "max": 10},
        "Flag": {"type": "boolean"},
        "When": {"type": "timestamp"},
        "Data": {"type": "blob", "min": 2},
        "Labels": {"type": "map", "key": {"shape": "LabelKey"}, "value": {"shape": "LabelValue"}, "max": 2},
        "LabelKey": {"type": "string", "pattern": "[a-z]+"},
        "LabelValue": {"type": "string", "max": 3},
        "Nested": {"type": "map", "key": {"shape": "LabelKey"}, "value": {"shape": "Inner"}},
        "Inner": {"type": "structure", "required": ["Name"], "members": {"Name": {"shape": "LabelKey"}}},
        "Doc": {"type": "structure", "members": {}, "document": True},
    },
}


def synthetic() -> OperationModel:
    return ServiceModel(SYNTHETIC, "synthetic").operation_model("Op")


def test_synthetic_scalars() -> None:
    model = synthetic()
    good = {
        "Ratio": 1,
        "Flag": False,
        "When": datetime(2026, 1, 1, tzinfo=UTC),
        "Data": b"ab",
        "Labels": {"a": "x"},
        "Nested": {"k": {"Name": "n"}},
        "Doc": [1, {"any": "thing"}],
    }
    assert validate(model, good) == []
    bad = {
        "Ratio": 0.25,
        "Flag": 1,
        "When": 1767225600,
        "Data": b"a",
        "Labels": {"A": "long", "b": "x", "c": "y"},
    }
    assert _summary(validate(model, bad)) == [
        ("ratio", ProblemKind.RANGE, "Member must have value greater than or equal to 0.5"),
        ("flag", ProblemKind.TYPE, "Member must be of type boolean"),
        ("when", ProblemKind.TYPE, "Member must be of type timestamp"),
        ("data", ProblemKind.LENGTH, "Member must have length greater than or equal to 2"),
        ("labels", ProblemKind.LENGTH, "Member must have length less than or equal to 2"),
        (
            "labels",
            ProblemKind.PATTERN,
            "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-z]+]",
        ),
        (
            "labels",
            ProblemKind.LENGTH,
            "Map value must satisfy constraint: [Member must have length less than or equal to 3]",
        ),
    ]
    assert _summary(validate(model, {"Ratio": 11.5, "Flag": "true"}))[0] == (
        "ratio",
        ProblemKind.RANGE,
        "Member must have value less than or equal to 10.0",
    )
    assert _summary(validate(model, {"Nested": {"k": {}}})) == [
        ("nested.k.name", ProblemKind.REQUIRED, "Member must not be null")
    ]
    message = validation_error(validate(model, {"Data": b"a"}), "json").message
    assert "Value 'java.nio.HeapByteBuffer[pos=0 lim=1 cap=1]' at 'data'" in message


# --- message format ---------------------------------------------------------------------------


def test_single_json_message() -> None:
    problems = validate(op("iam", "CreateRole"), {"RoleName": "x y", "AssumeRolePolicyDocument": "{}"})
    error = validation_error(problems, "json")
    assert (error.code, error.status) == ("ValidationException", 400)
    assert error.message == (
        "1 validation error detected: Value 'x y' at 'roleName' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\w+=,.@-]+"
    )


def test_several_problems_query_message() -> None:
    problems = validate(op("iam", "CreateRole"), {"RoleName": "r" * 65})
    error = validation_error(problems, "query")
    assert (error.code, error.status) == ("ValidationError", 400)
    assert error.message == (
        "2 validation errors detected: "
        f"Value '{'r' * 65}' at 'roleName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64; "
        "Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null"
    )


def test_sensitive_values_are_not_echoed() -> None:
    problems = validate(op("kms", "Encrypt"), {"KeyId": "k", "Plaintext": b"x" * 4097})
    message = validation_error(problems, "json").message
    assert message == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096"
    )


def test_value_rendering() -> None:
    problems = validate(
        op("sts", "AssumeRole"), {"RoleArn": ROLE_ARN, "RoleSessionName": "s!", "DurationSeconds": 1}
    )
    message = validation_error(problems, "query").message
    assert "Value 's!' at 'roleSessionName'" in message
    assert "Value '1' at 'durationSeconds'" in message


def test_ec2_messages() -> None:
    missing = validation_error(validate(op("ec2", "CreateSubnet"), {}), "ec2")
    assert (missing.code, missing.status, missing.message) == (
        "MissingParameter",
        400,
        "The request must contain the parameter VpcId",
    )
    params = {
        "VpcId": "vpc-1",
        "TagSpecifications": [{"ResourceType": "no-such-type", "Tags": []}],
    }
    problems = validate(op("ec2", "CreateSubnet"), params)
    assert [p.wire_path for p in problems] == ["TagSpecification.1.resourceType"]
    invalid = validation_error(problems, "ec2")
    assert invalid.code == "InvalidParameterValue"
    assert invalid.message.startswith(
        "Value (no-such-type) for parameter TagSpecification.1.ResourceType is invalid. "
        "Member must satisfy enum value set: ["
    )


def test_s3_messages() -> None:
    problems = validate(op("s3", "PutObject"), {"Bucket": "b", "Key": "k", "ACL": "bogus"})
    error = validation_error(problems, "rest-xml")
    assert (error.code, error.status) == ("InvalidArgument", 400)
    assert error.extra == {"ArgumentName": "x-amz-acl", "ArgumentValue": "bogus"}
    assert "x-amz-acl" in error.message
    missing = validation_error(validate(op("s3", "PutObject"), {"Bucket": "b"}), "rest-xml")
    assert (missing.code, missing.status) == ("InvalidRequest", 400)
    assert "Key" in missing.message


def test_validation_error_needs_problems_and_a_known_family() -> None:
    with pytest.raises(ValueError):
        validation_error([], "json")
    problems = validate(op("iam", "CreateRole"), {})
    with pytest.raises(ValueError):
        validation_error(problems, "smithy")


# --- Java patterns ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("java", "accepted", "rejected"),
    [
        (r"[\w+=,.@-]+", ["a+b@c"], ["a b", ""]),
        (r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*", ["héllo wörld 42", "a:b/c"], ["a!b", "tab\x01"]),
        (r"\p{XDigit}{8}", ["deadBEEF"], ["deadbeeg", "dead"]),
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", ["ok\t😀"], ["bad\x01"]),
        (r"[\w-_]*", ["a-b_c"], ["a b"]),
        (r"[a-z\d-_]+", ["a-1_"], ["A"]),
        (r"\A[a-z]+\z", ["abc"], ["abc\n", "ab1"]),
        (r"[\P{C}\t]*", ["visible text\twith tab"], ["bell\x07"]),
        (r"[\x{0022}a]+", ['a"a'], ["b"]),
        (r"^(?i)(true|false)$", ["TRUE", "false"], ["yes"]),
        (r"(?!(?i)AWS_)[a-zA-Z_][a-zA-Z0-9_]*", ["MY_VAR"], ["aws_thing", "1abc"]),
        (r"^[-_a-zA-Z0-9]*${2,64}$", ["ab-c"], ["a b"]),
        (r"\p{Alnum}+", ["abc123"], ["é"]),
        (r"\QA.B\E", ["A.B"], ["AxB"]),
    ],
)
def test_java_pattern_translation(java: str, accepted: list[str], rejected: list[str]) -> None:
    compiled = compile_java_pattern(java)
    assert compiled is not None, translate_java_pattern(java)
    for value in accepted:
        assert compiled.fullmatch(value), value
    for value in rejected:
        assert not compiled.fullmatch(value), value


def test_untranslatable_patterns_are_skipped() -> None:
    assert compile_java_pattern(r"[\p{Print}&&[^|:/]]+") is None
    assert compile_java_pattern(r"[a-z]{11}{0,1011}") is None
    assert compile_java_pattern(r"[a-z]{11}{0,1011}") is None  # cached, still None


def test_nearly_every_model_pattern_compiles() -> None:
    loader = _session().get_component("data_loader")
    patterns: set[str] = set()
    for service in ("iam", "sts", "sagemaker", "ec2", "kms", "logs", "s3"):
        model = loader.load_service_model(service, "service-2")
        patterns.update(shape["pattern"] for shape in model["shapes"].values() if "pattern" in shape)
    failed = [p for p in patterns if compile_java_pattern(p) is None]
    assert len(patterns) > 100
    assert failed == []


def test_pattern_compiled_once() -> None:
    first = compile_java_pattern(r"[a-z]+-cache-probe")
    assert isinstance(first, re.Pattern)
    assert compile_java_pattern(r"[a-z]+-cache-probe") is first


def test_validation_is_fast() -> None:
    model = op("sagemaker", "CreateTrainingJob")
    params = training_job()
    validate(model, params)
    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        validate(model, params)
    per_call = (time.perf_counter() - started) / rounds
    assert per_call < 0.0005
