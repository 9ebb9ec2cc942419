"""Ingest abuse on SQLite and PostgreSQL: unstorable characters (422, not 500), the mapping's value bounds on
the API, and a ``lead_id`` posted again with other content (409 unless an explicit, authorized update)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from tests.api.conftest import Api, bearer, create_test_key
from tests.api.conversations_support import MakeChatApi, make_chat_api
from tests.api.test_api import WEB_LEAD
from tests.conftest import LEADS_CSV, MAPPING

from leadgate.contracts.lead import UNSTORABLE_REASON
from leadgate.db import store
from leadgate.db.store import DEAD, DECISIONS
from leadgate.ingest import load_mapping, read_csv_chunks
from leadgate.pipeline import import_file

__all__ = ["make_chat_api"]  # the fixture, imported for pytest


def _lead(**changes: Any) -> dict[str, Any]:
    return {**WEB_LEAD, **changes}


def _paths(response: Any) -> dict[str, str]:
    return {e["path"]: e["reason"] for e in response.json()["detail"]}


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (_lead(first_name="Asha\x00"), "body.first_name"),
        (_lead(company="\x00"), "body.company"),
        (_lead(source="web\x00form"), "body.source"),
        (
            _lead(attributes={**WEB_LEAD["attributes"], "lead_source": "goo\x00gle"}),
            "body.attributes.lead_source",
        ),
        (_lead(post_decision={"tags": "x\x00"}), "body.post_decision.tags"),
    ],
)
def test_nul_in_a_lead_gets_422_with_path_and_leaves_a_dead_letter(
    make_api: Callable[..., Api], body: dict[str, Any], path: str
) -> None:
    api = make_api()
    r = api.client.post("/v1/leads", json=body)
    assert r.status_code == 422, r.text
    assert _paths(r)[path] == UNSTORABLE_REASON
    batch = api.client.post("/v1/leads/batch", json={"leads": [body, _lead(lead_id="web-0002")]})
    assert batch.status_code == 200, batch.text
    first, second = batch.json()["results"]
    assert first["errors"] == [
        {"path": path.replace("body.", "body.leads.0.", 1), "reason": UNSTORABLE_REASON}
    ]
    assert second["decision"] is not None
    with api.engine.connect() as conn:
        assert store.get_lead(conn, "web-0001") is None
        assert conn.execute(select(func.count()).select_from(DEAD)).scalar() == 2


def test_nul_in_ids_and_attribute_names_gets_422(make_api: Callable[..., Api]) -> None:
    api = make_api()
    r = api.client.post("/v1/leads", json=_lead(lead_id="web\x00"))
    assert r.status_code == 422 and "body.lead_id" in _paths(r)
    r = api.client.post("/v1/leads", json=_lead(attributes={"ab\x00": 1}))
    assert r.status_code == 422
    assert [reason for p, reason in _paths(r).items() if p.startswith("body.attributes.")] == [
        UNSTORABLE_REASON
    ]


def test_reading_an_id_with_nul_is_422_not_500(make_api: Callable[..., Api]) -> None:
    api = make_api()
    for url in ("/v1/leads/a%00b", "/v1/leads/a%00b/decision"):
        r = api.client.get(url)
        assert r.status_code == 422, r.text
        assert _paths(r) == {"path.lead_id": UNSTORABLE_REASON}


def test_nul_in_chat_and_staff_messages_gets_422(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    staff = api.staff_headers()
    r = api.client.post("/v1/conversations", json={"timezone": "Europe/Berlin", "visitor_id": "v\x00"})
    assert r.status_code == 422 and _paths(r) == {"body.visitor_id": UNSTORABLE_REASON}
    conv = api.open()
    for field, kwargs in [
        ("text", {"cmid": "c-1", "text": "hi\x00"}),
        ("client_message_id", {"cmid": "c\x00", "text": "hi"}),
        ("option_id", {"cmid": "c-1", "text": "", "option_id": "y\x00"}),
    ]:
        cmid, text = kwargs.pop("cmid"), kwargs.pop("text")
        r = api.post(conv, cmid, text, **kwargs)
        assert r.status_code == 422, r.text
        assert _paths(r)[f"body.{field}"] == UNSTORABLE_REASON
    api.post(conv, "c-1", "human")
    cid = conv["conversation_id"]
    r = api.client.post(f"/v1/handoffs/{cid}/messages", json={"text": "a\x00"}, headers=staff)
    assert r.status_code == 422 and _paths(r) == {"body.text": UNSTORABLE_REASON}
    assert [m["role"] for m in api.get(conv).json()["messages"]] == ["assistant", "visitor", "assistant"]


def test_a_csv_row_with_nul_is_a_dead_letter_with_a_reason(engine: Engine, tmp_path: Path) -> None:
    lines = LEADS_CSV.read_text(encoding="utf-8").splitlines()
    bad = lines[2].split(",")
    bad[2] = "Landing\x00Page"  # Lead Origin
    path = tmp_path / "leads.csv"
    path.write_text("\n".join([lines[0], lines[1], ",".join(bad)]) + "\n", encoding="utf-8")
    chunks = list(read_csv_chunks(path, load_mapping(MAPPING)))
    rejected = [r for c in chunks for r in c.rejected]
    assert [r.row_number for r in rejected] == [2]
    assert rejected[0].errors[0].path == "columns.Lead Origin"
    assert UNSTORABLE_REASON in rejected[0].reason
    assert sum(len(c.leads) for c in chunks) == 1
    # imported into the database: one lead, one dead letter with the reason (no 500, no DataError)
    run = import_file(engine, path, load_mapping(MAPPING))
    assert (run.imported, run.rejected) == (1, 1)
    with engine.connect() as conn:
        row = store.decrypt_dead_letter(conn, dict(conn.execute(select(DEAD)).mappings().one()))
    assert "columns.Lead Origin" in row["reason"] and UNSTORABLE_REASON in row["reason"]
    assert "Landing\x00Page" in row["record"]["Lead Origin"]


def test_the_api_applies_the_mappings_bounds(make_api: Callable[..., Api]) -> None:
    api = make_api()
    assert api.client.app.state.lg.attribute_bounds["total_visits"] == (0, None)  # type: ignore[attr-defined]
    negative = _lead(attributes={**WEB_LEAD["attributes"], "total_visits": -3})
    r = api.client.post("/v1/leads", json=negative)
    assert r.status_code == 422, r.text
    assert _paths(r) == {"body.attributes.total_visits": "must be >= 0, got -3"}
    batch = api.client.post("/v1/leads/batch", json={"leads": [negative]}).json()
    assert batch["rejected"] == 1
    assert batch["results"][0]["errors"] == [
        {"path": "body.leads.0.attributes.total_visits", "reason": "must be >= 0, got -3"}
    ]
    zero = _lead(attributes={**WEB_LEAD["attributes"], "total_visits": 0})
    assert api.client.post("/v1/leads", json=zero).status_code == 200


def _decisions(api: Api, lead_id: str) -> int:
    with api.engine.connect() as conn:
        n: int = conn.execute(
            select(func.count()).select_from(DECISIONS).where(DECISIONS.c.lead_id == lead_id)
        ).scalar_one()
    return n


def test_a_lead_posted_again_with_other_content_needs_an_explicit_update(
    make_api: Callable[..., Api],
) -> None:
    api = make_api()
    first = api.client.post("/v1/leads", json=WEB_LEAD)
    assert first.status_code == 200
    # the same content again is idempotent: a new decision, no conflict
    assert api.client.post("/v1/leads", json=WEB_LEAD).status_code == 200
    assert _decisions(api, "web-0001") == 2

    changed = _lead(attributes={**WEB_LEAD["attributes"], "lead_origin": "API"}, company="Other")
    integration = bearer(create_test_key(api.engine, role="integration", name="crm"))
    r = api.client.post("/v1/leads", json=changed, headers=integration)
    assert r.status_code == 409
    reason = r.json()["detail"]
    assert "'web-0001'" in reason and "If-Match" in reason and "update=true" in reason
    # nothing changed
    with api.engine.connect() as conn:
        assert store.get_lead(conn, "web-0001")["company"] is None  # type: ignore[index]
    assert _decisions(api, "web-0001") == 2
    # the batch route reports the item with the same reason
    batch = api.client.post(
        "/v1/leads/batch", json={"leads": [changed, _lead(lead_id="web-0002")]}, headers=integration
    )
    body = batch.json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    item = body["results"][0]
    assert item["status"] == 409 and item["lead_id"] == "web-0001" and item["decision"] is None
    assert item["errors"] == [{"path": "body.leads.0.lead_id", "reason": reason}]
    # ?update=true needs a role that may update
    r = api.client.post("/v1/leads", params={"update": "true"}, json=changed, headers=integration)
    assert r.status_code == 403
    # If-Match with a stale or wrong version: still 409
    r = api.client.post("/v1/leads", json=changed, headers={**integration, "If-Match": '"abc"'})
    assert r.status_code == 409
    # If-Match with the stored version (the ETag of GET) replaces it
    etag = api.client.get("/v1/leads/web-0001").headers["etag"]
    r = api.client.post("/v1/leads", json=changed, headers={**integration, "If-Match": etag})
    assert r.status_code == 200, r.text
    with api.engine.connect() as conn:
        assert store.get_lead(conn, "web-0001")["company"] == "Other"  # type: ignore[index]
    assert api.client.get("/v1/leads/web-0001").headers["etag"] != etag
    # an admin or revops key with ?update=true replaces it too, on both routes
    revops = bearer(create_test_key(api.engine, role="revops", name="ops"))
    r = api.client.post("/v1/leads", params={"update": "true"}, json=WEB_LEAD, headers=revops)
    assert r.status_code == 200, r.text
    batch = api.client.post(
        "/v1/leads/batch", params={"update": "true"}, json={"leads": [changed]}, headers=revops
    ).json()
    assert batch["accepted"] == 1 and batch["results"][0]["decision"] is not None
    with api.engine.connect() as conn:
        assert store.get_lead(conn, "web-0001")["company"] == "Other"  # type: ignore[index]
