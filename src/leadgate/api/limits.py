"""Request body size limit as pure ASGI middleware: 413 for bodies over the configured size.

Checks ``Content-Length`` up front and counts streamed bytes for chunked bodies, so a client cannot
get around the limit by leaving the header out.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """The streamed body passed the limit.

    An ``HTTPException`` (413): FastAPI re-raises those from its body parsing, where any other
    exception becomes a 400 "There was an error parsing the body".
    """

    def __init__(self, size: int, max_bytes: int):
        super().__init__(413, _detail(size, max_bytes))


def _detail(size: int, max_bytes: int) -> str:
    return f"request body of {size} bytes or more is over the limit of {max_bytes} bytes"


class BodySizeLimit:
    """Reject request bodies larger than ``max_bytes`` with 413 and a JSON error."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point: pass the request on, or answer 413 once the body passes the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._reject(send, int(length))
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(received, self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(send, received)

    async def _reject(self, send: Send, size: int) -> None:
        body: dict[str, Any] = {
            "detail": _detail(size, self.max_bytes),
            "max_bytes": self.max_bytes,
        }
        payload = orjson.dumps(body)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
