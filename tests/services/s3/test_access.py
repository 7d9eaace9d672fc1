"""S3 authorization: identity, bucket and VPC endpoint policies decided through ``access.authorize``
with real request contexts, real IAM principals and real VPC endpoints."""

from __future__ import annotations

import functools
import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from sqlalchemy import select

from cove.aws.context import Credential, RequestContext, SourceContext
from cove.aws.errors import AccessDenied
from cove.aws.gateway import ANONYMOUS
from cove.server import EmbeddedServer
from cove.services.cloudtrail.events import flush_events
from cove.services.cloudtrail.tables import AuditEventRow
from cove.services.iam.authorizer import IamAuthorizer
from cove.services.iam.holders import USER
from cove.services.iam.tables import Account
from cove.services.iam.users import create_access_key, create_user
from cove.services.s3 import access
from tests.conftest import ClientFactory

S3_SERVICE = "com.amazonaws.us-east-1.s3"
ALL_S3 = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@dataclass
class World:
    server: EmbeddedServer
    account: str
    other: str
    credentials: dict[str, Credential]
    sources: dict[str, SourceContext]
    vpc_id: str
    endpoints: dict[str, str] = field(default_factory=dict)

    @property
    def authorizer(self) -> IamAuthorizer:
        authorizer = self.server.cove.gateway.authorizer
        assert isinstance(authorizer, IamAuthorizer)
        return authorizer

    def arn(self, who: str) -> str:
        return self.credentials[who].principal.arn

    def fill(self, text: str) -> str:
        """Put this world's ids into a templated policy or message."""
        for token, value in (
            ("VPCE_DEFAULT", self.endpoints["ep"]),
            ("VPCE_ONLY", self.endpoints["ep-only"]),
            ("VPC_ID", self.vpc_id),
            ("ACCOUNT_A", self.account),
            ("ACCOUNT_B", self.other),
            *((f"ARN_{who.upper()}", self.arn(who)) for who in self.credentials),
            ("ROLE_WORKER", f"arn:aws:iam::{self.account}:role/{self._role}"),
        ):
            text = text.replace(token, value)
        return text

    _role: str = ""

    def context(self, who: str, source: str, operation: str) -> RequestContext:
        credential = self.credentials.get(who)
        return RequestContext(
            request_id=str(uuid.uuid4()),
            region="us-east-1",
            service="s3",
            operation=operation,
            principal=credential.principal if credential else ANONYMOUS,
            source=self.sources[source],
            now=datetime.now(UTC),
            credential=credential,
        )

    def decide(
        self,
        who: str,
        source: str,
        operation: str,
        bucket: str | None,
        key: str | None = None,
        *,
        bucket_policy: str | None = None,
        owner: str | None = None,
        extra_keys: dict[str, str | list[str]] | None = None,
    ) -> tuple[RequestContext, AccessDenied | None]:
        ctx = self.context(who, source, operation)
        with self.server.cove.db.read() as session:
            try:
                decision = access.authorize(
                    session,
                    self.authorizer,
                    ctx,
                    action=access.ACTIONS[operation],
                    bucket=bucket,
                    key=key,
                    bucket_owner=owner if owner is not None else (self.account if bucket else None),
                    bucket_policy=self.fill(bucket_policy) if bucket_policy else None,
                    extra_keys=extra_keys,
                )
            except AccessDenied as exc:
                return ctx, exc
        assert decision.allowed
        return ctx, None


def _iam_user(iam: Any, server: EmbeddedServer, *policies: str) -> Credential:
    name = f"s3u-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    for i, document in enumerate(policies):
        iam.put_user_policy(UserName=name, PolicyName=f"p{i}", PolicyDocument=document)
    key = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    credential = server.cove.gateway.credentials.resolve(key)
    assert credential is not None
    return credential


def _other_account_user(server: EmbeddedServer, account: str, *policies: str) -> Credential:
    """A user in a second account, made directly through the IAM tables and service functions."""
    with server.cove.db.session() as session:
        if session.get(Account, account) is None:
            session.add(Account(id=account, name=f"other-{account}"))
            session.flush()
        user = create_user(session, account, {"UserName": f"x-{uuid.uuid4().hex[:8]}"})
        for i, document in enumerate(policies):
            USER.put_inline(session, user.id, f"p{i}", document)
        key = create_access_key(session, server.cove.key, account, user.name)["AccessKeyId"]
    credential = server.cove.gateway.credentials.resolve(key)
    assert credential is not None and credential.principal.account_id == account
    return credential


