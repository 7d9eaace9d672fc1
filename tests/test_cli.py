"""The command line: env prints working exports, doctor reports what the host has."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cove.cli import app
from cove.doctor import run_checks

runner = CliRunner()


def test_env_prints_exports(tmp_path: Path) -> None:
    result = runner.invoke(app, ["env", "--state-dir", str(tmp_path / "s"), "--port", "4711"])
    assert result.exit_code == 0, result.output
    lines = dict(line.removeprefix("export ").split("=", 1) for line in result.output.splitlines())
    assert lines["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4711"
    assert lines["AWS_ACCESS_KEY_ID"].startswith("AKIA") and len(lines["AWS_SECRET_ACCESS_KEY"]) >= 40
    # The same state dir always yields the same account credentials.
    again = runner.invoke(app, ["env", "--state-dir", str(tmp_path / "s"), "--port", "4711"])
    assert again.output == result.output


def test_doctor_reports_each_check() -> None:
    checks = {c.name: c for c in run_checks()}
    assert {
        "python",
        "root",
        "ip",
        "nft",
        "conntrack",
        "netns",
        "fuse",
        "containers",
        "encrypted volumes",
    } <= set(checks)
    assert checks["python"].ok
    for check in checks.values():
        assert check.ok or check.fix, f"{check.name} fails without a fix hint"
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == (0 if all(c.ok for c in checks.values()) else 1)
    assert "netns" in result.output
