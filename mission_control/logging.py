"""Log context: the request id and, where known, the business, agent and execution.

Values live in context variables so that they follow a request (or a Celery task) through
every function it calls, and a logging filter copies them onto each record.
"""

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_context_var: contextvars.ContextVar[dict] = contextvars.ContextVar("log_context", default={})  # noqa: B039

CONTEXT_KEYS = ("client", "business", "agent", "execution")


def bind(**values) -> None:
    """Add business/agent/execution ids to the current log context."""
    current = dict(_context_var.get())
    current.update({k: v for k, v in values.items() if v is not None})
    _context_var.set(current)


def current_context() -> dict:
    """The values bound so far (``client``, ``business``, ``agent``, ``execution``)."""
    return dict(_context_var.get())


@contextmanager
def log_context(request_id: str | None = None, **values) -> Iterator[None]:
    token_ctx = _context_var.set({k: v for k, v in values.items() if v is not None})
    token_req = request_id_var.set(request_id) if request_id else None
    try:
        yield
    finally:
        _context_var.reset(token_ctx)
        if token_req is not None:
            request_id_var.reset(token_req)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        ctx = _context_var.get()
        for key in CONTEXT_KEYS:
            setattr(record, key, ctx.get(key))
        record.context = "".join(f" {k}={ctx[k]}" for k in CONTEXT_KEYS if k in ctx)
        return True
