"""Browser-facing routes: the demo page and the embeddable chat widget.

``GET /`` redirects to ``/demo``; ``GET /demo`` is the page of the fictional company Lumenly with the
widget's one script tag; ``GET /widget.js`` is the widget itself (plain JavaScript, no dependencies).
Include with ``app.include_router(leadgate.web.routes.router)``.
"""

from __future__ import annotations

import hashlib
import html
from functools import cache
from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

router = APIRouter(include_in_schema=False)

#: The widget URL is not versioned, so browsers keep it 10 minutes, then revalidate with its ETag.
WIDGET_CACHE_CONTROL = "public, max-age=600"

#: The demo page allows scripts, styles and connections from this server only: the widget needs
#: neither inline scripts nor ``eval``.
DEMO_CSP = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@cache
def _asset(name: str) -> bytes:
    """Bytes of a packaged file under ``leadgate/web`` (read once per process)."""
    return files("leadgate.web").joinpath(name).read_bytes()


@cache
def _etag(name: str) -> str:
    return '"' + hashlib.sha256(_asset(name)).hexdigest()[:32] + '"'


def _base_url(request: Request) -> str:
    """The server's public base URL as the browser sees it, without a trailing slash."""
    return str(request.base_url).rstrip("/")


@router.get("/")
def index(request: Request) -> RedirectResponse:
    """Redirect the site root to the demo page."""
    return RedirectResponse(request.url_for("demo"), status_code=307)


@router.get("/demo", name="demo", response_class=HTMLResponse)
def demo(request: Request) -> HTMLResponse:
    """The Lumenly demo page with the chat widget embedded by one script tag."""
    page = _asset("demo.html").decode("utf-8")
    page = page.replace("{{LEADGATE_URL}}", html.escape(_base_url(request), quote=True))
    return HTMLResponse(
        page,
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": DEMO_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


@router.get("/widget.js", name="widget_js")
def widget_js(request: Request) -> Response:
    """The chat widget script; answers ``304`` when the browser's ``If-None-Match`` still matches."""
    etag = _etag("static/widget.js")
    headers = {
        "Cache-Control": WIDGET_CACHE_CONTROL,
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        # embeddable from any site, also from pages that set Cross-Origin-Embedder-Policy
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(
        _asset("static/widget.js"), media_type="application/javascript; charset=utf-8", headers=headers
    )
