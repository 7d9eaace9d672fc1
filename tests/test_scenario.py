"""`make run`'s scenario passes, twice on the same state directory (it cleans up after itself)."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from cove.scenario import run_scenario


def test_scenario_passes_and_is_repeatable(tmp_path: Path) -> None:
    for _ in range(2):
        out = io.StringIO()
        assert run_scenario(tmp_path / "state", console=Console(file=out, width=200)) == 0, out.getvalue()
        text = out.getvalue()
        assert "✘" not in text and "scenario passed" in text
