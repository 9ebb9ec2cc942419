"""The shared HTTP mapping: ``Retry-After`` in both RFC 9110 forms, and status -> delivery error."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from leadgate.actions.ports import PermanentDeliveryError, RetryableDeliveryError
from leadgate.adapters.http import parse_retry_after, raise_for_status

NOW = datetime(2026, 12, 2, 17, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("Wed, 02 Dec 2026 17:01:30 GMT", 90.0),  # IMF-fixdate
        ("Wednesday, 02-Dec-26 17:00:10 GMT", 10.0),  # obsolete RFC 850 form, still to be accepted
        ("Wed, 02 Dec 2026 16:00:00 GMT", 0.0),  # in the past
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def _response(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request("POST", "https://api.example.com/v1/tasks")
    return httpx.Response(status, headers=headers, text='{"error": "x"}', request=request)


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504, 507])
def test_retryable_statuses(status: int) -> None:
    with pytest.raises(RetryableDeliveryError) as info:
        raise_for_status(_response(status, {"Retry-After": "42"}), "example")
    assert (info.value.status, info.value.retry_after) == (status, 42.0)


@pytest.mark.parametrize("status", [301, 400, 401, 403, 404, 409, 410, 413, 422])
def test_permanent_statuses(status: int) -> None:
    with pytest.raises(PermanentDeliveryError) as info:
        raise_for_status(_response(status), "example")
    assert info.value.status == status and f"HTTP {status}" in str(info.value)


def test_fallback_retry_after_only_without_header() -> None:
    with pytest.raises(RetryableDeliveryError) as info:
        raise_for_status(_response(503), "example", retry_after=5.0)
    assert info.value.retry_after == 5.0
    raise_for_status(_response(204), "example")  # 2xx: nothing raised
