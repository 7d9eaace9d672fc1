"""The one error the policy engine raises: a malformed policy document."""

from __future__ import annotations

__all__ = ["PolicyError"]


class PolicyError(ValueError):
    """A policy document IAM would reject with ``MalformedPolicyDocument``.

    ``reason`` is IAM's wording; ``str(error)`` adds where the problem is (statement index and Sid)
    so a person can find it in a long document.
    """

    def __init__(self, reason: str, *, statement_index: int | None = None, sid: str | None = None) -> None:
        self.reason = reason
        self.statement_index = statement_index
        self.sid = sid
        super().__init__(self._render())

    def _render(self) -> str:
        if self.statement_index is None:
            return self.reason
        where = f"statement {self.statement_index}"
        if self.sid:
            where += f', Sid "{self.sid}"'
        return f"{self.reason} ({where})"

    @property
    def message(self) -> str:
        return str(self)