def _other_account_root(server: EmbeddedServer, account: str) -> Credential:
    with server.cove.db.session() as session:
        key = create_access_key(session, server.cove.key, account, None)["AccessKeyId"]
    credential = server.cove.gateway.credentials.resolve(key)
    assert credential is not None and credential.principal.is_root
    return credential


def _endpoint(ec2: Any, vpc_id: str, policy: str | None) -> str:
    table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    params: dict[str, Any] = {
        "VpcEndpointType": "Gateway",
        "VpcId": vpc_id,
        "ServiceName": S3_SERVICE,
        "RouteTableIds": [table],
    }
    if policy is not None:
        params["PolicyDocument"] = policy
    endpoint_id: str = ec2.create_vpc_endpoint(**params)["VpcEndpoint"]["VpcEndpointId"]
    return endpoint_id


# The SageMaker guide's endpoint policy: full access except the Amazon Linux repository buckets.
REPO_DENY = json.dumps(
    {
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
            {
                "Sid": "AmazonLinuxAMIRepositoryAccess",
                "Principal": "*",
                "Action": ["s3:GetObject"],
                "Effect": "Deny",
                "Resource": [
                    "arn:aws:s3:::packages.*.amazonaws.com/*",
                    "arn:aws:s3:::repo.*.amazonaws.com/*",
                ],
            },
        ]
    }
)
ONLY_ONE_BUCKET = json.dumps(
    {
        "Statement": [
            {
                "Sid": "OnlyThis",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::only-this", "arn:aws:s3:::only-this/*"],
            }
        ]
    }
)


@pytest.fixture(scope="module")
def world(cove_server: EmbeddedServer, client: ClientFactory) -> World:
    account = cove_server.cove.account.account_id
    other = "".join(random.choice("0123456789") for _ in range(12))
    iam = client("iam")
    role = f"worker-{uuid.uuid4().hex[:8]}"
    iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=_doc(
            {"Effect": "Allow", "Principal": {"AWS": account}, "Action": "sts:AssumeRole"}
        ),
    )
    iam.put_role_policy(RoleName=role, PolicyName="s3", PolicyDocument=_doc(ALL_S3))
    role_arn = f"arn:aws:iam::{account}:role/{role}"
    # Roles may not be assumed by root accounts: a user with sts:AssumeRole does it.
    assumer = _iam_user(
        iam, cove_server, _doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn})
    )
    sts = client(
        "sts", aws_access_key_id=assumer.access_key_id, aws_secret_access_key=assumer.secret_access_key
    )

    def session(name: str, policy: str | None = None) -> Credential:
        params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": name}
        if policy:
            params["Policy"] = policy
        key = sts.assume_role(**params)["Credentials"]["AccessKeyId"]
        credential = cove_server.cove.gateway.credentials.resolve(key)
        assert credential is not None
        return credential

    root = cove_server.cove.gateway.credentials.resolve(cove_server.cove.account.access_key_id)
    assert root is not None
    credentials = {
        "root": root,
        "alice": _iam_user(iam, cove_server),
        "bob": _iam_user(iam, cove_server, _doc(ALL_S3)),
        "carol": _iam_user(
            iam,
            cove_server,
            _doc(
                ALL_S3, {"Sid": "NoDeletes", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}
            ),
        ),
        "worker": session("plain"),
        "narrowed": session(
            "narrowed",
            _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"}),
        ),
        "mallory": _other_account_user(cove_server, other, _doc(ALL_S3)),
        "eve": _other_account_user(cove_server, other),
        "root_b": _other_account_root(cove_server, other),
    }
    ec2 = client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    endpoints = {
        "ep": _endpoint(ec2, vpc_id, None),
        "ep-only": _endpoint(ec2, vpc_id, ONLY_ONE_BUCKET),
        "ep-repo": _endpoint(ec2, vpc_id, REPO_DENY),
    }

    def via(name: str, ip: str = "10.0.1.25") -> SourceContext:
        return SourceContext(source_ip=ip, vpce_id=endpoints[name], vpc_id=vpc_id, vpc_source_ip=ip)

    sources = {
        "internet": SourceContext(),
        "internet-tls": SourceContext(secure_transport=True),
        "ep": via("ep"),
        "ep-other-ip": via("ep", "10.0.2.9"),
        "ep-only": via("ep-only"),
        "ep-repo": via("ep-repo"),
        "ep-gone": SourceContext(vpce_id="vpce-0000000000000dead", vpc_id=vpc_id, vpc_source_ip="10.0.1.5"),
    }
    w = World(cove_server, account, other, credentials, sources, vpc_id, endpoints)
    w._role = role
    return w


# What AWS appends to "User: <arn> is not authorized to perform: <action> on resource: "<arn>"".
DENIED = {
    "identity": "because no identity-based policy allows the {action} action",
    "resource": "because no resource-based policy allows the {action} action",
    "endpoint": "because no VPC endpoint policy allows the {action} action",
    "session": "because no session policy allows the {action} action",
    "deny-identity": "with an explicit deny in an identity-based policy",
    "deny-resource": "with an explicit deny in a resource-based policy",
    "deny-endpoint": "with an explicit deny in a VPC endpoint policy",
}

ONLY_VIA_VPCE = _doc(
    {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::data/*"]},
    {
        "Sid": "OnlyThroughEndpoint",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::data", "arn:aws:s3:::data/*"],
        "Condition": {"StringNotEquals": {"aws:SourceVpce": "VPCE_DEFAULT"}},
    },
)
ONLY_FROM_VPC = _doc(
    {
        "Sid": "OnlyFromVpc",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::data/*",
        "Condition": {"StringNotEquals": {"aws:SourceVpc": "VPC_ID"}},
    }
)
ONLY_SUBNET_IPS = _doc(
    {
        "Sid": "OnlySubnet",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::data/*",
        "Condition": {"NotIpAddress": {"aws:VpcSourceIp": ["10.0.1.0/24", "10.0.3.0/24"]}},
    }
)
ONLY_PUBLIC_IPS = _doc(
    {
        "Sid": "OnlyOffice",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::data/*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}},
    }
)
ALLOW_ALICE = _doc(
    {"Sid": "Alice", "Effect": "Allow", "Principal": {"AWS": "ARN_ALICE"}, "Action": "s3:*", "Resource": "*"}
)
ALLOW_CAROL_DELETE = _doc(
    {
        "Sid": "CarolMayDelete",
        "Effect": "Allow",
        "Principal": {"AWS": "ARN_CAROL"},
        "Action": "s3:DeleteObject",
        "Resource": "arn:aws:s3:::data/*",
    }
)
DENY_EVERYONE = _doc(
    {
        "Sid": "Lockdown",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::data/*",
    }
)
ALLOW_ACCOUNT_B = _doc(
    {
        "Sid": "PartnerRead",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::ACCOUNT_B:root"},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::data/*",
    }
)
ALLOW_MALLORY = _doc(
    {
        "Sid": "MalloryRead",
        "Effect": "Allow",
        "Principal": {"AWS": ["ARN_MALLORY"]},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::data/*",
    }
)
ONLY_BOB = _doc(
    {
        "Sid": "EveryoneButBob",
        "Effect": "Deny",
        "NotPrincipal": {"AWS": ["ARN_BOB", "arn:aws:iam::ACCOUNT_A:root"]},
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::data/*",
    }
)
PREFIX_IF_EXISTS = _doc(
    {
        "Sid": "HomeIfAny",
        "Effect": "Allow",
        "Principal": {"AWS": "ARN_ALICE"},
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::data",
        "Condition": {"StringEqualsIfExists": {"s3:prefix": "home/"}},
    }
)
PREFIX_REQUIRED = _doc(
    {
        "Sid": "HomeOnly",
        "Effect": "Allow",
        "Principal": {"AWS": "ARN_ALICE"},
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::data",
        "Condition": {"StringEquals": {"s3:prefix": "home/"}},
    }
)
TLS_ONLY = _doc(
    {
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::data", "arn:aws:s3:::data/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
)
KMS_ONLY = _doc(
    {
        "Sid": "DenyUnencrypted",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::data/*",
        "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
    }
)
GOOD_KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KMS_KEY_ONLY = _doc(
    {
        "Sid": "OnlyOurKey",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::data/*",
        "Condition": {
            "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": GOOD_KEY}
        },
    }
)
PUBLIC_READ = _doc(
    {
        "Sid": "PublicRead",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::data/*",
    }
)
ALLOW_WORKER_ROLE = _doc(
    {
        "Sid": "WorkerRole",
        "Effect": "Allow",
        "Principal": {"AWS": "ROLE_WORKER"},
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::data/*",
    }
)


@dataclass(frozen=True)
class Case:
    name: str
    who: str
    source: str
    operation: str
    bucket: str | None = "data"
    key: str | None = "k"
    policy: str | None = None
    expect: str = "allow"  # "allow", a DENIED key, or "anonymous"
    sid: str | None = None  # the statement that decided a denial, when one did
    extra: dict[str, str | list[str]] | None = None
    owner: str | None = None  # "B" for a bucket of the second account


CASES = [
    Case("identity allow", "bob", "internet", "GetObject"),
    Case("no identity policy", "alice", "internet", "GetObject", expect="identity"),
    Case("bucket policy grants same-account user", "alice", "internet", "GetObject", policy=ALLOW_ALICE),
    Case("identity deny", "carol", "internet", "DeleteObject", expect="deny-identity", sid="NoDeletes"),
    Case(
        "identity deny beats bucket allow",
        "carol",
        "internet",
        "DeleteObject",
        policy=ALLOW_CAROL_DELETE,
        expect="deny-identity",
        sid="NoDeletes",
    ),
    Case(
        "SourceVpce deny from the internet",
        "bob",
        "internet",
        "GetObject",
        policy=ONLY_VIA_VPCE,
        expect="deny-resource",
        sid="OnlyThroughEndpoint",
    ),
    Case("SourceVpce allows through the endpoint", "bob", "ep", "GetObject", policy=ONLY_VIA_VPCE),
    Case(
        "SourceVpce allows listing through it", "bob", "ep", "ListObjectsV2", key=None, policy=ONLY_VIA_VPCE
    ),
    Case(
        "SourceVpce: another endpoint is denied",
        "bob",
        "ep-repo",
        "GetObject",
        policy=ONLY_VIA_VPCE,
        expect="deny-resource",
        sid="OnlyThroughEndpoint",
    ),
    Case("SourceVpc allows through an endpoint of the VPC", "bob", "ep", "PutObject", policy=ONLY_FROM_VPC),
    Case(
        "SourceVpc denies the internet",
        "bob",
        "internet",
        "PutObject",
        policy=ONLY_FROM_VPC,
        expect="deny-resource",
        sid="OnlyFromVpc",
    ),
    Case("VpcSourceIp in range", "bob", "ep", "GetObject", policy=ONLY_SUBNET_IPS),
    Case(
        "VpcSourceIp out of range",
        "bob",
        "ep-other-ip",
        "GetObject",
        policy=ONLY_SUBNET_IPS,
        expect="deny-resource",
        sid="OnlySubnet",
    ),
    Case("SourceIp allows the loopback internet", "bob", "internet", "GetObject", policy=ONLY_PUBLIC_IPS),
    Case(
        "SourceIp is absent through an endpoint",
        "bob",
        "ep",
        "GetObject",
        policy=ONLY_PUBLIC_IPS,
        expect="deny-resource",
        sid="OnlyOffice",
    ),
    Case(
        "endpoint policy denies the repo buckets",
        "bob",
        "ep-repo",
        "GetObject",
        bucket="repo.us-east-1.amazonaws.com",
        key="2018.03/main/mirror.list",
        expect="deny-endpoint",
        sid="AmazonLinuxAMIRepositoryAccess",
    ),
    Case("endpoint policy lets other buckets through", "bob", "ep-repo", "GetObject"),
    Case("endpoint policy allowing one bucket: that one", "bob", "ep-only", "GetObject", bucket="only-this"),
    Case("endpoint policy allowing one bucket: another", "bob", "ep-only", "GetObject", expect="endpoint"),
    Case("unknown endpoint fails closed", "bob", "ep-gone", "GetObject", expect="endpoint"),
    Case("default endpoint policy allows", "worker", "ep", "PutObject"),
    Case("owner root needs no policy", "root", "internet", "GetObject"),
    Case(
        "owner root denied by bucket policy",
        "root",
        "internet",
        "GetObject",
        policy=DENY_EVERYONE,
        expect="deny-resource",
        sid="Lockdown",
    ),
    Case("cross-account without bucket policy", "mallory", "internet", "GetObject", expect="resource"),
    Case("cross-account granted to the account", "mallory", "internet", "GetObject", policy=ALLOW_ACCOUNT_B),
    Case("cross-account granted to the user", "mallory", "ep", "GetObject", policy=ALLOW_MALLORY),
    Case(
        "cross-account needs its identity policy too",
        "eve",
        "internet",
        "GetObject",
        policy=ALLOW_ACCOUNT_B,
        expect="identity",
    ),
    Case(
        "cross-account: bucket grants read only",
        "mallory",
        "internet",
        "PutObject",
        policy=ALLOW_ACCOUNT_B,
        expect="resource",
    ),
    Case("bucket in the other account, own user", "mallory", "internet", "GetObject", owner="B"),
    Case(
        "bucket in the other account, our user", "bob", "internet", "GetObject", owner="B", expect="resource"
    ),
    Case("other account's root, own bucket", "root_b", "internet", "DeleteBucket", key=None, owner="B"),
    Case("our root, other account's bucket", "root", "internet", "GetObject", owner="B", expect="resource"),
    Case("NotPrincipal exempts the listed user", "bob", "internet", "GetObject", policy=ONLY_BOB),
    Case(
        "NotPrincipal denies everyone else",
        "worker",
        "internet",
        "GetObject",
        policy=ONLY_BOB,
        expect="deny-resource",
        sid="EveryoneButBob",
    ),
    Case(
        "IfExists: no prefix given", "alice", "internet", "ListObjectsV2", key=None, policy=PREFIX_IF_EXISTS
    ),
    Case(
        "IfExists: matching prefix",
        "alice",
        "internet",
        "ListObjectsV2",
        key=None,
        policy=PREFIX_IF_EXISTS,
        extra={"s3:prefix": "home/"},
    ),
    Case(
        "IfExists: other prefix",
        "alice",
        "internet",
        "ListObjectsV2",
        key=None,
        policy=PREFIX_IF_EXISTS,
        extra={"s3:prefix": "etc/"},
        expect="identity",
    ),
    Case(
        "without IfExists a missing prefix fails",
        "alice",
        "internet",
        "ListObjects",
        key=None,
        policy=PREFIX_REQUIRED,
        expect="identity",
    ),
    Case(
        "SecureTransport false is denied",
        "bob",
        "internet",
        "GetObject",
        policy=TLS_ONLY,
        expect="deny-resource",
        sid="TlsOnly",
    ),
    Case("SecureTransport true is allowed", "bob", "internet-tls", "GetObject", policy=TLS_ONLY),
    Case(
        "SSE required: none given",
        "bob",
        "internet",
        "PutObject",
        policy=KMS_ONLY,
        expect="deny-resource",
        sid="DenyUnencrypted",
    ),
    Case(
        "SSE required: AES256 given",
        "bob",
        "internet",
        "PutObject",
        policy=KMS_ONLY,
        extra={"s3:x-amz-server-side-encryption": "AES256"},
        expect="deny-resource",
        sid="DenyUnencrypted",
    ),
    Case(
        "SSE required: aws:kms given",
        "bob",
        "internet",
        "PutObject",
        policy=KMS_ONLY,
        extra={"s3:x-amz-server-side-encryption": "aws:kms"},
    ),
    Case(
        "KMS key id: ours",
        "bob",
        "internet",
        "PutObject",
        policy=KMS_KEY_ONLY,
        extra={"s3:x-amz-server-side-encryption-aws-kms-key-id": GOOD_KEY},
    ),
    Case(
        "KMS key id: another",
        "bob",
        "internet",
        "PutObject",
        policy=KMS_KEY_ONLY,
        extra={"s3:x-amz-server-side-encryption-aws-kms-key-id": GOOD_KEY.replace("1234abcd", "99999999")},
        expect="deny-resource",
        sid="OnlyOurKey",
    ),
    Case("anonymous public read", "anonymous", "internet", "GetObject", policy=PUBLIC_READ),
    Case(
        "anonymous cannot list a public-read bucket",
        "anonymous",
        "internet",
        "ListObjectsV2",
        key=None,
        policy=PUBLIC_READ,
        expect="anonymous",
    ),
    Case("anonymous without bucket policy", "anonymous", "ep", "GetObject", expect="anonymous"),
    Case("session policy allows its slice", "narrowed", "internet", "GetObject"),
    Case("session policy narrows the role", "narrowed", "internet", "PutObject", expect="session"),
    Case(
        "bucket policy naming the role is still narrowed",
        "narrowed",
        "internet",
        "PutObject",
        policy=ALLOW_WORKER_ROLE,
        expect="session",
    ),
    Case("ListBuckets allowed", "bob", "internet", "ListBuckets", bucket=None, key=None),
    Case("ListBuckets denied", "alice", "internet", "ListBuckets", bucket=None, key=None, expect="identity"),
]


def test_case_table_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_authorize(world: World, case: Case) -> None:
    owner = world.other if case.owner == "B" else None
    ctx, denied = world.decide(
        case.who,
        case.source,
        case.operation,
        case.bucket,
        case.key,
        bucket_policy=case.policy,
        owner=owner,
        extra_keys=case.extra,
    )
    if case.expect == "allow":
        assert denied is None, denied and denied.message
        return
    assert denied is not None, f"{case.name}: expected a denial"
    assert denied.code == "AccessDenied" and denied.status == 403
    if case.expect == "anonymous":
        assert denied.message == "Access Denied"
    else:
        action = access.ACTIONS[case.operation]
        text = f"User: {world.arn(case.who)} is not authorized to perform: {action}"
        if case.bucket:
            text += f' on resource: "{access.resource_arn(case.bucket, case.key)}"'
        assert denied.message == f"{text} {DENIED[case.expect].format(action=action)}"
    record = _audit_record(world, ctx)
    authorization = record["additionalEventData"]["authorization"]
    assert authorization["decision"] == ("explicitDeny" if case.expect.startswith("deny") else "implicitDeny")
    if case.sid:
        assert case.sid in [s["sid"] for s in authorization["statements"]]


def _audit_record(world: World, ctx: RequestContext) -> dict[str, Any]:
    assert flush_events(world.server.cove.db)
    with world.server.cove.db.read() as session:
        rows = session.scalars(
            select(AuditEventRow.record).where(AuditEventRow.event_name == ctx.operation)
        ).all()
    found = [json.loads(r) for r in rows if ctx.request_id in r]
    assert len(found) == 1
    record: dict[str, Any] = found[0]
    assert record["requestID"] == ctx.request_id
    return record


def test_allowed_decision_is_audited_with_its_statements(world: World) -> None:
    ctx, denied = world.decide("alice", "ep", "GetObject", "data", "reports/a.csv", bucket_policy=ALLOW_ALICE)
    assert denied is None
    record = _audit_record(world, ctx)
    assert record["eventSource"] == "s3.amazonaws.com"
    assert record["eventCategory"] == "Data" and record["managementEvent"] is False
    assert record["readOnly"] is True
    assert record["vpcEndpointId"] == world.endpoints["ep"]
    assert record["sourceIPAddress"] == "10.0.1.25"
    assert record["requestParameters"] == {"bucketName": "data", "key": "reports/a.csv"}
    arns = [r["ARN"] for r in record["resources"]]
    assert arns == ["arn:aws:s3:::data/reports/a.csv", "arn:aws:s3:::data"]
    authorization = record["additionalEventData"]["authorization"]
    assert authorization["decision"] == "allowed"
    layers = {(s["policyType"], s["sid"]) for s in authorization["statements"]}
    assert ("resource-based", "Alice") in layers
    assert ("VPC endpoint", None) in layers


def test_denied_decision_is_audited_with_the_error(world: World) -> None:
    ctx, denied = world.decide("bob", "internet", "PutObject", "data", "x", bucket_policy=KMS_ONLY)
    assert denied is not None
    record = _audit_record(world, ctx)
    assert record["errorCode"] == "AccessDenied"
    assert record["errorMessage"] == denied.message
    assert record["readOnly"] is False
    assert record["additionalEventData"]["authorization"]["deniedBy"] == "resource-based"


def test_endpoint_policy_change_takes_effect(world: World, client: ClientFactory) -> None:
    ec2 = client("ec2")
    endpoint = _endpoint(ec2, world.vpc_id, None)
    world.sources["ep-changing"] = SourceContext(
        vpce_id=endpoint, vpc_id=world.vpc_id, vpc_source_ip="10.0.1.7"
    )
    assert world.decide("bob", "ep-changing", "GetObject", "data", "k")[1] is None
    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint, PolicyDocument=ONLY_ONE_BUCKET)
    denied = world.decide("bob", "ep-changing", "GetObject", "data", "k")[1]
    assert denied is not None and denied.message.endswith(
        "because no VPC endpoint policy allows the s3:GetObject action"
    )
    assert world.decide("bob", "ep-changing", "GetObject", "only-this", "k")[1] is None


def test_every_botocore_operation_has_an_action() -> None:
    model = botocore.session.get_session().get_service_model("s3")
    assert set(model.operation_names) <= set(access.ACTIONS)
    assert all(a.split(":", 1)[0] in ("s3", "s3express", "s3-object-lambda") for a in access.ACTIONS.values())


@pytest.mark.parametrize(
    ("operation", "action"),
    [
        ("HeadObject", "s3:GetObject"),
        ("HeadBucket", "s3:ListBucket"),
        ("ListObjects", "s3:ListBucket"),
        ("ListObjectsV2", "s3:ListBucket"),
        ("ListBuckets", "s3:ListAllMyBuckets"),
        ("CreateMultipartUpload", "s3:PutObject"),
        ("UploadPart", "s3:PutObject"),
        ("CompleteMultipartUpload", "s3:PutObject"),
        ("AbortMultipartUpload", "s3:AbortMultipartUpload"),
        ("ListParts", "s3:ListMultipartUploadParts"),
        ("ListMultipartUploads", "s3:ListBucketMultipartUploads"),
        ("DeleteObjects", "s3:DeleteObject"),
        ("GetBucketLocation", "s3:GetBucketLocation"),
        ("PutBucketEncryption", "s3:PutEncryptionConfiguration"),
        ("GetBucketEncryption", "s3:GetEncryptionConfiguration"),
        ("PutBucketPolicy", "s3:PutBucketPolicy"),
        ("GetBucketPolicy", "s3:GetBucketPolicy"),
        ("DeleteBucketPolicy", "s3:DeleteBucketPolicy"),
        ("DeleteBucketTagging", "s3:PutBucketTagging"),
        ("DeleteObjectTagging", "s3:DeleteObjectTagging"),
        ("CopyObject", "s3:PutObject"),
        ("CreateBucket", "s3:CreateBucket"),
        ("DeleteBucket", "s3:DeleteBucket"),
        ("ListObjectVersions", "s3:ListBucketVersions"),
    ],
)
def test_action_table(operation: str, action: str) -> None:
    assert access.ACTIONS[operation] == action


def test_version_actions() -> None:
    assert access.action_for("GetObject") == "s3:GetObject"
    assert access.action_for("GetObject", version_id="3HL4kqtJ") == "s3:GetObjectVersion"
    assert access.action_for("DeleteObject", version_id="null") == "s3:DeleteObjectVersion"
    assert access.action_for("PutObject", version_id="x") == "s3:PutObject"


def test_resource_arn() -> None:
    assert access.resource_arn(None) == "*"
    assert access.resource_arn("b") == "arn:aws:s3:::b"
    assert access.resource_arn("b", "a/b c.txt") == "arn:aws:s3:::b/a/b c.txt"
    assert access.resource_arn("b", "") == "arn:aws:s3:::b/"


# -- the same rules through boto3 and the live server, with a listener standing for the endpoint --


class _Listener:
    """A second HTTP listener on the server's gateway whose requests carry a VPC endpoint's source
    context: what the network layer attaches inside a VPC."""

    def __init__(self, server: EmbeddedServer, source: SourceContext) -> None:
        import threading

        import uvicorn

        from cove.aws.asgi import GatewayApp
        from cove.server import free_port

        self.port = free_port()
        app = GatewayApp(server.cove.gateway, source=lambda scope: source)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="vpce-listener", daemon=True)

    def __enter__(self) -> str:
        import time

        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            assert self._thread.is_alive() and time.monotonic() < deadline, "listener did not start"
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)


@functools.cache
def _s3(endpoint_url: str, credential: Credential) -> Any:
    # Creating a botocore client costs most of a second: one per listener and caller.
    import boto3
    from botocore.config import Config

    return boto3.Session(
        aws_access_key_id=credential.access_key_id,
        aws_secret_access_key=credential.secret_access_key,
        region_name="us-east-1",
    ).client("s3", endpoint_url=endpoint_url, config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def listener(world: World) -> Iterator[Callable[[str], str]]:
    """``listener("ep")``: the URL of a listener for that source, started on first use."""
    started: dict[str, tuple[_Listener, str]] = {}

    def url(source: str) -> str:
        if source not in started:
            one = _Listener(world.server, world.sources[source])
            started[source] = (one, one.__enter__())
        return started[source][1]

    yield url
    for one, _ in started.values():
        one.__exit__()


@pytest.fixture(scope="module")
def live_bucket(world: World, client: ClientFactory) -> str:
    pytest.importorskip("cove.services.s3.provider")
    from cove.services.s3.policies import put_bucket_policy
    from cove.services.s3.tables import S3Bucket

    name = f"vpce-only-{uuid.uuid4().hex[:8]}"
    client("s3").create_bucket(Bucket=name)
    document = _doc(
        {
            "Sid": "OnlyThroughEndpoint",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{name}/*"],
            "Condition": {"StringNotEquals": {"aws:SourceVpce": world.endpoints["ep"]}},
        },
        {
            "Sid": "KmsOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": [f"arn:aws:s3:::{name}/*"],
            "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
        },
    )
    # PutBucketPolicy may not be wired to a handler yet: the service function sets it.
    with world.server.cove.db.session() as session:
        row = session.get(S3Bucket, name)
        assert row is not None
        put_bucket_policy(session, row, document)
    return name


def test_live_bucket_policy_requires_the_endpoint(
    world: World, live_bucket: str, listener: Callable[[str], str]
) -> None:
    from botocore.exceptions import ClientError

    bob = world.credentials["bob"]
    outside = _s3(world.server.endpoint_url, bob)
    with pytest.raises(ClientError) as exc:
        outside.put_object(Bucket=live_bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms")
    error = exc.value.response["Error"]
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Code"] == "AccessDenied"
    assert error["Message"] == (
        f"User: {bob.principal.arn} is not authorized to perform: s3:PutObject on resource: "
        f'"arn:aws:s3:::{live_bucket}/k" with an explicit deny in a resource-based policy'
    )
    inside = _s3(listener("ep"), bob)
    inside.put_object(
        Bucket=live_bucket, Key="k", Body=b"through the endpoint", ServerSideEncryption="aws:kms"
    )
    assert inside.get_object(Bucket=live_bucket, Key="k")["Body"].read() == b"through the endpoint"
    # The bucket policy still wants SSE-KMS, endpoint or not.
    with pytest.raises(ClientError) as exc:
        inside.put_object(Bucket=live_bucket, Key="plain", Body=b"x")
    assert exc.value.response["Error"]["Message"].endswith("with an explicit deny in a resource-based policy")
    with pytest.raises(ClientError) as exc:
        outside.get_object(Bucket=live_bucket, Key="k")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_live_endpoint_policy_gates_requests(
    world: World, client: ClientFactory, live_bucket: str, listener: Callable[[str], str]
) -> None:
    from botocore.exceptions import ClientError

    bob = world.credentials["bob"]
    name = f"gate-{uuid.uuid4().hex[:8]}"
    client("s3").create_bucket(Bucket=name)
    client("s3").put_object(Bucket=name, Key="k", Body=b"x")
    assert _s3(world.server.endpoint_url, bob).get_object(Bucket=name, Key="k")["Body"].read() == b"x"
    with pytest.raises(ClientError) as exc:
        _s3(listener("ep-only"), bob).get_object(Bucket=name, Key="k")
    assert exc.value.response["Error"]["Message"] == (
        f"User: {bob.principal.arn} is not authorized to perform: s3:GetObject on resource: "
        f'"arn:aws:s3:::{name}/k" because no VPC endpoint policy allows the s3:GetObject action'
    )
    # A Deny in the bucket policy outranks the endpoint policy's silence.
    with pytest.raises(ClientError) as exc:
        _s3(listener("ep-only"), bob).get_object(Bucket=live_bucket, Key="k")
    assert exc.value.response["Error"]["Message"].endswith("with an explicit deny in a resource-based policy")


def test_live_anonymous_is_told_access_denied(live_bucket: str, listener: Callable[[str], str]) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(f"{listener('ep')}/{live_bucket}/k", timeout=10)
    assert exc.value.code == 403
    body = exc.value.read().decode()
    assert "<Code>AccessDenied</Code>" in body and "<Message>Access Denied</Message>" in body


TAGGED_ONLY = _doc(
    {
        "Sid": "PublicTagged",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::data/*",
        "Condition": {"StringEquals": {"s3:ExistingObjectTag/classification": "public"}},
    },
    {
        "Sid": "NoSecretTags",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObjectTagging",
        "Resource": "arn:aws:s3:::data/*",
        "Condition": {"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["secret"]}},
    },
)


def test_object_tag_condition_keys(world: World) -> None:
    public = access.existing_tag_keys({"classification": "public"})
    private = access.existing_tag_keys({"classification": "internal"})
    assert (
        world.decide(
            "anonymous", "internet", "GetObject", "data", "k", bucket_policy=TAGGED_ONLY, extra_keys=public
        )[1]
        is None
    )
    denied = world.decide(
        "anonymous", "internet", "GetObject", "data", "k", bucket_policy=TAGGED_ONLY, extra_keys=private
    )[1]
    assert denied is not None and denied.message == "Access Denied"
    ok = access.request_tag_keys({"team": "ml"})
    bad = access.request_tag_keys({"team": "ml", "secret": "x"})
    assert ok["s3:RequestObjectTag/team"] == "ml" and bad["s3:RequestObjectTagKeys"] == ["team", "secret"]
    assert (
        world.decide(
            "bob", "internet", "PutObjectTagging", "data", "k", bucket_policy=TAGGED_ONLY, extra_keys=ok
        )[1]
        is None
    )
    denied = world.decide(
        "bob", "internet", "PutObjectTagging", "data", "k", bucket_policy=TAGGED_ONLY, extra_keys=bad
    )[1]
    assert denied is not None and denied.message.endswith("with an explicit deny in a resource-based policy")
