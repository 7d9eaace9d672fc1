"""The data key that encrypts an instance's ML storage volume (``VolumeKmsKeyId``).

SageMaker asks KMS for a data key on the job's behalf; a disabled, missing or forbidden key fails
the job with KMS's own error. Cove asks as the job's execution role, through SageMaker (so the
key policy's ``kms:ViaService`` conditions see ``sagemaker.<region>.amazonaws.com``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from cove.aws.context import RequestContext, SourceContext
from cove.aws.errors import ServiceError
from cove.db import Database
from cove.keyring import RootKey
from cove.services.iam.roles import find_role_by_arn
from cove.services.kms.datakeys import generate_data_key
from cove.services.sagemaker.lifecycle import JobRow
from cove.services.sts.credentials import assumed_role_principal

__all__ = ["VolumeKeyError", "volume_key"]


class VolumeKeyError(RuntimeError):
    """The message is the job's FailureReason."""


def volume_key(db: Database, root: RootKey, job: JobRow, key_id: str | None) -> bytes | None:
    if not key_id:
        return None
    role_arn = str(job.request["RoleArn"])
    with db.session() as session:
        role = find_role_by_arn(session, role_arn)
        if role is None:
            raise VolumeKeyError(f"ClientError: The execution role {role_arn} does not exist.")
        caller = RequestContext(
            request_id=str(uuid.uuid4()),
            region=job.region,
            service="sagemaker",
            operation="GenerateDataKey",
            principal=assumed_role_principal(role, "SageMaker"),
            source=SourceContext(source_ip="sagemaker.amazonaws.com"),
            now=datetime.now(UTC),
        )
        try:
            plaintext, _blob, _arn = generate_data_key(
                session,
                root,
                caller=caller,
                key_id=key_id,
                context={"aws:sagemaker:job-arn": job.arn},
            )
        except ServiceError as exc:
            raise VolumeKeyError(
                f"ClientError: Could not use the KMS key {key_id} to encrypt the ML storage volume: "
                f"{exc.code}: {exc.message}"
            ) from None
    return plaintext
