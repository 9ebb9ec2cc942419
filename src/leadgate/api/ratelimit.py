"""Rate limits (``limits``, moving window) and load shedding; failed staff sign-ins are throttled too.

Limits apply per caller, per client IP and per conversation; failed sign-ins are counted per email (its
sha256) and per client IP.

Limits are written in the ``limits`` notation (``120/minute``, ``10 per second``, see
https://limits.readthedocs.io/en/stable/quickstart.html#rate-limit-string-notation). Their counters live in
the storage of ``LEADGATE_RATE_LIMIT_STORAGE``: ``memory://`` (the dev default) counts in this process
only; several server processes share ``redis://...`` so a caller cannot multiply a limit by the number of
processes. ``limiter_storage`` is the one place that builds the storage (the sign-in throttle uses it too).

A refused hit answers 429 with ``Retry-After`` (seconds) and ``{"detail", "retry_after"}``; an ingest
request arriving while ``LEADGATE_MAX_INFLIGHT_INGEST`` others are being served answers 503 with
``Retry-After`` (load shedding).

The client IP is the ASGI peer address. Behind a reverse proxy, ``create_app`` installs uvicorn's
``ProxyHeadersMiddleware`` with ``LEADGATE_TRUSTED_PROXIES`` only: ``X-Forwarded-For`` is read only when
the direct peer is a trusted proxy (taking the right-most address that is not one), so a client cannot
pick its own address with a forged header.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from leadgate.config import Settings
from leadgate.errors import LeadgateError

SHED_RETRY_AFTER_S = 1
"""``Retry-After`` of a shed request (503), seconds: in-flight ingest requests take well under a second."""


class RateLimitStorageError(LeadgateError, RuntimeError):
    """The rate-limit storage (``LEADGATE_RATE_LIMIT_STORAGE``) cannot be reached or is not understood."""


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


def limiter_storage(uri: str, key_prefix: str = "leadgate") -> Storage:
    """The counters' storage of a ``limits`` storage URI, checked once (fail loudly, DESIGN rule 5).

    Args:
        uri: ``memory://`` (this process only) or a shared one such as ``redis://127.0.0.1:6379/0``.
        key_prefix: prefix of every key in a Redis storage (tests use a unique one and delete only theirs).

    Raises:
        RateLimitStorageError: an unknown scheme, or a storage that does not answer.
    """
    try:
        if uri.startswith(("redis://", "rediss://", "redis+unix://", "valkey://", "valkeys://")):
            storage = storage_from_string(uri, key_prefix=key_prefix)
        else:
            storage = storage_from_string(uri)
    except Exception as exc:  # limits raises ConfigurationError or the driver's own errors
        raise RateLimitStorageError(f"LEADGATE_RATE_LIMIT_STORAGE={uri!r} is not usable: {exc}") from exc
    if not isinstance(storage, Storage):
        raise RateLimitStorageError(f"LEADGATE_RATE_LIMIT_STORAGE={uri!r}: use a synchronous storage")
    if not isinstance(storage, MemoryStorage) and not storage.check():
        raise RateLimitStorageError(f"LEADGATE_RATE_LIMIT_STORAGE={uri!r} does not answer")
    return storage


class RateLimits:
    """Moving-window limits (per IP, conversation, ingest caller, dead letters, failed sign-ins), one storage.

    Args:
        per_ip: limit per client IP on every public chat endpoint, e.g. ``120/minute``.
        per_conversation: limit per conversation on posted messages, e.g. ``30/minute``.
        storage: where the counters live (``limiter_storage``); None keeps them in this process.
        per_caller: limit per caller on every ingest route, e.g. ``600/minute``.
        dead_letters: dead letters one caller may leave per window, e.g. ``1000/hour``.
        max_inflight: most ingest requests served at once by this process (load shedding).
        sign_in_email: failed sign-ins allowed per email (its sha256 is the key, never the address).
        sign_in_ip: failed sign-ins allowed per client IP.

    Raises:
        ValueError: for a limit string ``limits`` cannot parse.
    """

    def __init__(
        self,
        per_ip: str,
        per_conversation: str,
        storage: Storage | None = None,
        *,
        per_caller: str = "600/minute",
        dead_letters: str = "1000/hour",
        max_inflight: int = 32,
        sign_in_email: str = "5/15 minutes",
        sign_in_ip: str = "20/15 minutes",
    ):
        self.per_ip = parse(per_ip)
        self.per_conversation = parse(per_conversation)
        self.per_caller = parse(per_caller)
        self.dead_letters = parse(dead_letters)
        self.sign_in_email = parse(sign_in_email)
        self.sign_in_ip = parse(sign_in_ip)
        self.storage = storage if storage is not None else MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self.storage)
        self.max_inflight = max_inflight
        self._inflight = 0
        self._inflight_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        """Limits and storage from the ``rate_limit_*``, ``dead_letter_quota`` and ``max_inflight_ingest`` settings.

        Raises:
            RateLimitStorageError: the storage cannot be reached.
        """
        return cls(
            settings.rate_limit_ip,
            settings.rate_limit_conversation,
            limiter_storage(settings.rate_limit_storage, settings.rate_limit_prefix),
            per_caller=settings.rate_limit_ingest,
            dead_letters=settings.dead_letter_quota,
            max_inflight=settings.max_inflight_ingest,
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
        self.hit(self.per_ip, "ip", ip, "per client IP")

    def hit_conversation(self, conversation_id: str) -> None:
        """Count one message posted to ``conversation_id``.

        Raises:
            RateLimited: over the per-conversation limit.
        """
        self.hit(self.per_conversation, "conversation", conversation_id, "per conversation")

    def hit_ingest(self, caller: str) -> None:
        """Count one ingest request of ``caller`` (``caller_id``).

        Raises:
            RateLimited: over the per-caller ingest limit.
        """
        self.hit(self.per_caller, "ingest", caller, "per caller on ingest routes")

    def hit_dead_letters(self, caller: str, count: int = 1) -> None:
        """Count ``count`` dead letters about to be stored for ``caller``.

        Raises:
            RateLimited: the caller's dead-letter quota is used up (nothing should be stored).
        """
        self.hit(self.dead_letters, "dead_letters", caller, "dead letters per caller", cost=count)

    def hit(self, item: RateLimitItem, scope: str, key: str, words: str, cost: int = 1) -> None:
        """Count ``cost`` hits of ``key`` against ``item`` in namespace ``scope``.

        The generic form of the ``hit_*`` methods, for other limits on the same storage (sign-in).

        Raises:
            RateLimited: over the limit (the hits are not counted).
        """
        if self._limiter.hit(item, "lg", scope, key, cost=cost):
            return
        retry_after = self._retry_after(item, "lg", scope, key)
        raise RateLimited(f"rate limit of {item} {words} exceeded; retry in {retry_after} s", retry_after)

    def _retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        reset_at = self._limiter.get_window_stats(item, *identifiers).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def inflight(self) -> Iterator[None]:
        """Hold one of this process's ingest slots while the request is served (a generator dependency).

        Raises:
            HTTPException: 503 with ``Retry-After`` when ``max_inflight`` requests are being served.
        """
        with self._inflight_lock:
            if self._inflight >= self.max_inflight:
                raise HTTPException(
                    503,
                    f"server busy: {self.max_inflight} ingest requests in progress; retry in "
                    f"{SHED_RETRY_AFTER_S} s",
                    headers={"Retry-After": str(SHED_RETRY_AFTER_S)},
                )
            self._inflight += 1
        try:
            yield
        finally:
            with self._inflight_lock:
                self._inflight -= 1


def client_ip(request: Request) -> str:
    """The client's IP: the peer address, or the forwarded one behind a trusted proxy (see module doc)."""
    return request.client.host if request.client else "unknown"


