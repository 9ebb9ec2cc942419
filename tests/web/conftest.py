"""Fixtures of the browser tests: a real leadgate server and headless Chromium driven by Playwright.

* ``live_server``: the real ``create_app`` with the real chat assistant (``chat_factory=build_chat``, as
  ``leadgate serve`` builds it) on a migrated SQLite database in a temporary folder, served by uvicorn in a
  background thread on a free port; plus a second, plain HTTP server on another port (another origin,
  listed in ``LEADGATE_CORS_ORIGINS``) that serves a third-party page embedding the widget with its one
  script tag. Its database has a ``sales_manager`` API key (``staff_key``) for the staff API.
* ``browser``: the Debian Chromium (``/usr/bin/chromium``, installed by ``scripts/setup.sh``); Playwright
  downloads nothing.
* ``new_page(**context_options)``: a page in a fresh browser context (empty localStorage), failing the
  test on any uncaught JavaScript error and on any request outside the two test servers.
"""

from __future__ import annotations

import html
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect, sync_playwright

from leadgate.api import create_app
from leadgate.chat.runtime import build_chat
from leadgate.config import Settings
from leadgate.db import make_engine, upgrade
from leadgate.governance.api_keys import create_key

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    # the closed network refuses Chromium's own background connections
    "--disable-background-networking",
    "--disable-component-update",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"

# The machine is shared and slow at times: wait generously (Playwright's auto-waiting, never sleeps).
expect.set_options(timeout=30_000)


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _with_web_routes(app: FastAPI) -> FastAPI:
    """Mount the demo page and the widget unless ``create_app`` does already."""
    from leadgate.web.routes import router

    paths = {getattr(route, "path", None) for route in app.routes}
    if "/widget.js" not in paths:
        app.include_router(router)
    return app


def _host_page(base_url: str) -> bytes:
    """A third-party site (another origin) that embeds the widget with one script tag."""
    url = html.escape(base_url, quote=True)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Partner site</title><link rel="icon" href="data:,">
<style>* {{ font-family: monospace !important; color: green; }} div {{ display: block; }}</style></head>
<body><h1>A partner site on another origin</h1>
<script src="{url}/widget.js" data-leadgate-url="{url}" data-leadgate-title="Partner chat" defer></script>
</body></html>""".encode()


@dataclass
class LiveServer:
    """A running leadgate server and the third-party page that embeds its widget."""

    url: str
    database_url: str
    host_site_url: str
    settings: Settings
    app: FastAPI
    staff_key: str


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real leadgate app on a fresh, migrated SQLite database, served by uvicorn on a free port."""
    db_path = tmp_path_factory.mktemp("live") / "leadgate.db"
    database_url = f"sqlite:///{db_path}"
    upgrade(database_url)
    engine = make_engine(database_url)
    with engine.begin() as conn:
        staff_key, _ = create_key(conn, name="staff-api", role="sales_manager", created_by="tests")
    engine.dispose()

    api_sock, site_sock = _free_socket(), _free_socket()
    url = f"http://127.0.0.1:{api_sock.getsockname()[1]}"
    site_url = f"http://127.0.0.1:{site_sock.getsockname()[1]}"
    settings = Settings(
        database_url=database_url,
        cors_origins=[site_url],
        # every test talks from 127.0.0.1: the per-IP limit would count all of them together
        rate_limit_ip="10000/minute",
    )
    app = _with_web_routes(create_app(settings, chat_factory=build_chat))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            lifespan="on",
            ws="none",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=3,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [api_sock]}, daemon=True)
    thread.start()

    page = _host_page(url)

    class HostSite(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    site_sock.close()  # ThreadingHTTPServer binds its own socket: reuse the port just reserved
    site = ThreadingHTTPServer(("127.0.0.1", int(site_url.rsplit(":", 1)[1])), HostSite)
    site_thread = threading.Thread(target=site.serve_forever, daemon=True)
    site_thread.start()

    started = threading.Event()
    while thread.is_alive() and not server.started:
        started.wait(0.05)
    if not server.started:
        raise RuntimeError("the leadgate server did not start (see the log above)")
    try:
        yield LiveServer(url, database_url, site_url, settings, app, staff_key)
    finally:
        site.shutdown()
        site.server_close()
        server.should_exit = True
        thread.join(timeout=30)
        api_sock.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium, driven by Playwright (no browser download)."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run scripts/setup.sh (installs Debian chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class PageErrors:
    """What went wrong in the pages of one test."""

    js_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)


@pytest.fixture
def new_page(browser: Browser, live_server: LiveServer) -> Iterator[Callable[..., Page]]:
    """``new_page(**context_options)``: a page in a fresh context (own localStorage).

    The test fails on an uncaught JavaScript error or a request to anywhere but the test servers
    (the widget needs no CDN and no network beyond leadgate).
    """
    errors = PageErrors()
    contexts = []
    allowed = (live_server.url + "/", live_server.host_site_url + "/", "data:")

    def make(**options: Any) -> Page:
        options.setdefault("timezone_id", "Europe/Berlin")
        options.setdefault("locale", "en-GB")
        context = browser.new_context(**options)
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.js_errors.append(str(exc)))

        def check_request(request: Any) -> None:
            if not request.url.startswith(allowed):
                errors.foreign_requests.append(request.url)

        page.on("request", check_request)
        return page

    yield make
    for context in contexts:
        context.close()
    assert errors.js_errors == [], f"uncaught JavaScript errors: {errors.js_errors}"
    assert errors.foreign_requests == [], f"requests outside leadgate: {errors.foreign_requests}"
