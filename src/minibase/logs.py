"""Structured logs: one JSON object per line, never a token or a password.

Every line written while a request is handled carries its ``request_id`` (the
``X-Request-Id`` the client sent, or one made up), whatever logger writes it: the request
middleware sets :data:`REQUEST_ID` for the HTTP request or the WebSocket connection, and
the record factory installed by :func:`install_request_ids` stamps it on each record. A
run remembers the id of the request that queued it, and the worker sets it again while it
executes the run, so the worker's lines carry it too. Tasks that serve many requests
(a room, a batch of saves, the bus) are started with :func:`detached` so they do not keep
the id of the request that happened to start them.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from typing import Any

import orjson

from minibase.log_redaction import install_redaction

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "minibase_request_id", default=None
)
"""The id of the request (or WebSocket connection, or run) being handled here."""

_installed: list[Any] = []


def install_request_ids() -> None:
    """Stamp :data:`REQUEST_ID` on every log record created while it is set (idempotent)."""
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        request_id = REQUEST_ID.get()
        if request_id is not None:
            record.request_id = request_id
        return record

    logging.setLogRecordFactory(factory)
    _installed.append(factory)


def request_extra(request_id: str) -> dict[str, Any]:
    """``extra=`` for a line about ``request_id``, written where :data:`REQUEST_ID` may
    not hold it (outside the middleware); empty where the factory stamps it already (a
    key given twice is an error of :mod:`logging`)."""
    return {} if REQUEST_ID.get() is not None and _installed else {"request_id": request_id}


def detached() -> contextvars.Context:
    """A copy of the current context without a request id, for ``create_task(context=)``
    of a task that outlives the request that starts it and serves others."""
    context = contextvars.copy_context()
    context.run(REQUEST_ID.set, None)
    return context


_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JSONFormatter(logging.Formatter):
    """Render a record as one JSON line; ``extra=`` fields become keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": int(record.created * 1000),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:  # already formatted (and redacted) by the filter
            entry["exc"] = record.exc_text
        return orjson.dumps(entry, default=str).decode("utf-8")


def configure_logging(level: str) -> None:
    """Send every log line (ours and uvicorn's) to stderr as JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our access log replaces uvicorn's, whose lines would carry query strings (tokens).
    logging.getLogger("uvicorn.access").handlers[:] = []
    logging.getLogger("uvicorn.access").propagate = False
    install_redaction()
    install_request_ids()
