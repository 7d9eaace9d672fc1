"""How a job's end reads to its user: the FailureReason of an algorithm that failed, and a processing
job's ExitMessage, from what the containers left in each instance's /opt/ml."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cove.runtime.layout import read_exit_message, read_failure

__all__ = ["algorithm_error", "exit_message", "message_error"]

_LIMIT = 1024
"""SageMaker cuts FailureReason and ExitMessage at 1 KiB."""


def algorithm_error(kind: str, trees: Sequence[Path], codes: Sequence[int]) -> str:
    """The first instance's failure file, else (processing) the exit message, else the exit code."""
    for tree in trees:
        text = read_failure(tree, kind)
        if text:
            return f"AlgorithmError: {text}"[:_LIMIT]
    if kind == "processing":
        message = exit_message(trees)
        if message:
            return f"AlgorithmError: {message}"[:_LIMIT]
    code = next((c for c in codes if c != 0), 1)
    return f"AlgorithmError: , exit code: {code}"


def exit_message(trees: Sequence[Path]) -> str | None:
    """Every container's /opt/ml/output/message, concatenated, first KiB (ExitMessage)."""
    joined = "".join(text for text, _error in map(read_exit_message, trees) if text)
    return joined[:_LIMIT] if joined else None


def message_error(trees: Sequence[Path]) -> str | None:
    """A processing container's message file that is not UTF-8 fails the job (ClientError)."""
    return next((error for _text, error in map(read_exit_message, trees) if error), None)
