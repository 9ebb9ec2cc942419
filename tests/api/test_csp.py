"""Content-Security-Policy on every HTML response (issue 8, item 12), nosniff and Referrer-Policy on all."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, PlainTextResponse
from tests.api.conversations_support import MakeChatApi, make_chat_api

from leadgate.api.docs_pages import docs_csp
from leadgate.api.middleware import STRICT_CSP, SecurityHeaders

__all__ = ["make_chat_api"]  # the fixture, imported for pytest

REQUIRED = (
    "script-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
)


def _directives(csp: str) -> dict[str, str]:
    return {part.split()[0]: part.strip() for part in csp.split(";") if part.strip()}


def test_every_html_page_of_the_app_has_a_strict_policy(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    for path in ("/demo", "/docs", "/docs/oauth2-redirect", "/redoc"):
        r = api.client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        csp = r.headers["Content-Security-Policy"]
        for directive in REQUIRED:
            assert directive in csp, (path, directive)
        assert "'unsafe-inline'" not in _directives(csp)["script-src"], path
        assert "'unsafe-eval'" not in csp, path
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    for path in ("/healthz", "/openapi.json", "/widget.js"):
        assert "Content-Security-Policy" not in api.client.get(path).headers, path  # not HTML


def test_docs_pages_allow_their_own_inline_scripts_by_hash_only(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    page = api.client.get("/docs")
    scripts = re.findall(r"<script>(.*?)</script>", page.text, re.S)
    assert scripts  # Swagger UI's bootstrap
    script_src = _directives(page.headers["Content-Security-Policy"])["script-src"]
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src
    assert f"'sha256-{digest}'" not in docs_csp("<script>alert(1)</script>")  # another script, another hash


def test_an_html_response_without_a_policy_gets_the_strict_one() -> None:
    from fastapi.testclient import TestClient

    app = FastAPI()

    @app.get("/page")
    def page() -> HTMLResponse:
        return HTMLResponse("<p>staff page</p>")

    @app.get("/own")
    def own() -> HTMLResponse:
        return HTMLResponse("<p>x</p>", headers={"Content-Security-Policy": "default-src 'none'"})

    @app.get("/text")
    def text() -> PlainTextResponse:
        return PlainTextResponse("x")

    app.add_middleware(SecurityHeaders)
    with TestClient(app) as client:
        assert client.get("/page").headers["Content-Security-Policy"] == STRICT_CSP
        assert client.get("/own").headers["Content-Security-Policy"] == "default-src 'none'"
        assert "Content-Security-Policy" not in client.get("/text").headers
    for directive in REQUIRED:
        assert directive in STRICT_CSP
    assert "unsafe" not in STRICT_CSP