def caller_id(request: Request) -> str:
    """Who to count a request against: the principal's subject (``key:<prefix>``, ``user:<id>``), else ``ip:<IP>``."""
    principal = getattr(request.state, "principal", None)
    subject = getattr(principal, "subject", "") if principal is not None else ""
    return subject or f"ip:{client_ip(request)}"


def ingest_guard(request: Request) -> Iterator[None]:
    """Dependency of every ingest route: the caller's rate limit (429), then a load-shedding slot (503).

    Raises:
        RateLimited: over the per-caller ingest limit (429 with ``Retry-After``).
        HTTPException: 503 with ``Retry-After`` when the process is at ``LEADGATE_MAX_INFLIGHT_INGEST``.
    """
    limits: RateLimits = request.app.state.lg.rate_limits
    limits.hit_ingest(caller_id(request))
    yield from limits.inflight()


async def rate_limited_response(request: Request, exc: Exception) -> JSONResponse:
    """The 429 answer to ``RateLimited``: ``Retry-After`` header and ``{"detail", "retry_after"}``."""
    assert isinstance(exc, RateLimited)
    return JSONResponse(
        status_code=429,
        content={"detail": exc.detail, "retry_after": exc.retry_after},
        headers={"Retry-After": str(exc.retry_after)},
    )
