"""AWS managed policies that SageMaker users commonly attach, seeded into every state directory."""

from __future__ import annotations

import json

__all__ = ["AWS_MANAGED_POLICIES"]


def _doc(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


AWS_MANAGED_POLICIES: dict[str, tuple[str, str]] = {
    # name: (path, document)
    "AdministratorAccess": ("/", _doc({"Effect": "Allow", "Action": "*", "Resource": "*"})),
    "ReadOnlyAccess": (
        "/",
        _doc({"Effect": "Allow", "Action": ["*:Describe*", "*:Get*", "*:List*", "*:Head*"], "Resource": "*"}),
    ),
    "AmazonS3FullAccess": (
        "/",
        _doc({"Effect": "Allow", "Action": ["s3:*", "s3-object-lambda:*"], "Resource": "*"}),
    ),
    "AmazonS3ReadOnlyAccess": (
        "/",
        _doc({"Effect": "Allow", "Action": ["s3:Get*", "s3:List*", "s3:Describe*"], "Resource": "*"}),
    ),
    "AmazonSageMakerFullAccess": (
        "/",
        _doc(
            {"Effect": "Allow", "Action": ["sagemaker:*"], "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": [
                    "application-autoscaling:*",
                    "cloudwatch:*",
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:CreateRepository",
                    "ecr:Describe*",
                    "ecr:GetAuthorizationToken",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:StartImageScan",
                    "ec2:Describe*",
                    "ec2:CreateNetworkInterface",
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                    "kms:DescribeKey",
                    "kms:ListAliases",
                    "logs:*",
                    "iam:ListRoles",
                ],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                "Resource": [
                    "arn:aws:s3:::*SageMaker*",
                    "arn:aws:s3:::*Sagemaker*",
                    "arn:aws:s3:::*sagemaker*",
                ],
            },
            {
                "Effect": "Allow",
                "Action": ["s3:CreateBucket", "s3:GetBucketLocation", "s3:ListBucket", "s3:ListAllMyBuckets"],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "arn:aws:iam::*:role/*",
                "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            },
        ),
    ),
    "CloudWatchLogsFullAccess": (
        "/",
        _doc({"Effect": "Allow", "Action": ["logs:*", "cloudwatch:GenerateQuery"], "Resource": "*"}),
    ),
    "AWSKeyManagementServicePowerUser": (
        "/",
        _doc(
            {
                "Effect": "Allow",
                "Action": [
                    "kms:CreateAlias",
                    "kms:CreateKey",
                    "kms:DeleteAlias",
                    "kms:Describe*",
                    "kms:GenerateRandom",
                    "kms:Get*",
                    "kms:List*",
                    "kms:TagResource",
                    "kms:UntagResource",
                    "iam:ListGroups",
                    "iam:ListRoles",
                    "iam:ListUsers",
                ],
                "Resource": "*",
            }
        ),
    ),
}
