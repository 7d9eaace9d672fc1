"""Handlers: managed prefix lists, VPC endpoints and their services, flow logs, and the generic tags."""

from __future__ import annotations

from typing import Any

from cove.aws.context import RequestContext
from cove.aws.provider import operation
from cove.services.ec2 import endpoints, flow_logs, prefix_lists, tagging
from cove.services.ec2.api.base import Ec2Operations

__all__ = ["EndpointOperations"]

Out = dict[str, Any]


class EndpointOperations(Ec2Operations):
    # Prefix lists
    @operation("CreateManagedPrefixList")
    def create_managed_prefix_list(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            pl = prefix_lists.create_managed_prefix_list(s, ctx.account_id, ctx.region, p)
            return {"PrefixList": prefix_lists.prefix_list_view(pl)}

    @operation("DescribeManagedPrefixLists")
    def describe_managed_prefix_lists(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return prefix_lists.describe_managed_prefix_lists(s, ctx.account_id, ctx.region, p)

    @operation("DescribePrefixLists")
    def describe_prefix_lists(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        return prefix_lists.describe_prefix_lists(ctx.region, p)

    @operation("GetManagedPrefixListEntries")
    def get_managed_prefix_list_entries(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return prefix_lists.get_managed_prefix_list_entries(s, ctx.account_id, ctx.region, p)

    @operation("ModifyManagedPrefixList")
    def modify_managed_prefix_list(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            pl = prefix_lists.modify_managed_prefix_list(s, ctx.account_id, ctx.region, p)
            return {"PrefixList": prefix_lists.prefix_list_view(pl)}

    @operation("DeleteManagedPrefixList")
    def delete_managed_prefix_list(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            view = prefix_lists.delete_managed_prefix_list(s, ctx.account_id, ctx.region, p["PrefixListId"])
        return {"PrefixList": view}

    # VPC endpoints
    @operation("DescribeVpcEndpointServices")
    def describe_vpc_endpoint_services(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        return endpoints.describe_vpc_endpoint_services(ctx.region, p)

    @operation("CreateVpcEndpoint")
    def create_vpc_endpoint(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            ep = endpoints.create_vpc_endpoint(s, ctx.account_id, ctx.region, p)
            out: Out = {"VpcEndpoint": endpoints.endpoint_view(ep)}
        if p.get("ClientToken"):
            out["ClientToken"] = p["ClientToken"]
        return out

    @operation("ModifyVpcEndpoint")
    def modify_vpc_endpoint(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            endpoints.modify_vpc_endpoint(s, ctx.account_id, ctx.region, p)
        return {"Return": True}

    @operation("DescribeVpcEndpoints")
    def describe_vpc_endpoints(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return endpoints.describe_vpc_endpoints(s, ctx.account_id, ctx.region, p)

    @operation("DeleteVpcEndpoints")
    def delete_vpc_endpoints(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            failed = endpoints.delete_vpc_endpoints(s, ctx.account_id, ctx.region, list(p["VpcEndpointIds"]))
        return {"Unsuccessful": failed}

    # Flow logs
    @operation("CreateFlowLogs")
    def create_flow_logs(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            return flow_logs.create_flow_logs(s, ctx.account_id, ctx.region, p)

    @operation("DescribeFlowLogs")
    def describe_flow_logs(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return flow_logs.describe_flow_logs(s, ctx.account_id, ctx.region, p)

    @operation("DeleteFlowLogs")
    def delete_flow_logs(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            failed = flow_logs.delete_flow_logs(s, ctx.account_id, ctx.region, list(p["FlowLogIds"]))
        return {"Unsuccessful": failed}

    # Tags on any resource
    @operation("CreateTags")
    def create_tags(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            tagging.create_tags(s, ctx.account_id, ctx.region, list(p["Resources"]), list(p["Tags"]))
        return {}

    @operation("DeleteTags")
    def delete_tags(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        tags = p.get("Tags")
        with self.db.session() as s:
            tagging.delete_tags(
                s, ctx.account_id, ctx.region, list(p["Resources"]), None if tags is None else list(tags)
            )
        return {}

    @operation("DescribeTags")
    def describe_tags(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return tagging.describe_tags(s, ctx.account_id, ctx.region, p)
