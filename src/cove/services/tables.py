"""Imports every service's tables so ``Base.metadata`` is complete (alembic, create_all)."""

from cove.services.cloudtrail import tables as cloudtrail_tables
from cove.services.cloudwatch import tables as cloudwatch_tables
from cove.services.ec2 import tables as ec2_tables
from cove.services.iam import tables as iam_tables
from cove.services.kms import tables as kms_tables
from cove.services.logs import tables as logs_tables
from cove.services.s3 import tables as s3_tables
from cove.services.sagemaker import tables as sagemaker_tables

__all__ = [
    "cloudtrail_tables",
    "cloudwatch_tables",
    "ec2_tables",
    "iam_tables",
    "kms_tables",
    "logs_tables",
    "s3_tables",
    "sagemaker_tables",
]
