"""Handlers: Reachability Analyzer (network insights paths and analyses)."""

from __future__ import annotations

from typing import Any

from cove.aws.context import RequestContext
from cove.aws.provider import operation
from cove.services.ec2 import insights
from cove.services.ec2.api.base import Ec2Operations

__all__ = ["InsightsOperations"]

Out = dict[str, Any]


class InsightsOperations(Ec2Operations):
    @operation("CreateNetworkInsightsPath")
    def create_network_insights_path(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            return {
                "NetworkInsightsPath": insights.path_view(
                    insights.create_path(s, ctx.account_id, ctx.region, p)
                )
            }

    @operation("DescribeNetworkInsightsPaths")
    def describe_network_insights_paths(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return insights.describe_paths(s, ctx.account_id, ctx.region, p)

    @operation("DeleteNetworkInsightsPath")
    def delete_network_insights_path(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            insights.delete_path(s, ctx.account_id, ctx.region, p["NetworkInsightsPathId"])
        return {"NetworkInsightsPathId": p["NetworkInsightsPathId"]}

    @operation("StartNetworkInsightsAnalysis")
    def start_network_insights_analysis(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            analysis = insights.start_analysis(s, ctx.account_id, ctx.region, p)
            return {"NetworkInsightsAnalysis": insights.analysis_view(analysis)}

    @operation("DescribeNetworkInsightsAnalyses")
    def describe_network_insights_analyses(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return insights.describe_analyses(s, ctx.account_id, ctx.region, p)

    @operation("DeleteNetworkInsightsAnalysis")
    def delete_network_insights_analysis(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            insights.delete_analysis(s, ctx.account_id, ctx.region, p["NetworkInsightsAnalysisId"])
        return {"NetworkInsightsAnalysisId": p["NetworkInsightsAnalysisId"]}
