"""One typed settings object, read from ``COVE_*`` environment variables and CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "DEFAULT_REGION", "Settings"]

# Fixed and documented so `cove env`, the README and clients agree without configuration.
DEFAULT_PORT = 4600
DEFAULT_HOST = "127.0.0.1"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class Settings:
    state_dir: Path = field(default_factory=lambda: Path(os.environ.get("COVE_STATE_DIR", ".cove")))
    host: str = field(default_factory=lambda: os.environ.get("COVE_HOST", DEFAULT_HOST))
    port: int = field(default_factory=lambda: int(os.environ.get("COVE_PORT", str(DEFAULT_PORT))))
    region: str = field(default_factory=lambda: os.environ.get("COVE_REGION", DEFAULT_REGION))
    database_url: str | None = field(default_factory=lambda: os.environ.get("COVE_DATABASE_URL") or None)
    log_level: str = field(default_factory=lambda: os.environ.get("COVE_LOG_LEVEL", "info"))
    flow_log_interval: float | None = field(
        default_factory=lambda: (
            float(os.environ["COVE_FLOW_LOG_INTERVAL"]) if os.environ.get("COVE_FLOW_LOG_INTERVAL") else None
        )
    )
    """Seconds per flow-log aggregation interval, overriding MaxAggregationInterval (tests, demos)."""
    fabric: str = field(default_factory=lambda: os.environ.get("COVE_FABRIC", "auto"))
    """Kernel enforcement of VPCs: `on`, `off`, or `auto` (on when running as root with namespaces)."""
    image_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("COVE_IMAGE_DIR") or "~/.cache/cove/images").expanduser()
    )
    """Where `cove image build` puts the framework images jobs run in (shared by state directories)."""
    # The local account's id when the state directory is first created (random otherwise).
    account_id: str | None = field(default_factory=lambda: os.environ.get("COVE_ACCOUNT_ID") or None)
    # An operator-chosen root access key (tools and test suites that hard-code credentials).
    root_access_key_id: str | None = field(
        default_factory=lambda: os.environ.get("COVE_ROOT_ACCESS_KEY_ID") or None
    )
    root_secret_access_key: str | None = field(
        default_factory=lambda: os.environ.get("COVE_ROOT_SECRET_ACCESS_KEY") or None
    )

    @property
    def root_key(self) -> tuple[str, str] | None:
        if self.root_access_key_id and self.root_secret_access_key:
            return (self.root_access_key_id, self.root_secret_access_key)
        return None

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.state_dir / 'cove.db').resolve()}"

    @property
    def root_key_path(self) -> Path:
        return self.state_dir / "root.key"

    @property
    def endpoint_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"
