"""What every EC2 handler family shares: the database and the per-request account/region."""

from __future__ import annotations

from cove.aws.provider import Provider
from cove.db import Database

__all__ = ["Ec2Operations"]


class Ec2Operations(Provider):
    service = "ec2"

    def __init__(self, db: Database) -> None:
        self.db = db
