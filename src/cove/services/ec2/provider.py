"""The EC2 provider: every handler family combined into one provider for the ``ec2`` service."""

from __future__ import annotations

from cove.services.ec2.api.base import Ec2Operations

__all__ = ["Ec2Provider"]


# Each resource family contributes a mixin of handlers (cove.services.ec2.api.*); list them here.
class Ec2Provider(Ec2Operations):
    pass
