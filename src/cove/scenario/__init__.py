"""The end-to-end scenario `make run` shows: an embedded server driven by unchanged boto3 code.

It grows with every capability; each step checks its outcome, so a broken step fails the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from rich.console import Console
from rich.table import Table

from cove.profile import env_exports
from cove.server import EmbeddedServer, free_port
from cove.settings import Settings

__all__ = ["run_scenario"]

SAGEMAKER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


class Steps:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.failures = 0

    def check(self, title: str, ok: bool, detail: str) -> None:
        mark = "[green]✔[/]" if ok else "[red]✘[/]"
        self.failures += not ok
        self.console.print(f"{mark} {title}: {detail}", highlight=False)


def _ensure(create: Callable[[], Any], code: str = "EntityAlreadyExists") -> None:
    try:
        create()
    except ClientError as exc:
        if exc.response["Error"]["Code"] != code:
            raise


def run_scenario(state_dir: Path, *, port: int = 0, console: Console | None = None) -> int:
    console = console or Console()
    settings = Settings(state_dir=state_dir, port=port or free_port())
    with EmbeddedServer(settings) as server:
        env = env_exports(settings, server.cove.account)
        session = boto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=settings.region,
        )
        cfg = Config(retries={"max_attempts": 1})

        def client(name: str, s: boto3.Session = session) -> Any:
            return s.client(name, endpoint_url=server.endpoint_url, config=cfg)  # type: ignore[call-overload]

        console.rule(f"Cove at {server.endpoint_url} (state: {state_dir})")
        steps = Steps(console)
        sts, iam = client("sts"), client("iam")

        me = sts.get_caller_identity()
        steps.check("caller identity", me["Account"] == server.cove.account.account_id, me["Arn"])

        _ensure(
            lambda: iam.create_role(
                RoleName="SageMakerExecutionRole", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST)
            )
        )
        iam.attach_role_policy(
            RoleName="SageMakerExecutionRole", PolicyArn="arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"
        )
        role = iam.get_role(RoleName="SageMakerExecutionRole")["Role"]
        trusted = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
        steps.check("execution role", trusted == "sagemaker.amazonaws.com", f"{role['Arn']} trusts {trusted}")

        # A user who may only assume one role, and what that role session may and may not do.
        _ensure(lambda: iam.create_user(UserName="analyst"))
        for key in iam.list_access_keys(UserName="analyst")["AccessKeyMetadata"]:
            iam.delete_access_key(UserName="analyst", AccessKeyId=key["AccessKeyId"])
        key = iam.create_access_key(UserName="analyst")["AccessKey"]
        user_arn = iam.get_user(UserName="analyst")["User"]["Arn"]
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}],
        }
        _ensure(
            lambda: iam.create_role(RoleName="analyst-readonly", AssumeRolePolicyDocument=json.dumps(trust))
        )
        iam.put_role_policy(
            RoleName="analyst-readonly",
            PolicyName="read-iam",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"}],
                }
            ),
        )
        analyst = boto3.Session(
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
            region_name=settings.region,
        )
        creds = client("sts", analyst).assume_role(
            RoleArn=iam.get_role(RoleName="analyst-readonly")["Role"]["Arn"], RoleSessionName="scenario"
        )["Credentials"]
        role_session = boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=settings.region,
        )
        who = client("sts", role_session).get_caller_identity()
        steps.check("assumed role", ":assumed-role/analyst-readonly/scenario" in who["Arn"], who["Arn"])
        roles = client("iam", role_session).list_roles()["Roles"]
        steps.check("role session may list roles", len(roles) >= 2, f"{len(roles)} roles")
        try:
            client("iam", role_session).create_user(UserName="intruder")
            steps.check("role session may not create users", False, "CreateUser was allowed")
        except ClientError as exc:
            steps.check(
                "role session may not create users",
                exc.response["Error"]["Code"] == "AccessDenied",
                exc.response["Error"]["Message"],
            )

        table = Table("service", "operations implemented")
        for name, count in server.cove.enabled_services().items():
            table.add_row(name, str(count) if count else "[dim]none yet[/]")
        console.print(table)
        try:
            client("sagemaker").list_training_jobs()
            steps.check("unimplemented operations answer clearly", False, "no error")
        except ClientError as exc:
            err = exc.response["Error"]
            ok = (
                exc.response["ResponseMetadata"]["HTTPStatusCode"] == 501
                and "ListTrainingJobs" in err["Message"]
            )
            steps.check("unimplemented operations answer clearly", ok, f"{err['Code']}: {err['Message']}")
    console.rule("scenario passed" if not steps.failures else f"{steps.failures} step(s) failed")
    return 1 if steps.failures else 0
