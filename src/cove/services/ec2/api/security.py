"""Handlers for security groups, their rules and network ACLs."""

from __future__ import annotations

from typing import Any

from cove.aws.context import RequestContext
from cove.aws.provider import operation
from cove.services.ec2 import network_acls, security_groups
from cove.services.ec2.api.base import Ec2Operations

__all__ = ["SecurityOperations"]

Out = dict[str, Any]


class SecurityOperations(Ec2Operations):
    # Security groups ----------------------------------------------------------------------------

    @operation("CreateSecurityGroup")
    def create_security_group(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            group = security_groups.create_security_group(s, ctx.account_id, ctx.region, p)
            out: Out = {"GroupId": group.id, "SecurityGroupArn": security_groups.group_arn(group)}
            if group.tags:
                out["Tags"] = list(group.tags)
            return out

    @operation("DeleteSecurityGroup")
    def delete_security_group(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            group_id = security_groups.delete_security_group(s, ctx.account_id, ctx.region, p)
        return {"Return": True, "GroupId": group_id}

    @operation("DescribeSecurityGroups")
    def describe_security_groups(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return security_groups.describe_security_groups(s, ctx.account_id, ctx.region, p)

    @operation("DescribeSecurityGroupRules")
    def describe_security_group_rules(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return security_groups.describe_security_group_rules(s, ctx.account_id, ctx.region, p)

    @operation("GetSecurityGroupsForVpc")
    def get_security_groups_for_vpc(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return security_groups.get_security_groups_for_vpc(s, ctx.account_id, ctx.region, p)

    @operation("DescribeSecurityGroupReferences")
    def describe_security_group_references(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            refs = security_groups.describe_security_group_references(
                s, ctx.account_id, ctx.region, list(p.get("GroupId") or [])
            )
        return {"SecurityGroupReferenceSet": refs}

    def _authorize(self, ctx: RequestContext, p: dict[str, Any], *, egress: bool) -> Out:
        with self.db.session() as s:
            group = security_groups.resolve_group(
                s, ctx.account_id, ctx.region, p.get("GroupId"), p.get("GroupName")
            )
            rules = security_groups.authorize(s, group, p, egress=egress)
            return {"Return": True, "SecurityGroupRules": [security_groups.rule_view(r) for r in rules]}

    @operation("AuthorizeSecurityGroupIngress")
    def authorize_security_group_ingress(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        return self._authorize(ctx, p, egress=False)

    @operation("AuthorizeSecurityGroupEgress")
    def authorize_security_group_egress(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        return self._authorize(ctx, p, egress=True)

    def _revoke(self, ctx: RequestContext, p: dict[str, Any], *, egress: bool) -> Out:
        with self.db.session() as s:
            group = security_groups.resolve_group(
                s, ctx.account_id, ctx.region, p.get("GroupId"), p.get("GroupName")
            )
            return security_groups.revoke(s, group, p, egress=egress)

    @operation("RevokeSecurityGroupIngress")
    def revoke_security_group_ingress(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        return self._revoke(ctx, p, egress=False)

    @operation("RevokeSecurityGroupEgress")
    def revoke_security_group_egress(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        return self._revoke(ctx, p, egress=True)

    def _descriptions(self, ctx: RequestContext, p: dict[str, Any], *, egress: bool) -> Out:
        with self.db.session() as s:
            group = security_groups.resolve_group(
                s, ctx.account_id, ctx.region, p.get("GroupId"), p.get("GroupName")
            )
            security_groups.update_rule_descriptions(s, group, p, egress=egress)
        return {"Return": True}

    @operation("UpdateSecurityGroupRuleDescriptionsIngress")
    def update_descriptions_ingress(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        return self._descriptions(ctx, p, egress=False)

    @operation("UpdateSecurityGroupRuleDescriptionsEgress")
    def update_descriptions_egress(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        return self._descriptions(ctx, p, egress=True)

    @operation("ModifySecurityGroupRules")
    def modify_security_group_rules(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            group = security_groups.get_group(s, ctx.account_id, ctx.region, str(p["GroupId"]))
            security_groups.modify_security_group_rules(s, group, list(p.get("SecurityGroupRules") or []))
        return {"Return": True}

    # Network ACLs ------------------------------------------------------------------------------

    @operation("CreateNetworkAcl")
    def create_network_acl(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            acl = network_acls.create_network_acl(s, ctx.account_id, ctx.region, p)
            view = network_acls.describe_network_acls(
                s, ctx.account_id, ctx.region, {"NetworkAclIds": [acl.id]}
            )
        out: Out = {"NetworkAcl": view["NetworkAcls"][0]}
        if p.get("ClientToken"):
            out["ClientToken"] = p["ClientToken"]
        return out

    @operation("DeleteNetworkAcl")
    def delete_network_acl(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            network_acls.delete_network_acl(s, ctx.account_id, ctx.region, str(p["NetworkAclId"]))
        return {}

    @operation("DescribeNetworkAcls")
    def describe_network_acls(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return network_acls.describe_network_acls(s, ctx.account_id, ctx.region, p)

    @operation("CreateNetworkAclEntry")
    def create_network_acl_entry(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            network_acls.put_entry(s, ctx.account_id, ctx.region, p, replace=False)
        return {}

    @operation("ReplaceNetworkAclEntry")
    def replace_network_acl_entry(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            network_acls.put_entry(s, ctx.account_id, ctx.region, p, replace=True)
        return {}

    @operation("DeleteNetworkAclEntry")
    def delete_network_acl_entry(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            network_acls.delete_entry(
                s, ctx.account_id, ctx.region, str(p["NetworkAclId"]), int(p["RuleNumber"]), bool(p["Egress"])
            )
        return {}

    @operation("ReplaceNetworkAclAssociation")
    def replace_network_acl_association(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            new_id = network_acls.replace_association(
                s, ctx.account_id, ctx.region, str(p["AssociationId"]), str(p["NetworkAclId"])
            )
        return {"NewAssociationId": new_id}
