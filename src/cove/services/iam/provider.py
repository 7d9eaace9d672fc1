"""IAM operations: thin handlers over the service modules."""

from __future__ import annotations

from typing import Any

from cove import policy
from cove.aws.context import RequestContext
from cove.aws.provider import Provider, operation
from cove.db import Database
from cove.keyring import RootKey
from cove.services.iam import policies, roles, simulate, users
from cove.services.iam.generation import GenerationCache
from cove.services.iam.holders import ROLE, USER
from cove.services.iam.policies import policy_view
from cove.services.iam.roles import role_view
from cove.services.iam.users import user_view

__all__ = ["IamProvider"]

Out = dict[str, Any]


class IamProvider(Provider):
    service = "iam"

    def __init__(self, db: Database, key: RootKey) -> None:
        self.db = db
        self.key = key
        self._roles: GenerationCache[tuple[str, str], dict[str, Any]] = GenerationCache()

    def resource_arn(self, ctx: RequestContext, params: dict[str, Any]) -> str:
        account = ctx.account_id
        if "PolicyArn" in params:
            return str(params["PolicyArn"])
        if "RoleName" in params:
            return f"arn:aws:iam::{account}:role/{params['RoleName']}"
        if "UserName" in params:
            return f"arn:aws:iam::{account}:user/{params['UserName']}"
        if "PolicySourceArn" in params:
            return str(params["PolicySourceArn"])
        return "*"

    # Roles
    @operation("CreateRole")
    def create_role(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            return {"Role": role_view(roles.create_role(s, ctx.account_id, p))}

    @operation("GetRole")
    def get_role(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        # Every SDK session expands its execution role through GetRole: serve the role from memory,
        # and only its last use (issuing credentials changes it without moving the IAM
        # generation) from the database.
        def load() -> dict[str, Any]:
            with self.db.read() as s:
                return role_view(roles.get_role(s, ctx.account_id, p["RoleName"]))

        view = dict(self._roles.get((ctx.account_id, p["RoleName"]), load))
        with self.db.read() as s:
            view["RoleLastUsed"] = roles.last_used_view(
                roles.role_last_used(s, ctx.account_id, p["RoleName"])
            )
        return {"Role": view}

    @operation("ListRoles")
    def list_roles(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return roles.list_roles(s, ctx.account_id, p)

    @operation("DeleteRole")
    def delete_role(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            roles.delete_role(s, ctx.account_id, p["RoleName"])
        return {}

    @operation("UpdateRole")
    def update_role(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            roles.update_role(s, ctx.account_id, p)
        return {}

    @operation("UpdateAssumeRolePolicy")
    def update_assume_role_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            roles.update_assume_role_policy(s, ctx.account_id, p["RoleName"], p["PolicyDocument"])
        return {}

    @operation("TagRole")
    def tag_role(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            roles.tag_role(s, ctx.account_id, p["RoleName"], p["Tags"])
        return {}

    @operation("UntagRole")
    def untag_role(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            roles.untag_role(s, ctx.account_id, p["RoleName"], p["TagKeys"])
        return {}

    @operation("ListRoleTags")
    def list_role_tags(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return {"Tags": list(roles.get_role(s, ctx.account_id, p["RoleName"]).tags), "IsTruncated": False}

    @operation("PutRolePolicy")
    def put_role_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            role = roles.get_role(s, ctx.account_id, p["RoleName"])
            ROLE.put_inline(s, role.id, p["PolicyName"], p["PolicyDocument"])
        return {}

    @operation("GetRolePolicy")
    def get_role_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            role = roles.get_role(s, ctx.account_id, p["RoleName"])
            doc = ROLE.get_inline(s, role.id, p["PolicyName"])
        return {"RoleName": role.name, "PolicyName": p["PolicyName"], "PolicyDocument": doc}

    @operation("DeleteRolePolicy")
    def delete_role_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            ROLE.delete_inline(s, roles.get_role(s, ctx.account_id, p["RoleName"]).id, p["PolicyName"])
        return {}

    @operation("ListRolePolicies")
    def list_role_policies(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            role = roles.get_role(s, ctx.account_id, p["RoleName"])
            return ROLE.list_inline(s, role.id, p.get("Marker"), p.get("MaxItems"))

    @operation("AttachRolePolicy")
    def attach_role_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            role = roles.get_role(s, ctx.account_id, p["RoleName"])
            policies.get_policy(s, ctx.account_id, p["PolicyArn"])
            ROLE.attach(s, role.id, p["PolicyArn"])
        return {}

    @operation("DetachRolePolicy")
    def detach_role_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            ROLE.detach(s, roles.get_role(s, ctx.account_id, p["RoleName"]).id, p["PolicyArn"])
        return {}

    @operation("ListAttachedRolePolicies")
    def list_attached_role_policies(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            role = roles.get_role(s, ctx.account_id, p["RoleName"])
            return ROLE.list_attached(s, role.id, p.get("Marker"), p.get("MaxItems"))

    # Users and access keys
    @operation("CreateUser")
    def create_user(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            return {"User": user_view(users.create_user(s, ctx.account_id, p))}

    @operation("GetUser")
    def get_user(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        name = p.get("UserName")
        if not name and ctx.principal.kind == "user":
            name = ctx.principal.name
        if not name:
            # GetUser without a name answers for the caller; for root, the account itself.
            return {
                "User": {
                    "Path": "/",
                    "UserName": "",
                    "UserId": ctx.account_id,
                    "Arn": ctx.principal.arn,
                    "CreateDate": ctx.now,
                }
            }
        with self.db.read() as s:
            return {"User": user_view(users.get_user(s, ctx.account_id, name))}

    @operation("ListUsers")
    def list_users(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return users.list_users(s, ctx.account_id, p)

    @operation("DeleteUser")
    def delete_user(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            users.delete_user(s, ctx.account_id, p["UserName"])
        return {}

    @operation("CreateAccessKey")
    def create_access_key(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            return {
                "AccessKey": users.create_access_key(s, self.key, ctx.account_id, self._user_name(ctx, p))
            }

    @operation("ListAccessKeys")
    def list_access_keys(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return users.list_access_keys(s, ctx.account_id, self._user_name(ctx, p))

    @operation("UpdateAccessKey")
    def update_access_key(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            users.update_access_key(s, ctx.account_id, self._user_name(ctx, p), p["AccessKeyId"], p["Status"])
        return {}

    @operation("DeleteAccessKey")
    def delete_access_key(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            users.delete_access_key(s, ctx.account_id, self._user_name(ctx, p), p["AccessKeyId"])
        return {}

    @staticmethod
    def _user_name(ctx: RequestContext, p: dict[str, Any]) -> str | None:
        name = p.get("UserName")
        if name:
            return str(name)
        return ctx.principal.name if ctx.principal.kind == "user" else None

    @operation("PutUserPolicy")
    def put_user_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            USER.put_inline(
                s, users.get_user(s, ctx.account_id, p["UserName"]).id, p["PolicyName"], p["PolicyDocument"]
            )
        return {}

    @operation("GetUserPolicy")
    def get_user_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            user = users.get_user(s, ctx.account_id, p["UserName"])
            doc = USER.get_inline(s, user.id, p["PolicyName"])
        return {"UserName": user.name, "PolicyName": p["PolicyName"], "PolicyDocument": doc}

    @operation("DeleteUserPolicy")
    def delete_user_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            USER.delete_inline(s, users.get_user(s, ctx.account_id, p["UserName"]).id, p["PolicyName"])
        return {}

    @operation("ListUserPolicies")
    def list_user_policies(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            user = users.get_user(s, ctx.account_id, p["UserName"])
            return USER.list_inline(s, user.id, p.get("Marker"), p.get("MaxItems"))

    @operation("AttachUserPolicy")
    def attach_user_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            user = users.get_user(s, ctx.account_id, p["UserName"])
            policies.get_policy(s, ctx.account_id, p["PolicyArn"])
            USER.attach(s, user.id, p["PolicyArn"])
        return {}

    @operation("DetachUserPolicy")
    def detach_user_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            USER.detach(s, users.get_user(s, ctx.account_id, p["UserName"]).id, p["PolicyArn"])
        return {}

    @operation("ListAttachedUserPolicies")
    def list_attached_user_policies(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            user = users.get_user(s, ctx.account_id, p["UserName"])
            return USER.list_attached(s, user.id, p.get("Marker"), p.get("MaxItems"))

    # Managed policies
    @operation("CreatePolicy")
    def create_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            return {"Policy": policy_view(s, policies.create_policy(s, ctx.account_id, p))}

    @operation("GetPolicy")
    def get_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return {"Policy": policy_view(s, policies.get_policy(s, ctx.account_id, p["PolicyArn"]))}

    @operation("GetPolicyVersion")
    def get_policy_version(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return {
                "PolicyVersion": policies.get_policy_version(
                    s, ctx.account_id, p["PolicyArn"], p["VersionId"]
                )
            }

    @operation("ListPolicies")
    def list_policies(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return policies.list_policies(s, ctx.account_id, p)

    @operation("DeletePolicy")
    def delete_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            policies.delete_policy(s, ctx.account_id, p["PolicyArn"])
        return {}

    # Simulation
    @operation("SimulatePrincipalPolicy")
    def simulate_principal_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            principal, documents = simulate.source_policies(s, p["PolicySourceArn"])
        extra = [(f"PolicyInputList.{i + 1}", d) for i, d in enumerate(p.get("PolicyInputList", []))]
        return simulate.simulate(principal, documents + extra, p)

    @operation("SimulateCustomPolicy")
    def simulate_custom_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        documents = [(f"PolicyInputList.{i + 1}", d) for i, d in enumerate(p["PolicyInputList"])]
        # Only the given policies count: simulate an ordinary user, never the all-powerful root.
        caller = policy.Principal.user(f"arn:aws:iam::{ctx.account_id}:user/SimulatedUser")
        return simulate.simulate(caller, documents, p)
