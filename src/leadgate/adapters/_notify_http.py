"""PRIVATE helpers of the notification adapters (slack, nurture): HTTP status -> delivery error, Retry-After.

TEMPORARY: the CRM-adapters branch writes the shared ``leadgate.adapters.http`` (the same mapping for every
HTTP destination). When it is merged, the integrator replaces the imports of this module in
``adapters/slack.py`` and ``adapters/nurture.py`` by that module and deletes this file.

The mapping (RFC 9110 section 15): 2xx delivered; 408, 425, 429 and 5xx retryable, with the
``Retry-After`` header (delta-seconds or an HTTP-date, RFC 9110 section 10.2.3) as the least wait; any other
4xx permanent; a transport error (refused, reset, timeout) retryable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from leadgate.actions.ports import PermanentDeliveryError, RetryableDeliveryError

RETRYABLE_4XX = frozenset({408, 425, 429})


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (``"30"`` or ``"Wed, 21 Oct 2026 07:28:00 GMT"``).

    Returns:
        The seconds (0 or more), or None when the value is absent or unreadable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def check_response(response: httpx.Response, what: str) -> None:
    """Raise the delivery error of a non-2xx ``response`` (see the module docstring).

    Args:
        response: the destination's answer.
        what: names the destination in the message (``slack``, ``nurture``).

    Raises:
        RetryableDeliveryError: 408, 425, 429 or 5xx (``retry_after`` from ``Retry-After``).
        PermanentDeliveryError: any other status outside 2xx.
    """
    status = response.status_code
    if 200 <= status < 300:
        return
    body = response.text[:200].strip()
    message = f"{what}: HTTP {status}" + (f" {body}" if body else "")
    if status in RETRYABLE_4XX or status >= 500:
        wait = retry_after_seconds(response.headers.get("retry-after"))
        raise RetryableDeliveryError(message, retry_after=wait, status=status)
    raise PermanentDeliveryError(message, status=status)


def post(client: httpx.Client, url: str, what: str, **kwargs: object) -> httpx.Response:
    """POST and classify: the 2xx response, or a delivery error.

    Raises:
        RetryableDeliveryError: a transport error, or a retryable status (``check_response``).
        PermanentDeliveryError: a permanent status.
    """
    try:
        response = client.post(url, **kwargs)  # type: ignore[arg-type]
    except httpx.TransportError as exc:
        raise RetryableDeliveryError(f"{what}: {type(exc).__name__}: {exc}") from exc
    check_response(response, what)
    return response
