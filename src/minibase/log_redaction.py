"""Keep secrets out of every log line: a filter on the loggers of Minibase and its libraries.

What it removes, wherever it appears in a record (message, arguments, ``extra=`` fields,
traceback text):

- Minibase tokens (``mb_sess_``, ``mb_key_``, ``mb_inv_``, ``mb_tkt_``, ``mb_ver_``) and
  ``token=`` / ``ticket=`` query parameters;
- ``Authorization`` header values and argon2 password hashes;
- webhook secrets (``whsec_...``) and webhook signatures (``v1,<base64>``);
- the row values PostgreSQL quotes in its error details (``Key (email)=(...)``,
  ``Failing row contains (...)``).

uvicorn's WebSocket handshake lines (``"WebSocket /v1/sync?token=..." [accepted]``) are
dropped whole: the access log of :mod:`minibase.http.middleware` records sockets without
their query string. SQLAlchemy is told not to render bound parameters into its errors
(``hide_parameters=True`` in :mod:`minibase.store.database`), so an error never carries
a row's values in the first place; this filter is the second wall.

The one deliberate exception is the development invitation sender, whose delivery *is* a
log line (see ``docs/security.md``): records with ``delivery=True`` in ``extra`` from the
``minibase.delivery`` logger keep the link they deliver.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"

DELIVERY_LOGGER = "minibase.delivery"
"""The logger of the development senders (invitation and verification links)."""

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"mb_(?:sess|key|inv|tkt|ver)_[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"(?i)\b(token|ticket|key|password|secret)=[^&\s\"'#]*"), r"\1=" + REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"\$argon2(?:id|i|d)\$[^\s'\")]*"), REDACTED),
    # Webhook secrets and Standard Webhooks signatures (services/webhooks.py).
    (re.compile(r"whsec_[A-Za-z0-9+/=]*"), REDACTED),
    (re.compile(r"\bv1,[A-Za-z0-9+/]{40,}={0,2}"), REDACTED),
    (
        re.compile(r"(Key \([^)]*\)=\()[^\n]*?(\)(?: already exists| is not present|\s*$))"),
        r"\1" + REDACTED + r"\2",
    ),
    (re.compile(r"(Failing row contains \()[^\n]*"), r"\1" + REDACTED + ")"),
)

_WEBSOCKET_HANDSHAKE = re.compile(r'"WebSocket ')

LIBRARY_LOGGERS = (
    "minibase",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "sqlalchemy",
    "sqlalchemy.engine",
    "sqlalchemy.engine.Engine",
    "sqlalchemy.pool",
    "sqlalchemy.orm",
    "alembic",
    "asyncpg",
    "fastapi",
    "starlette",
    "websockets",
    "httpx",
)
"""Loggers (and, at install time, all their existing children) that get the filter."""


def redact(text: str) -> str:
    """``text`` with every secret pattern replaced by ``[redacted]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", "replace"))
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(v) for v in value]
    return redact(str(value))


_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_FORMATTER = logging.Formatter()


class RedactSecrets(logging.Filter):
    """Rewrite a record so that no secret is left in it; drop uvicorn's socket handshakes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_minibase_redacted", False):
            return True
        if record.name == DELIVERY_LOGGER and getattr(record, "delivery", False):
            return True
        if record.name.startswith("uvicorn") and _WEBSOCKET_HANDSHAKE.search(str(record.msg)):
            return False
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed format: log what there is
            message = f"{record.msg} {record.args}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            text = record.exc_text or _FORMATTER.formatException(record.exc_info)
            record.exc_text = redact(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and not key.startswith("_"):
                record.__dict__[key] = _redact_value(value)
        record._minibase_redacted = True
        return True


_FILTER = RedactSecrets()


def install_redaction() -> None:
    """Put the filter on the library loggers, their existing children and root's handlers.

    Idempotent. A filter on a logger sees only records created at that logger, so it is
    installed on every existing child too; root's handlers catch what propagates from a
    logger created later.
    """
    names = set(LIBRARY_LOGGERS)
    prefixes = tuple(f"{name}." for name in LIBRARY_LOGGERS)
    names.update(n for n in logging.Logger.manager.loggerDict if n.startswith(prefixes))
    for name in names:
        _add(logging.getLogger(name))
    for handler in logging.getLogger().handlers:
        _add(handler)


def _add(target: logging.Logger | logging.Handler) -> None:
    if _FILTER not in target.filters:
        target.addFilter(_FILTER)
