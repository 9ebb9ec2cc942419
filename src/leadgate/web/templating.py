"""Server-rendered staff pages: the Jinja2 environment, the page response and its security headers.

Templates live in ``leadgate/web/templates`` and are autoescaped (every ``{{ value }}`` is HTML-escaped).
Pages carry no inline script or style, so ``STAFF_CSP`` forbids both; styles come from
``/staff/static/staff.css``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

#: The staff pages load scripts and styles from this server only, run no inline code, post forms only
#: here, and cannot be framed (clickjacking).
STAFF_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
)

#: Headers of every staff page: no caching of pages that show personal data, the CSP above.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": STAFF_CSP,
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@cache
def environment() -> Environment:
    """The Jinja2 environment of the staff templates (autoescaping on for ``.html``)."""
    return Environment(
        loader=PackageLoader("leadgate.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page(
    request: Request,
    template: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with ``context`` (plus ``request`` and the signed-in ``principal``, if any).

    The CSRF token of the signed-in session is ``csrf_token`` unless the context gives one.
    """
    session = getattr(request.state, "staff_session", None)
    context.setdefault("csrf_token", session.csrf_token if session is not None else "")
    context.setdefault("principal", getattr(request.state, "principal", None))
    html = environment().get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status_code, headers={**PAGE_HEADERS, **(headers or {})})
