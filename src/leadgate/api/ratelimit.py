"""Rate limits (``limits``, moving window): public chat endpoints, failed staff sign-ins.

The chat endpoints are limited per client IP and per conversation; failed staff sign-ins per email
(its sha256) and per client IP.

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
    """Per-IP and per-conversation moving-window limits, and the failed sign-in limits, in one storage.

    Args:
        per_ip: limit per client IP on every public chat endpoint, e.g. ``120/minute``.
        per_conversation: limit per conversation on posted messages, e.g. ``30/minute``.
        storage_uri: a ``limits`` storage URI; ``memory://`` (default) keeps counts in this process.
        sign_in_email: failed sign-ins allowed per email (its sha256 is the key, never the address).
        sign_in_ip: failed sign-ins allowed per client IP.

    Raises:
        ValueError: for a limit string ``limits`` cannot parse.
    """

    def __init__(
        self,
        per_ip: str,
        per_conversation: str,
        storage_uri: str = "memory://",
        *,
        sign_in_email: str = "5/15 minutes",
        sign_in_ip: str = "20/15 minutes",
    ):
        self.per_ip = parse(per_ip)
        self.per_conversation = parse(per_conversation)
        self.sign_in_email = parse(sign_in_email)
        self.sign_in_ip = parse(sign_in_ip)
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        """Limits from ``rate_limit_ip``, ``rate_limit_conversation`` and ``sign_in_limit_*``, in memory."""
        return cls(
            settings.rate_limit_ip,
            settings.rate_limit_conversation,
            sign_in_email=settings.sign_in_limit_email,
            sign_in_ip=settings.sign_in_limit_ip,
        )

    def check_sign_in(self, email_digest: str, ip: str) -> None:
        """Refuse a sign-in attempt while its email or client IP has used up its failed attempts.

        Checked before the password is (a throttled guess is not even verified); counts nothing.

        Raises:
            RateLimited: too many failed sign-ins for this email or from this IP in the window.
        """
        for item, scope, key in ((self.sign_in_email, "email", email_digest), (self.sign_in_ip, "ip", ip)):
            if not self._limiter.test(item, "sign_in", scope, key):
                raise RateLimited(
                    "too many failed sign-ins: wait and try again",
                    self._retry_after(item, "sign_in", scope, key),
                )

    def fail_sign_in(self, email_digest: str, ip: str) -> None:
        """Count one failed sign-in for the email (its sha256) and for the client IP."""
        self._limiter.hit(self.sign_in_email, "sign_in", "email", email_digest)
        self._limiter.hit(self.sign_in_ip, "sign_in", "ip", ip)

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
        retry_after = self._retry_after(item, "chat", scope, key)
        raise RateLimited(f"rate limit of {item} {words} exceeded; retry in {retry_after} s", retry_after)

    def _retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        reset_at = self._limiter.get_window_stats(item, *identifiers).reset_time
        return max(1, math.ceil(reset_at - time.time()))


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
