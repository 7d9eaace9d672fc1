"""The local account's credentials as an AWS profile, where boto3 and the AWS CLI look for them."""

from __future__ import annotations

import configparser
import os
from pathlib import Path

from cove.services.iam.accounts import LocalAccount
from cove.settings import Settings

__all__ = ["PROFILE", "env_exports", "write_profile"]

PROFILE = "cove"


def _atomic_write(path: Path, parser: configparser.ConfigParser) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".cove-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        parser.write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_profile(settings: Settings, account: LocalAccount) -> tuple[Path, Path]:
    """Write ``[cove]`` into the shared credentials and config files (honouring
    ``AWS_SHARED_CREDENTIALS_FILE``/``AWS_CONFIG_FILE``), leaving other profiles untouched."""
    cred_path = Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")).expanduser()
    conf_path = Path(os.environ.get("AWS_CONFIG_FILE", "~/.aws/config")).expanduser()
    creds = configparser.ConfigParser()
    creds.read(cred_path)
    creds[PROFILE] = {
        "aws_access_key_id": account.access_key_id,
        "aws_secret_access_key": account.secret_access_key,
    }
    _atomic_write(cred_path, creds)
    conf = configparser.ConfigParser()
    conf.read(conf_path)
    conf[f"profile {PROFILE}"] = {"region": settings.region, "endpoint_url": settings.endpoint_url}
    _atomic_write(conf_path, conf)
    return cred_path, conf_path


def env_exports(settings: Settings, account: LocalAccount) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": settings.endpoint_url,
        "AWS_ACCESS_KEY_ID": account.access_key_id,
        "AWS_SECRET_ACCESS_KEY": account.secret_access_key,
        "AWS_DEFAULT_REGION": settings.region,
        "AWS_REGION": settings.region,
    }
