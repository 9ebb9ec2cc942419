"""Rate limits and load shedding on the ingest routes (issue 8, item 11), trusted proxies, shared counters.

* every ingest route (``POST /v1/leads``, ``/v1/leads/batch``, conversation creation and messages) counts
  against a per-caller limit: 429 with ``Retry-After``;
* a process at ``max_inflight_ingest`` sheds the next ingest request: 503 with ``Retry-After``;
* ``X-Forwarded-For`` is read only from a trusted proxy, so a forged header cannot reset a limit;
* two server processes sharing Redis share the counters (keys under a unique prefix, deleted afterwards).
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from starlette.exceptions import StarletteDeprecationWarning
from tests.api.conftest import Api, bearer, create_test_key
from tests.api.conversations_support import MakeChatApi, make_chat_api
from tests.api.servers import servers
from tests.api.test_api import WEB_LEAD

from leadgate.api import create_app
from leadgate.api.ratelimit import RateLimitStorageError, limiter_storage
from leadgate.db import make_engine

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

__all__ = ["make_chat_api"]  # the fixture, imported for pytest

REDIS_URL = "redis://127.0.0.1:6379/0"


def _lead(n: int) -> dict[str, Any]:
    return {**WEB_LEAD, "lead_id": f"rl-{n}"}


def _assert_429(r: httpx.Response, words: str) -> None:
    assert r.status_code == 429, r.text
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["retry_after"] == int(r.headers["Retry-After"])
    assert words in r.json()["detail"]


def test_every_ingest_route_counts_against_the_callers_limit(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_limit_ingest="3/minute")
    assert api.client.post("/v1/leads", json=_lead(1)).status_code == 200
    assert api.client.post("/v1/leads/batch", json={"leads": [_lead(2), _lead(3)]}).status_code == 200
    assert api.client.post("/v1/leads", json={"lead_id": 5}).status_code == 422  # refused ones count too
    _assert_429(api.client.post("/v1/leads", json=_lead(4)), "per caller on ingest routes")
    _assert_429(api.client.post("/v1/leads/batch", json={"leads": [_lead(5)]}), "per caller")
    assert api.client.get("/v1/leads/rl-1").status_code == 200  # reads are not ingest
    # another key is another caller
    other = create_test_key(api.engine, role="integration", name="other")
    assert api.client.post("/v1/leads", json=_lead(6), headers=bearer(other)).status_code == 200


def test_conversation_creation_and_messages_count_per_client_ip(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api(rate_limit_ingest="3/minute", rate_limit_ip="1000/minute")
    conv = api.open()
    assert api.post(conv, "m-1", "hello").status_code == 200
    api.open()
    _assert_429(api.post(conv, "m-2", "hello again"), "per caller on ingest routes")
    _assert_429(api.client.post("/v1/conversations", json={"timezone": "UTC"}), "per caller")
    assert api.get(conv).status_code == 200  # resuming is not ingest


def test_a_full_process_sheds_ingest_requests_with_503(make_api: Callable[..., Api]) -> None:
    api = make_api(max_inflight_ingest=1)
    limits = api.client.app.state.lg.rate_limits  # type: ignore[attr-defined]
    slot = limits.inflight()
    next(slot)  # another request holds the only slot
    shed = api.client.post("/v1/leads", json=_lead(1))
    assert shed.status_code == 503 and shed.headers["Retry-After"] == "1"
    assert "ingest requests in progress" in shed.json()["detail"]
    assert api.client.post("/v1/leads/batch", json={"leads": [_lead(2)]}).status_code == 503
    assert api.client.get("/healthz").status_code == 200  # only ingest is shed
    slot.close()  # that request finished
    assert api.client.post("/v1/leads", json=_lead(1)).status_code == 200
    assert api.client.post("/v1/leads", json=_lead(2)).status_code == 200  # slots are given back


def _client(api: Any, peer: str) -> TestClient:
    client = TestClient(create_app(api.state.settings, state=api.state), client=(peer, 40000))
    client.__enter__()
    return client


def test_a_forged_x_forwarded_for_cannot_reset_a_limit(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api(rate_limit_ip="3/minute")  # no trusted proxy (the default)
    client = _client(api, "203.0.113.7")
    try:
        for n in range(3):
            forged = {"X-Forwarded-For": f"198.51.100.{n}"}
            r = client.post("/v1/conversations", json={"timezone": "UTC"}, headers=forged)
            assert r.status_code == 201, r.text
        r = client.post("/v1/conversations", json={"timezone": "UTC"}, headers={"X-Forwarded-For": "1.1.1.1"})
        _assert_429(r, "per client IP")
    finally:
        client.__exit__(None, None, None)


def test_behind_a_trusted_proxy_the_rightmost_untrusted_address_is_the_client(
    make_chat_api: MakeChatApi,
) -> None:
    api = make_chat_api(rate_limit_ip="2/minute", trusted_proxies=["10.0.0.0/8"])
    proxy = _client(api, "10.0.0.5")
    try:

        def open_as(xff: str) -> int:
            r = proxy.post("/v1/conversations", json={"timezone": "UTC"}, headers={"X-Forwarded-For": xff})
            return r.status_code

        # the client 192.0.2.1 reached our proxy through another trusted one (10.1.1.1)
        assert [open_as("192.0.2.1, 10.1.1.1") for _ in range(2)] == [201, 201]
        assert open_as("192.0.2.1") == 429
        # a forged left-most entry is ignored: the right-most untrusted address is still 192.0.2.1
        assert open_as("198.51.100.9, 192.0.2.1") == 429
        assert open_as("192.0.2.2") == 201  # another client behind the proxy has its own limit
    finally:
        proxy.__exit__(None, None, None)


def test_trusted_proxies_must_be_addresses() -> None:
    from pydantic import ValidationError

    from leadgate.config import Settings

    with pytest.raises(ValidationError, match="not an IP address or CIDR network"):
        Settings(trusted_proxies=["proxy.example.com"])
    assert Settings(trusted_proxies="10.0.0.0/8, ::1").trusted_proxies == ["10.0.0.0/8", "::1"]  # type: ignore[arg-type]


def test_an_unreachable_limit_storage_fails_loudly() -> None:
    with pytest.raises(RateLimitStorageError, match="does not answer"):
        limiter_storage("redis://127.0.0.1:1/0")
    with pytest.raises(RateLimitStorageError, match="not usable"):
        limiter_storage("nosuch://x")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A unique key prefix in the local Redis; its keys (only those) are deleted afterwards."""
    prefix = f"lgtest-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_processes_sharing_redis_share_the_limit(db_url: str, tmp_path: Path, redis_prefix: str) -> None:
    engine = make_engine(db_url)
    key = create_test_key(engine)
    engine.dispose()
    env = {
        "LEADGATE_RATE_LIMIT_STORAGE": REDIS_URL,
        "LEADGATE_RATE_LIMIT_PREFIX": redis_prefix,
        "LEADGATE_RATE_LIMIT_INGEST": "5/minute",
        "LEADGATE_RATE_LIMIT_IP": "3/minute",
    }
    with servers(db_url, tmp_path, count=2, env=env) as (a, b):
        codes = []
        for n, base in enumerate([a, a, a, b, b]):
            codes.append(
                httpx.post(f"{base}/v1/leads", json=_lead(n), headers=bearer(key), timeout=30).status_code
            )
        assert codes == [200] * 5
        # each process has seen fewer than 5 requests, together they have seen 5
        for n, base in enumerate([b, a]):
            r = httpx.post(f"{base}/v1/leads", json=_lead(10 + n), headers=bearer(key), timeout=30)
            _assert_429(r, "per caller on ingest routes")
        # a real uvicorn server on 127.0.0.1 does not take X-Forwarded-For from a client (no trusted proxy)
        codes = []
        for n in range(4):
            forged = {"X-Forwarded-For": f"198.51.100.{n}"}
            codes.append(httpx.get(f"{a}/v1/conversations/c-1", headers=forged, timeout=30).status_code)
        assert codes == [503, 503, 503, 429]  # no chat on these servers (503), but the per-IP limit counts
    assert list(redis.Redis.from_url(REDIS_URL).scan_iter(match=f"{redis_prefix}*"))  # counted in Redis
