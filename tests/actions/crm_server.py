"""A small CRM over a real socket: records keyed by the caller's ``Idempotency-Key``, like a CRM upsert
keyed by an external id (HubSpot ``idProperty``, Salesforce external-id upsert).

``POST /v1/records`` with ``Idempotency-Key`` and a JSON body creates the record on the first request for
that key (``201`` and ``{"id": "rec_000001"}``) and answers every later one with the same record (``200``).
Faults are scripted per request, in order: ``("429", seconds)`` answers ``429`` with ``Retry-After``,
``("500",)`` and ``("503",)`` a server error, ``("400",)`` a validation error in the body, ``("hang",
seconds)`` sleeps before answering normally (a client with a shorter timeout gives up). ``down = True``
answers every request ``503``. Every request is counted per key (``posts``), effects are ``records``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


class CrmState:
    """What the server saw and holds (guarded by ``lock``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: dict[str, dict[str, Any]] = {}
        self.posts: Counter[str] = Counter()
        self.times: dict[str, list[float]] = {}
        self.script: deque[tuple[Any, ...]] = deque()
        self.down = False
        self.latency = 0.0

    @property
    def total_posts(self) -> int:
        with self.lock:
            return sum(self.posts.values())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = orjson.dumps(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        state = self.server.state
        body = orjson.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        key = self.headers.get("Idempotency-Key")
        if self.path != "/v1/records" or not key:
            self._answer(400, {"error": "invalid_request", "message": "Idempotency-Key header required"})
            return
        with state.lock:
            state.posts[key] += 1
            state.times.setdefault(key, []).append(time.monotonic())
            fault = state.script.popleft() if state.script else None
            down = state.down
        if state.latency:
            time.sleep(state.latency)
        if down:
            self._answer(503, {"error": "unavailable"})
            return
        if fault is not None:
            if fault[0] == "429":
                self._answer(429, {"error": "rate_limited"}, {"Retry-After": str(fault[1])})
                return
            if fault[0] in ("500", "503"):
                self._answer(int(fault[0]), {"error": "internal"})
                return
            if fault[0] == "400":
                self._answer(400, {"error": "validation", "message": "property 'lifecyclestage' is invalid"})
                return
            if fault[0] == "hang":
                time.sleep(fault[1])
        with state.lock:
            existing = state.records.get(key)
            if existing is None:
                existing = state.records[key] = {"id": f"rec_{len(state.records) + 1:06d}", **body}
                status = 201
            else:
                status = 200
        self._answer(status, {"id": existing["id"]})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, state: CrmState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request (the kill -9 test) resets its connection: not a server error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def crm_server() -> Iterator[tuple[str, CrmState]]:
    """Run the CRM in a thread; yields ``(base_url, state)``."""
    state = CrmState()
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
