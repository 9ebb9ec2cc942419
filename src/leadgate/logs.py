"""Structured logs: one JSON object per line, with the request and lead they belong to, and no personal data.

Every record has ``time`` (ISO 8601, UTC), ``level``, ``logger`` and ``message``; records written while a
request is served also carry ``request_id`` and, once known, ``lead_id``; the access record of a request
adds ``method``, ``route`` (the route template, ``/v1/leads/{lead_id}``, never the raw path or query),
``status`` and ``duration_ms``. Other keys given with ``extra=`` are kept.

Personal data never belongs in a log record: the code logs ids, counts, tiers and reasons, never a lead's
fields nor the text of a chat message. As a safety net, :class:`JsonFormatter` replaces whatever looks like
an email address or a phone number in any string value (the message, an exception's traceback, an extra
field) with ``[email]`` or ``[phone]`` before the line is written.

The formatter is python-json-logger's (with orjson); :func:`configure_logging` is the one place a process
sets up its logging (``leadgate serve`` and every CLI command call it). See docs/logging.md.
"""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.orjson import OrjsonFormatter

__all__ = [
    "LOGGERS_KEPT_QUIET",
    "JsonFormatter",
    "RequestContext",
    "bind_lead",
    "configure_logging",
    "current_request",
    "scrub",
]

# An email address: something@domain.tld (the local part as RFC 5322 allows it, unquoted).
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# A phone number candidate: an optional +, then digits with the separators people write (space, dot,
# dash, parentheses); not inside a longer word or id (a uuid's hex, ``run-2026``). Checked by _phone.
_PHONE = re.compile(r"(?<![\w.+-])\+?\(?\d[\d\s().-]{5,22}\d(?![\w-])")
# What a phone candidate may be instead: a date (2026-05-14, 14.05.2026) or a decimal number (0.1234567).
_NOT_PHONE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}\.\d{2}\.\d{4}|\d+\.\d+")
#: Fewest and most digits of a phone number: 7 (a local number) to 15 (the E.164 maximum).
_PHONE_DIGITS = (7, 15)


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(c.isdigit() for c in text)
    if not _PHONE_DIGITS[0] <= digits <= _PHONE_DIGITS[1] or _NOT_PHONE.fullmatch(text.strip()):
        return text
    if _NOT_PHONE.match(text.strip()) and not text.lstrip().startswith("+"):
        return text  # starts with a date: a timestamp
    return "[phone]"


def scrub(text: str) -> str:
    """Replace email addresses with ``[email]`` and phone numbers with ``[phone]``.

    A safety net, not a filter to rely on: it cannot recognize a person's name, so code must not log
    personal data in the first place.

    Args:
        text: any string.

    Returns:
        ``text`` with every email address and every run of 7 to 15 digits written as a phone number (an
        optional ``+``, digits separated by spaces, dots, dashes or parentheses) replaced. Dates, decimal
        numbers and digits inside ids (uuids, ``run-2026``) are kept.
    """
    if "@" in text:
        text = _EMAIL.sub("[email]", text)
    return _PHONE.sub(_phone, text)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(str(k)): _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub_value(v) for v in value]
    return value


@dataclass
class RequestContext:
    """What the log records written while serving one request share.

    The request middleware sets it; a route fills ``lead_id`` once it knows which lead the request is about
    (:func:`bind_lead`). Mutable on purpose: a sync route runs in a worker thread on a copy of the context,
    and the access record written after it must still see the lead id.
    """

    request_id: str
    lead_id: str | None = None


_request: ContextVar[RequestContext | None] = ContextVar("leadgate_request", default=None)


def current_request() -> RequestContext | None:
    """The context of the request being served, or None outside a request (CLI commands, startup)."""
    return _request.get()


def set_request(ctx: RequestContext | None) -> Any:
    """Make ``ctx`` the current request context; returns the token for :func:`reset_request`."""
    return _request.set(ctx)


def reset_request(token: Any) -> None:
    """Restore the request context that was current before :func:`set_request` returned ``token``."""
    _request.reset(token)


def bind_lead(lead_id: str | None) -> None:
    """Record which lead the current request is about (its log records then carry ``lead_id``)."""
    ctx = _request.get()
    if ctx is not None and lead_id:
        ctx.lead_id = lead_id


class JsonFormatter(OrjsonFormatter):
    """python-json-logger's orjson formatter with leadgate's fields and the personal-data safety net.

    Output keys: ``time``, ``level``, ``logger``, ``message``, the record's extra fields, ``exc_info`` for an
    exception, then ``request_id`` and ``lead_id`` of the current request (when there is one).
    Every string value except ``time`` goes through :func:`scrub`.
    """

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            # uvicorn's copy of the message with terminal colour codes
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        """Add the standard fields, the record's own extra fields, then the current request's ids."""
        super().add_fields(log_data, record, message_dict)
        ctx = _request.get()
        if ctx is not None:
            log_data["request_id"] = ctx.request_id
            if ctx.lead_id:
                log_data["lead_id"] = ctx.lead_id

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        """Scrub every value but the timestamp, and put ``time`` first."""
        out: dict[str, Any] = {"time": log_data.pop("time", None)}
        for key, value in log_data.items():
            out[key] = _scrub_value(value)
        return out


#: Third-party loggers that stay at WARNING whatever the level asked: at INFO or DEBUG they would write
#: request URLs and bodies, or SQL statements with their parameters (personal data). ``httpx2`` and
#: ``httpcore2`` are httpx's successor, which huggingface_hub (a dependency of ``tokenizers``) installs and
#: Starlette's test client then prefers; it logs every request URL at INFO.
LOGGERS_KEPT_QUIET = (
    "sqlalchemy",
    "httpx",
    "httpcore",
    "httpx2",
    "httpcore2",
    "huggingface_hub",
    "multipart",
    "python_multipart",
    "asyncio",
)

_HANDLER_NAME = "leadgate-json"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each record (a test runner swaps it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        """Write ``record`` to the current ``sys.stderr``."""
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(
    level: str | int = "INFO", file: Path | str | None = None, stream: TextIO | None = None
) -> None:
    """Send every log record of this process, as JSON lines, to one file or stream.

    Replaces the root logger's handlers (idempotent: a second call replaces the first one's handler);
    uvicorn's loggers are routed to the root logger too, so ``leadgate serve`` writes one format.

    Args:
        level: lowest level written (a name such as ``"DEBUG"`` or a ``logging`` number).
        file: append to this file (created with its folders); None writes to ``stream``.
        stream: where to write without a file; default ``sys.stderr``.
    """
    handler: logging.Handler
    if file is not None:
        path = Path(file)
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == _HANDLER_NAME:
            root.removeHandler(old)
            old.close()
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}: use DEBUG, INFO, WARNING or ERROR")
    root.setLevel(numeric)
    for name in LOGGERS_KEPT_QUIET:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
        uv.setLevel(logging.NOTSET)
