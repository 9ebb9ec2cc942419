"""Dead letters of the API (issue 8, item 11): a truncated copy of oversized input, the caller, a quota.

On SQLite and PostgreSQL: a rejected body longer than ``dead_letter_max_bytes`` is kept cut to that size
with ``truncated``, its original size and sha256; every API dead letter names its caller; a caller past
its dead-letter quota gets 429 and nothing more is stored for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import select
from tests.api.conftest import Api, bearer, create_test_key
from tests.api.test_api import WEB_LEAD

from leadgate.db.store import DEAD
from leadgate.privacy.crypto import aad, keyring


def _dead(api: Api) -> list[dict[str, Any]]:
    """The stored dead letters, each ``record`` decrypted to the text that was kept."""
    ring = keyring(api.engine)
    with api.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(DEAD).order_by(DEAD.c.id)).mappings()]
    for r in rows:
        r["record"] = ring.decrypt_text(r["record"], aad("dead_letters", "record", r["dedupe_key"]))
    return rows


def test_an_oversized_rejected_lead_is_kept_truncated_with_size_and_hash(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(dead_letter_max_bytes=2048)
    attributes = {**WEB_LEAD["attributes"], "lead_source": "é" * 5000, "total_visits": -1}
    body = {**WEB_LEAD, "received_at": "2026-12-01T10:00:00Z", "attributes": attributes}
    r = api.client.post("/v1/leads", json=body)
    assert r.status_code == 422, r.text
    small = {**WEB_LEAD, "attributes": {**WEB_LEAD["attributes"], "total_visits": -2}}
    assert api.client.post("/v1/leads", json=small).status_code == 422
    big, little = _dead(api)
    whole = _record_of(body)
    kept = big["record"].encode()
    assert big["truncated"] is True
    assert 2047 <= len(kept) <= 2048  # cut at 2048 bytes, back to a whole 2-byte character
    assert kept == whole[: len(kept)]  # a prefix of the JSON text
    assert big["original_bytes"] == len(whole) > 10_000
    assert big["original_sha256"] == hashlib.sha256(whole).hexdigest()
    assert big["caller"] == f"key:{api.key[3:11]}"
    assert little["truncated"] is False and little["original_bytes"] == len(little["record"].encode())
    assert little["original_sha256"] == hashlib.sha256(little["record"].encode()).hexdigest()


def _record_of(body: dict[str, Any]) -> bytes:
    """The JSON text the API keeps of a lead refused after parsing (its ``lead/v1`` dump, keys sorted)."""
    from leadgate.contracts.lead import Lead

    dumped = Lead.model_validate(body).model_dump(mode="json")
    return orjson.dumps(dumped, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def test_a_body_that_is_not_json_is_kept_truncated_with_its_caller(make_api: Callable[..., Api]) -> None:
    api = make_api(dead_letter_max_bytes=1024)
    raw = b'{"lead_id": "x", ' + b"A" * 5000
    r = api.client.post("/v1/leads", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    (row,) = _dead(api)
    assert row["truncated"] is True and len(row["record"].encode()) <= 1024
    assert row["original_bytes"] > 5000
    assert row["caller"] == f"key:{api.key[3:11]}"


def test_dead_letters_past_the_callers_quota_get_429_and_are_not_stored(make_api: Callable[..., Api]) -> None:
    api = make_api(dead_letter_quota="3/hour")
    bad = [{**WEB_LEAD, "lead_id": f"bad-{n}", "attributes": {"total_visits": -1}} for n in range(5)]
    assert api.client.post("/v1/leads", json=bad[0]).status_code == 422
    batch = api.client.post("/v1/leads/batch", json={"leads": [bad[1], bad[2]]})
    assert batch.status_code == 200 and batch.json()["rejected"] == 2
    over = api.client.post("/v1/leads", json=bad[3])
    assert over.status_code == 429 and "dead letters per caller" in over.json()["detail"]
    assert int(over.headers["Retry-After"]) >= 1
    not_json = api.client.post("/v1/leads", content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 429
    assert len(_dead(api)) == 3
    # another caller has its own quota; valid leads are not dead letters and still go through
    other = create_test_key(api.engine, role="integration", name="other")
    assert api.client.post("/v1/leads", json=bad[4], headers=bearer(other)).status_code == 422
    assert api.client.post("/v1/leads", json=WEB_LEAD).status_code == 200
    callers = [row["caller"] for row in _dead(api)]
    assert callers == [f"key:{api.key[3:11]}"] * 3 + [f"key:{other[3:11]}"]
