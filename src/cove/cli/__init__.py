"""The ``cove`` command line."""

from cove.cli.main import app, main

__all__ = ["app", "main"]
