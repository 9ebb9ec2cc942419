"""The HTTP plumbing every HTTP destination shares: one ``httpx`` client, status classification, ``Retry-After``.

How a response maps to the delivery errors of ``leadgate.actions.ports`` (the dispatcher retries the
first, dead-letters the second):

=====================================  ============================================================
status / failure                       error
=====================================  ============================================================
2xx                                    none (the adapter reads the body)
408, 425, 429, 500, 502, 503, 504      ``RetryableDeliveryError(retry_after=Retry-After, status=...)``
other 5xx                              ``RetryableDeliveryError``
timeout, connection refused or reset   ``RetryableDeliveryError(status=None)``
400, 401, 403, 404, 405, 409, 410,     ``PermanentDeliveryError(status=...)``
413, 415, 422 and every other 4xx
=====================================  ============================================================

An adapter may refine this first (Salesforce's 403 ``REQUEST_LIMIT_EXCEEDED`` is retryable) and call
``raise_for_status`` for the rest. ``Retry-After`` is read in both forms of RFC 9110, section 10.2.3:
delay-seconds or an HTTP-date.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from leadgate.actions.ports import PermanentDeliveryError, RetryableDeliveryError
from leadgate.adapters import DestinationConfigError

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
"""4xx/5xx statuses a retry can fix (RFC 9110: 408 Request Timeout, 425 Too Early, 429 Too Many Requests,
and the 5xx server errors); every other 5xx is retryable too, every other 4xx permanent."""

MAX_ERROR_TEXT = 300
"""Characters of a response body kept in an error message (the outbox stores it in ``last_error``)."""


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value.

    Args:
        value: the header value: delay-seconds (``"120"``, decimals accepted) or an HTTP-date
            (``"Wed, 21 Oct 2026 07:28:00 GMT"``), or None.
        now: the current time for an HTTP-date (UTC; default the clock).

    Returns:
        The delay in seconds (never negative; 0.0 for a date in the past), or None when the value is
        missing or unreadable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def secret_from_env(env_name: str, what: str) -> str:
    """The secret held in environment variable ``env_name`` (configs name the variable, never the value).

    Raises:
        DestinationConfigError: the variable is unset or empty (the message names it and ``what`` it is).
    """
    value = os.environ.get(env_name, "")
    if not value:
        raise DestinationConfigError(f"{what}: environment variable {env_name} is not set")
    return value


def make_client(base_url: str, timeout: float, headers: Mapping[str, str] | None = None) -> httpx.Client:
    """An ``httpx.Client`` for one destination: keep-alive pool, ``timeout`` seconds connect and read.

    ``base_url`` is joined with relative request paths; pass ``""`` and absolute URLs to post to an
    endpoint exactly as configured (httpx would add a ``/`` after a base URL's path and query).
    """
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": "leadgate", **(headers or {})},
    )


def send(client: httpx.Client, method: str, url: str, vendor: str, **kwargs: Any) -> httpx.Response:
    """Send one request; a transport failure (timeout, refused, reset) becomes a retryable error.

    Args:
        client: the destination's client.
        method: the HTTP method.
        url: relative to the client's base URL, or absolute.
        vendor: name used in error messages (``hubspot``).
        kwargs: passed to ``httpx.Client.request`` (``json``, ``content``, ``headers``, ``params``).

    Raises:
        RetryableDeliveryError: the request did not get a response.
    """
    try:
        return client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise RetryableDeliveryError(f"{vendor}: timeout on {method} {url}: {type(exc).__name__}") from exc
    except httpx.TransportError as exc:
        raise RetryableDeliveryError(f"{vendor}: {method} {url} failed: {type(exc).__name__}: {exc}") from exc


def post(client: httpx.Client, url: str, vendor: str, **kwargs: Any) -> httpx.Response:
    """POST and classify: the 2xx response, or the delivery error it maps to (``send`` + ``raise_for_status``).

    Raises:
        RetryableDeliveryError: no response, or 408/425/429/5xx.
        PermanentDeliveryError: any other non-2xx status.
    """
    response = send(client, "POST", url, vendor, **kwargs)
    raise_for_status(response, vendor)
    return response


def short_body(response: httpx.Response) -> str:
    """The first ``MAX_ERROR_TEXT`` characters of a response body, for error messages."""
    text = response.text.strip().replace("\n", " ")
    return text[:MAX_ERROR_TEXT]


def raise_for_status(response: httpx.Response, vendor: str, retry_after: float | None = None) -> None:
    """Raise the delivery error a non-2xx ``response`` maps to (table in the module docstring).

    Args:
        response: the response.
        vendor: name used in the message.
        retry_after: seconds to wait when the response carries no ``Retry-After`` (an adapter's reading of
            vendor headers), or None.

    Raises:
        RetryableDeliveryError: 408/425/429/5xx (``retry_after`` from the ``Retry-After`` header first).
        PermanentDeliveryError: any other 4xx, or an unexpected 1xx/3xx.
    """
    status = response.status_code
    if 200 <= status < 300:
        return
    message = f"{vendor}: HTTP {status} on {response.request.method} {response.request.url.path}: "
    message += short_body(response)
    if status in RETRYABLE_STATUSES or status >= 500:
        header = parse_retry_after(response.headers.get("Retry-After"))
        raise RetryableDeliveryError(
            message, retry_after=header if header is not None else retry_after, status=status
        )
    raise PermanentDeliveryError(message, status=status)


def json_body(response: httpx.Response, vendor: str) -> Any:
    """The JSON body of a 2xx response.

    Raises:
        RetryableDeliveryError: the body is not JSON (a proxy's error page answering 200 is transient).
    """
    try:
        return response.json()
    except ValueError as exc:
        raise RetryableDeliveryError(
            f"{vendor}: HTTP {response.status_code} with a body that is not JSON: {short_body(response)}",
            status=response.status_code,
        ) from exc
