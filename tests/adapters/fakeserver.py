"""A small real HTTP server on 127.0.0.1 for the vendor fakes (threaded ``http.server``, one port per test).

A fake subclasses ``FakeServer`` and implements ``handle(request) -> Reply``; the base class gives every fake
the same test controls: ``fail_next(status, ...)`` makes the next requests fail the way the vendor does
(the fake builds the vendor's body via ``failure_reply``), ``requests`` logs what arrived, and ``stop()``
closes the socket (a connection to it is then refused).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass
class Request:
    """One request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (raises ``orjson.JSONDecodeError``)."""
        return orjson.loads(self.body)


@dataclass
class Reply:
    """What the fake answers: status, JSON-able body (or raw bytes), headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


@dataclass
class _Failure:
    status: int
    retry_after: str | None
    remaining: int
    skip: int


class FakeServer:
    """Base of the local vendor servers (see the module docstring)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self._failures: list[_Failure] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # answer at once (keep-alive: no 40 ms Nagle + delayed-ACK stall)

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                reply = fake._dispatch(request)
                payload = (
                    reply.raw
                    if reply.raw is not None
                    else (b"" if reply.body is None else orjson.dumps(reply.body))
                )
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json;charset=utf-8", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=type(self).__name__, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket (idempotent)."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def fail_next(
        self, status: int, *, times: int = 1, retry_after: str | None = None, after: int = 0
    ) -> None:
        """Answer ``times`` requests with ``status`` (the vendor's body; ``Retry-After`` if given).

        ``after`` lets that many requests through first (to fail a delivery half-way through its calls).
        """
        with self.lock:
            self._failures.append(_Failure(status, retry_after, times, after))

    def _dispatch(self, request: Request) -> Reply:
        with self.lock:
            self.requests.append(request)
            failure = self._failures[0] if self._failures else None
            if failure is not None and failure.skip > 0:
                failure.skip -= 1
                failure = None
            elif failure is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.pop(0)
        if failure is not None:
            reply = self.failure_reply(failure.status, request)
            if failure.retry_after is not None:
                reply.headers["Retry-After"] = failure.retry_after
            return reply
        try:
            return self.handle(request)
        except Exception as exc:  # a bug in the fake must show as a 500, not a hung socket
            return Reply(500, {"fake_error": f"{type(exc).__name__}: {exc}"})

    def handle(self, request: Request) -> Reply:
        """Answer one request (implemented by each fake)."""
        raise NotImplementedError

    def failure_reply(self, status: int, request: Request) -> Reply:
        """The vendor's answer for a forced failure with ``status`` (overridden by each fake)."""
        return Reply(status, {"error": f"forced {status}"})


def correlation_id() -> str:
    """A fresh id like the ``correlationId`` vendors put in error bodies."""
    return str(uuid.uuid4())
