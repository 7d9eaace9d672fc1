"""Providers: thin objects that map an operation name to a function of (context, params)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from cove.aws.context import RequestContext

__all__ = ["Handler", "Output", "Provider", "operation"]

# A handler's output, or a Future of it: a handler that handed its slow part (an fsync) to a thread
# of its own returns the Future, and the edge answers when it is done without holding a thread.
Output = dict[str, Any] | Future[dict[str, Any]]
Handler = Callable[[Any, RequestContext, dict[str, Any]], Output]
F = TypeVar("F", bound=Callable[..., Output])


def operation(name: str) -> Callable[[F], F]:
    """Mark a provider method as the handler of the model's operation ``name``."""

    def mark(fn: F) -> F:
        fn.__cove_operation__ = name  # type: ignore[attr-defined]
        return fn

    return mark


class Provider:
    """Base class: subclasses set ``service`` (botocore's service name) and mark handlers."""

    service: str = ""
    # Operations that decide authorization themselves (resource or trust policies in play, or no
    # permission needed at all, like sts:GetCallerIdentity); the gateway skips its identity check.
    self_authorized: frozenset[str] = frozenset()
    # Operations named like reads (Get*/List*/Describe*/Head*) run on the event loop; name here the
    # ones that write or may block anyway, so they run in a worker thread.
    blocking: frozenset[str] = frozenset()
    # Operations that write but run on the event loop all the same: their handlers do only quick
    # work there and return a Future for the rest (S3's PutObject hands its fsyncs and commit to a
    # group committer), saving two thread hops a request.
    deferring: frozenset[str] = frozenset()
    _handlers: dict[str, Handler]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[str, Handler] = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                name = getattr(attr, "__cove_operation__", None)
                if name:
                    handlers[name] = attr
        cls._handlers = handlers

    def handler(self, operation_name: str) -> Callable[[RequestContext, dict[str, Any]], Output] | None:
        fn = self._handlers.get(operation_name)
        if fn is None:
            return None
        return lambda ctx, params: fn(self, ctx, params)

    @property
    def operations(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def resource_arn(self, ctx: RequestContext, params: dict[str, Any]) -> str:
        """The ARN an IAM identity policy is checked against; ``*`` unless a provider knows better."""
        return "*"
