"""Browser-facing routes: the demo page and the embeddable chat widget.

``GET /`` redirects to ``/demo``; ``GET /demo`` is a demo page of the configured company (the chat branding,
``docs/branding.md``; the shipped example is the fictional company Lumenly) with the widget's one script
tag; ``GET /widget.js`` is the widget itself (plain JavaScript, no dependencies).
Include with ``app.include_router(leadgate.web.routes.router)``.
"""

from __future__ import annotations

import hashlib
import html
from functools import cache, lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

if TYPE_CHECKING:
    from leadgate.chat.flows.branding import Branding

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


@lru_cache(maxsize=8)
def _branding_of(flow_file: Path | None, branding_file: Path | None) -> Branding:
    """The branding the chat assistant of these settings speaks with (read once per process)."""
    from leadgate.chat.flows import load_default_flow, load_flow
    from leadgate.chat.flows.branding import DEFAULT_BRANDING

    flow = load_flow(flow_file, branding_file) if flow_file is not None else load_default_flow(branding_file)
    return flow.branding or DEFAULT_BRANDING


def _branding(request: Request) -> Branding:
    """The branding of the app's settings (``LEADGATE_FLOW_FILE``, ``LEADGATE_BRANDING_FILE``)."""
    from leadgate.chat.flows.branding import DEFAULT_BRANDING

    state = getattr(request.app.state, "lg", None)
    settings = getattr(state, "settings", None)
    if settings is None:  # the router mounted on a bare app (tests)
        return DEFAULT_BRANDING
    return _branding_of(settings.flow_file, settings.branding_file)


def widget_title(branding: Branding) -> str:
    """The chat panel's heading: "Lumenly assistant", or "Wren · Quillstack" for a named assistant."""
    if branding.company in branding.assistant_name:
        return f"{branding.company} assistant"
    return f"{branding.assistant_name} · {branding.company}"


def demo_page(branding: Branding, base_url: str) -> str:
    """The HTML of ``/demo`` for ``branding`` (every value HTML-escaped).

    The shipped example company (``DEFAULT_BRANDING``) also gets its features and plans sections
    (``demo_example.html``); any other company gets its tagline and description only.
    """
    from leadgate.chat.flows.branding import DEFAULT_BRANDING

    example = branding == DEFAULT_BRANDING
    values = {
        "{{COMPANY}}": branding.company,
        "{{TAGLINE}}": branding.tagline or f"Talk to {branding.company}",
        "{{DESCRIPTION}}": branding.description
        or f"Questions about {branding.company}? Ask the assistant at the bottom right, or book a demo.",
        "{{WIDGET_TITLE}}": widget_title(branding),
        "{{LEADGATE_URL}}": base_url,
    }
    page = _asset("demo.html").decode("utf-8")
    for key, value in values.items():
        page = page.replace(key, html.escape(value, quote=True))
    nav = '<a href="#features">Features</a><a href="#pricing">Pricing</a>' if example else ""
    sections = _asset("demo_example.html").decode("utf-8").split("\n", 1)[1] if example else ""
    return page.replace("{{NAV}}", nav).replace("{{EXAMPLE_SECTIONS}}", sections)


@router.get("/")
def index(request: Request) -> RedirectResponse:
    """Redirect the site root to the demo page."""
    return RedirectResponse(request.url_for("demo"), status_code=307)


@router.get("/demo", name="demo", response_class=HTMLResponse)
def demo(request: Request) -> HTMLResponse:
    """The demo page of the configured company with the chat widget embedded by one script tag."""
    return HTMLResponse(
        demo_page(_branding(request), _base_url(request)),
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
