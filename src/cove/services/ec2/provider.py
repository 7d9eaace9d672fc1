"""The EC2 provider: every handler family combined into one provider for the ``ec2`` service."""

from __future__ import annotations

from cove.services.ec2.api.base import Ec2Operations
from cove.services.ec2.api.endpoints import EndpointOperations
from cove.services.ec2.api.insights import InsightsOperations
from cove.services.ec2.api.security import SecurityOperations
from cove.services.ec2.api.topology import TopologyOperations

__all__ = ["Ec2Provider"]


# Each resource family contributes a mixin of handlers (cove.services.ec2.api.*); list them here.
class Ec2Provider(
    TopologyOperations, EndpointOperations, SecurityOperations, InsightsOperations, Ec2Operations
):
    pass
