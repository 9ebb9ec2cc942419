"""The OpenAPI documentation pages (``/docs``, ``/docs/oauth2-redirect``, ``/redoc``) with their own CSP.

FastAPI's built-in pages load Swagger UI and ReDoc from the jsDelivr CDN and bootstrap them with an inline
script, which the strict policy every other HTML page gets (``middleware.STRICT_CSP``) would block. These
routes serve the same HTML (FastAPI's ``get_swagger_ui_html`` and friends, as FastAPI documents for custom
docs pages) with a policy that allows exactly that: scripts from this server, ``cdn.jsdelivr.net`` and the
page's own inline scripts by their sha256 (computed from the HTML generated here, never from anything a
client sent; CSP Level 3 hash sources, https://www.w3.org/TR/CSP3/#grammardef-hash-source), styles also
inline (both UIs set style attributes), nothing framed, no plugins, no base URL, forms to this server.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Final

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

CDN: Final[str] = "https://cdn.jsdelivr.net"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def docs_csp(html: str) -> str:
    """The Content-Security-Policy of a docs page: CDN scripts and the page's inline scripts by hash."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'self'; script-src 'self' {CDN} {hashes}; "
        f"style-src 'self' {CDN} https://fonts.googleapis.com 'unsafe-inline'; "
        "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https:; connect-src 'self'; "
        "worker-src 'self' blob:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    )


def _page(response: HTMLResponse) -> HTMLResponse:
    html = bytes(response.body).decode("utf-8")
    response.headers["Content-Security-Policy"] = docs_csp(html)
    return response


def add_docs_pages(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Serve ``/docs``, ``/docs/oauth2-redirect`` and ``/redoc`` on ``app`` (built with ``docs_url=None``).

    The paths stay in ``deps.PUBLIC_ROUTES``.
    """

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return _page(
            get_swagger_ui_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - Swagger UI",
                oauth2_redirect_url=root + "/docs/oauth2-redirect",
            )
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _page(get_swagger_ui_oauth2_redirect_html())

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return _page(get_redoc_html(openapi_url=root + openapi_url, title=f"{app.title} - ReDoc"))
