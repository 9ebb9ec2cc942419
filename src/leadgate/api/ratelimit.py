"""Rate limits of the public chat endpoints: per client IP and per conversation (``limits``, moving window).

Limits are written in the ``limits`` notation (``120/minute``, ``10 per second``, see
https://limits.readthedocs.io/en/stable/quickstart.html#rate-limit-string-notation) and kept in process
memory by default (``memory://``); a shared storage URI (``redis://...``) makes them hold across servers.
A refused hit answers 429 with ``Retry-After`` (seconds) and ``{"detail", "retry_after"}``.
"""

from __future__ import annotations

import math
import time

from fastapi import Request
from fastapi.responses import JSONResponse
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from leadgate.config import Settings


class RateLimited(Exception):
    """A rate limit was hit.

    Attributes:
        detail: which limit, in words.
        retry_after: whole seconds until the oldest hit in the window expires (>= 1).
    """

    def __init__(self, detail: str, retry_after: int):
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


class RateLimits:
    """Per-IP and per-conversation moving-window limits.

    Args:
        per_ip: limit per client IP on every public chat endpoint, e.g. ``120/minute``.
        per_conversation: limit per conversation on posted messages, e.g. ``30/minute``.
        storage_uri: a ``limits`` storage URI; ``memory://`` (default) keeps counts in this process.

    Raises:
        ValueError: for a limit string ``limits`` cannot parse.
    """

    def __init__(self, per_ip: str, per_conversation: str, storage_uri: str = "memory://"):
        self.per_ip = parse(per_ip)
        self.per_conversation = parse(per_conversation)
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        """Limits from ``rate_limit_ip`` and ``rate_limit_conversation``, in memory."""
        return cls(settings.rate_limit_ip, settings.rate_limit_conversation)

    def hit_ip(self, ip: str) -> None:
        """Count one request from ``ip``.

        Raises:
            RateLimited: over the per-IP limit.
        """
        self._hit(self.per_ip, "ip", ip, "per client IP")

    def hit_conversation(self, conversation_id: str) -> None:
        """Count one message posted to ``conversation_id``.

        Raises:
            RateLimited: over the per-conversation limit.
        """
        self._hit(self.per_conversation, "conversation", conversation_id, "per conversation")

    def _hit(self, item: RateLimitItem, scope: str, key: str, words: str) -> None:
        if self._limiter.hit(item, "chat", scope, key):
            return
        reset_at = self._limiter.get_window_stats(item, "chat", scope, key).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise RateLimited(f"rate limit of {item} {words} exceeded; retry in {retry_after} s", retry_after)


def client_ip(request: Request) -> str:
    """The client's IP as the ASGI server reports it (behind a proxy: run uvicorn with ``--proxy-headers``)."""
    return request.client.host if request.client else "unknown"


async def rate_limited_response(request: Request, exc: Exception) -> JSONResponse:
    """The 429 answer to ``RateLimited``: ``Retry-After`` header and ``{"detail", "retry_after"}``."""
    assert isinstance(exc, RateLimited)
    return JSONResponse(
        status_code=429,
        content={"detail": exc.detail, "retry_after": exc.retry_after},
        headers={"Retry-After": str(exc.retry_after)},
    )
