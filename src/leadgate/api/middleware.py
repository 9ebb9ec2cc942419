"""Pure ASGI middleware of the API: request ids with one access log record per request, security headers.

Pure ASGI (not ``BaseHTTPMiddleware``) so streamed responses (the SSE events stream) pass through
unbuffered and the route's ``bind_lead`` is seen by the access record.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadgate.logs import RequestContext, reset_request, scrub, set_request

__all__ = ["REQUEST_ID_HEADER", "STRICT_CSP", "RequestLog", "SecurityHeaders", "sane_request_id"]

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

access_log = logging.getLogger("leadgate.access")


def sane_request_id(value: str | None) -> str | None:
    """``value`` when it is a usable request id, else None.

    Usable: 1 to 128 characters among letters, digits, ``.``, ``_``, ``:`` and ``-`` (starting with a letter
    or digit), and nothing the log scrubber would take for an email address or a phone number.
    """
    if value is None or not _SANE_ID.fullmatch(value) or scrub(value) != value:
        return None
    return value


def _route_template(scope: Scope) -> str | None:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None


class RequestLog:
    """Give every HTTP request an id and write one ``leadgate.access`` record when it is answered.

    The id is the incoming ``X-Request-ID`` header when :func:`sane_request_id` accepts it, else a new
    uuid4 (32 hex digits); it is echoed in the response's ``X-Request-ID`` header and carried by every log
    record written while the request is served. The access record (INFO, ``request``) has ``method``,
    ``route`` (the matched route's template, or None for no route), ``status`` and ``duration_ms``
    (milliseconds, from the request's arrival to the end of its response body). The raw path, the query
    string and the client address are left out: they can carry personal data.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI call (HTTP only; other kinds pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = sane_request_id(value.decode("latin-1"))
                break
        ctx = RequestContext(request_id=incoming or uuid.uuid4().hex)
        token = set_request(ctx)
        started = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", ctx.request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            status = status or 500
            raise
        finally:
            fields: dict[str, Any] = {
                "method": scope.get("method"),
                "route": _route_template(scope),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            }
            level = logging.ERROR if status is None or status >= 500 else logging.INFO
            access_log.log(level, "request", extra=fields)
            reset_request(token)


#: Headers every response gets unless its route set its own: no MIME sniffing (a JSON answer is never run as
#: a script), and no URL (which may name a conversation or a lead) sent as Referer to another site.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
)


#: The Content-Security-Policy of every HTML response that does not set its own (staff pages, error pages):
#: everything from this server only, no inline script or style, no plugins, never framed, no ``<base>``,
#: forms posted to this server only (OWASP Content Security Policy Cheat Sheet, "strict policy").
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class SecurityHeaders:
    """Add ``nosniff`` and a ``Referrer-Policy`` to every HTTP response, and ``STRICT_CSP`` to every HTML one.

    A header the route already set is kept: the demo page's ``Referrer-Policy: same-origin`` and its
    policy (``leadgate.web.routes.DEMO_CSP``, which also allows the page's inline styles), and the OpenAPI
    pages' policy (``leadgate.api.docs_pages``). JSON answers need no policy.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI call, adding the headers to an HTTP response's start message."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend((n, v) for n, v in SECURITY_HEADERS if n not in present)
                html = any(n.lower() == b"content-type" and v.startswith(b"text/html") for n, v in headers)
                if html and b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", STRICT_CSP.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
