"""The HTTP API on SQLite and PostgreSQL: qualify, validate (422 + dead letters), size limits, batch,
rule fallback, reads and the audit chain."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, func, select
from tests.api.conftest import (
    Api,
    TestClient,
    Trained,
    bearer,
    create_test_key,
    shipped_policy,
    shipped_qualifier,
)
from tests.conftest import LEADS_CSV, MAPPING

from leadgate.api import create_app
from leadgate.audit import verify_chain
from leadgate.config import Settings
from leadgate.contracts.errors import _SCALAR_REASON as SCALAR_REASON
from leadgate.contracts.lead import Lead
from leadgate.db import store
from leadgate.db.store import DEAD, DECISIONS, EXPLANATIONS, LEADS
from leadgate.ingest import input_hash, load_mapping, read_csv_chunks
from leadgate.policy import decide_many
from leadgate.scoring import FitScorer

TIERS = {"hot", "warm", "nurture", "disqualified"}
ACTIONS = {"route_to_sales", "nurture", "human_review", "discard"}

WEB_LEAD: dict[str, Any] = {
    "lead_id": "web-0001",
    "source": "web_form",
    "email": "asha@example.com",
    "attributes": {
        "lead_origin": "Landing Page Submission",
        "lead_source": "google",
        "total_visits": 4,
        "total_time_on_site": 1450,
        "page_views_per_visit": 2,
        "occupation": "Working Professional",
        "lead_number": 660000,
    },
}


def csv_leads(n: int) -> list[Lead]:
    """The first ``n`` valid leads of the bundled file (with their post-decision values)."""
    chunks = read_csv_chunks(LEADS_CSV, load_mapping(MAPPING), chunk_size=max(n, 1))
    leads = [lead for chunk in chunks for _, lead in chunk.leads]
    return leads[:n]


def payload(lead: Lead) -> dict[str, Any]:
    return orjson.loads(lead.model_dump_json(exclude={"received_at"}))


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def explanation_state(engine: Engine, decision_id: str) -> str | None:
    """``computed`` of the stored explanation of a decision, or None when none is stored."""
    with engine.connect() as conn:
        return conn.execute(
            select(EXPLANATIONS.c.computed).where(EXPLANATIONS.c.decision_id == decision_id)
        ).scalar_one_or_none()


def dead_letters(engine: Engine) -> list[dict[str, Any]]:
    """The stored dead letters, oldest first, each ``record`` decrypted (as JSON text)."""
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(DEAD).order_by(DEAD.c.id)).mappings()]
        return [
            {**r, "record": orjson.dumps(store.decrypt_dead_letter(conn, r)["record"]).decode()} for r in rows
        ]


def check_explanation(explanation: dict[str, Any], feature_names: list[str]) -> None:
    assert len(explanation["positive"]) <= 3
    assert len(explanation["negative"]) <= 3
    assert explanation["positive"] or explanation["negative"]
    assert all(f["contribution"] > 0 for f in explanation["positive"])
    assert all(f["contribution"] < 0 for f in explanation["negative"])
    for side in ("positive", "negative"):
        strengths = [abs(f["contribution"]) for f in explanation[side]]
        assert strengths == sorted(strengths, reverse=True)  # strongest first
        assert all(f["feature"] in feature_names and f["text"] for f in explanation[side])


# --------------------------------------------------------------------------- one lead


def test_post_lead_returns_a_reproducible_explained_decision_and_stores_it(
    api: Api, trained: Trained
) -> None:
    response = api.client.post("/v1/leads", json=WEB_LEAD)
    assert response.status_code == 200, response.text
    body = response.json()
    score = body["score"]
    lead = Lead.model_validate(WEB_LEAD)
    assert api.model is not None

    # Model identity, policy and feature set: everything needed to reproduce the decision.
    assert (score["model_name"], score["model_version"], score["model_hash"]) == (
        api.model.name,
        str(api.model.version),
        api.model.content_hash,
    )
    assert score["scorer"] == "model" and score["fallback_reason"] is None
    assert score["feature_set"] == trained.feature_set.ref
    assert body["policy_version"] == shipped_policy().ref
    assert body["input_hash"] == input_hash(lead)
    assert body["lead_id"] == "web-0001"
    assert set(body["features"]) == set(trained.feature_set.names)

    # The score is the registered model's, and tier/action follow the policy from it.
    frame = trained.feature_set.frame_from_leads([lead])
    expected = trained.estimator.assess(frame, explain=False)
    assert 0.0 <= score["probability"] <= 1.0
    assert score["probability"] == pytest.approx(float(expected.probability[0]), abs=1e-9)
    assert score["confidence"] == pytest.approx(float(expected.confidence[0]), abs=1e-9)
    fit = FitScorer().fit().score(frame)
    verdict = decide_many(
        [lead.attributes], expected.probability, expected.confidence, fit, ["model"], shipped_policy()
    )[0]
    assert (body["tier"], body["action"], body["review_required"]) == (
        verdict.tier,
        verdict.action,
        verdict.review_required,
    )
    assert body["tier"] in TIERS and body["action"] in ACTIONS

    explanation = score["explanation"]
    assert explanation is not None and explanation["method"] == "treeshap"
    check_explanation(explanation, trained.feature_set.names)

    # Stored: the lead, the decision (same id) and its inline explanation.
    stored = api.client.get("/v1/leads/web-0001")
    assert stored.status_code == 200
    assert stored.json()["attributes"] == WEB_LEAD["attributes"]
    assert stored.json()["email"] == WEB_LEAD["email"]
    decision = api.client.get("/v1/leads/web-0001/decision")
    assert decision.status_code == 200
    again = decision.json()
    assert again["decision_id"] == body["decision_id"]
    assert again["score"]["explanation"] == explanation
    assert {k: again[k] for k in ("tier", "action", "input_hash")} == {
        k: body[k] for k in ("tier", "action", "input_hash")
    }
    assert explanation_state(api.engine, body["decision_id"]) == "inline"
    assert count(api.engine, LEADS) == 1 and count(api.engine, DECISIONS) == 1


def test_resubmitting_a_lead_keeps_one_lead_and_adds_a_decision(api: Api) -> None:
    first = api.client.post("/v1/leads", json=WEB_LEAD).json()
    second = api.client.post("/v1/leads", json=WEB_LEAD).json()
    assert first["decision_id"] != second["decision_id"]
    assert first["input_hash"] == second["input_hash"]
    assert count(api.engine, LEADS) == 1
    assert count(api.engine, DECISIONS, DECISIONS.c.lead_id == "web-0001") == 2
    assert api.client.get("/v1/leads/web-0001/decision").json()["decision_id"] == second["decision_id"]
    with api.engine.connect() as conn:
        checked, broken = verify_chain(store.iter_decisions(conn))
        head, n = store.chain_head(conn)
    assert (checked, broken, n) == (2, None, 2)
    with api.engine.connect() as conn:
        last = conn.execute(
            select(DECISIONS.c.record_hash).order_by(DECISIONS.c.id.desc()).limit(1)
        ).scalar_one()
    assert head == last


# --------------------------------------------------------------------------- bad input


def _raw(body: str) -> dict[str, Any]:
    return {"content": body.encode(), "headers": {"content-type": "application/json"}}


BAD_INPUTS: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    # (case, request kwargs, {expected path: text in the reason})
    ("space in id", {"json": {**WEB_LEAD, "lead_id": "web 0001"}}, {"body.lead_id": "pattern"}),
    ("missing id", {"json": {"attributes": {"lead_origin": "API"}}}, {"body.lead_id": "required"}),
    (
        "bad email",
        {"json": {**WEB_LEAD, "lead_id": "bad-email", "email": "asha.example.com"}},
        {"body.email": "email"},
    ),
    (
        "NaN",
        _raw('{"lead_id": "nan-visits", "attributes": {"lead_origin": "API", "total_visits": NaN}}'),
        {"body.attributes.total_visits": SCALAR_REASON},
    ),
    (
        "Infinity",
        _raw('{"lead_id": "inf-visits", "attributes": {"total_visits": Infinity}}'),
        {"body.attributes.total_visits": SCALAR_REASON},
    ),
    (
        "overflow to inf",
        _raw('{"lead_id": "big-visits", "attributes": {"total_visits": 1e999}}'),
        {"body.attributes.total_visits": SCALAR_REASON},
    ),
    (
        "list",
        {"json": {"lead_id": "list-visits", "attributes": {"total_visits": [1, 2]}}},
        {"body.attributes.total_visits": SCALAR_REASON},
    ),
    (
        "two errors",
        {"json": {"lead_id": "two errors", "email": "nope", "attributes": {"total_visits": {"a": 1}}}},
        {"body.lead_id": "pattern", "body.email": "email", "body.attributes.total_visits": SCALAR_REASON},
    ),
]


def test_bad_input_gets_422_with_field_paths_and_is_dead_lettered(api: Api) -> None:
    for n, (case, request, expected) in enumerate(BAD_INPUTS, start=1):
        response = api.client.post("/v1/leads", **request)
        assert response.status_code == 422, (case, response.text)
        detail = response.json()["detail"]
        paths = {e["path"]: e["reason"] for e in detail}
        # exactly the broken fields, once each (no pydantic union-member suffixes like ``.int``)
        assert set(paths) == set(expected), (case, detail)
        for path, words in expected.items():
            assert words.lower() in paths[path].lower(), (case, path, paths[path])

        letters = dead_letters(api.engine)
        assert len(letters) == n, case
        letter = letters[-1]
        assert letter["source"] == "api"
        for path in expected:
            assert path in letter["reason"], (case, letter["reason"])
        assert [e["path"] for e in orjson.loads(letter["errors"])] == [e["path"] for e in detail]
        kept = orjson.loads(letter["record"])["body_text"]
        # the body is kept as sent, byte for byte (non-finite numbers included)
        if "content" in request:
            assert kept == request["content"].decode(), case
        else:
            assert orjson.loads(kept) == request["json"], case

    # A body that is not JSON at all: the position of the error, and the text is kept.
    text = '{"lead_id": "cut-off",'
    response = api.client.post("/v1/leads", **_raw(text))
    assert response.status_code == 422
    assert response.json()["detail"][0]["path"] == f"body.{len(text)}"
    assert orjson.loads(dead_letters(api.engine)[-1]["record"])["body_text"] == text

    assert count(api.engine, LEADS) == 0
    assert count(api.engine, DECISIONS) == 0


def test_body_over_the_limit_gets_413_with_or_without_content_length(make_api: Callable[..., Api]) -> None:
    api = make_api(max_body_bytes=1024)
    big = {**WEB_LEAD, "lead_id": "too-big", "attributes": {**WEB_LEAD["attributes"], "note": "x" * 2000}}
    data = orjson.dumps(big)
    assert len(data) > 1024

    with_length = api.client.post("/v1/leads", content=data, headers={"content-type": "application/json"})
    assert with_length.request.headers["content-length"] == str(len(data))
    assert with_length.status_code == 413, with_length.text
    assert "over the limit of 1024 bytes" in with_length.json()["detail"]

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), 256):
            yield data[start : start + 256]

    streamed = api.client.post("/v1/leads", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in streamed.request.headers
    assert streamed.request.headers["transfer-encoding"] == "chunked"
    assert streamed.status_code == 413, streamed.text
    assert "over the limit of 1024 bytes" in streamed.json()["detail"]

    # Under the limit, streamed or not, a lead still goes through.
    small = orjson.dumps(WEB_LEAD)
    assert (
        api.client.post("/v1/leads", content=small, headers={"content-type": "application/json"}).status_code
        == 200
    )
    ok = api.client.post(
        "/v1/leads", content=iter([small[:100], small[100:]]), headers={"content-type": "application/json"}
    )
    assert ok.status_code == 200, ok.text
    assert api.client.get("/v1/leads/too-big").status_code == 404
    assert count(api.engine, DECISIONS) == 2


def test_batch_over_max_batch_leads_gets_413(make_api: Callable[..., Api]) -> None:
    api = make_api(max_batch_leads=2)
    leads = [{**WEB_LEAD, "lead_id": f"web-{i}"} for i in range(3)]
    response = api.client.post("/v1/leads/batch", json={"leads": leads})
    assert response.status_code == 413
    assert count(api.engine, LEADS) == 0
    assert api.client.post("/v1/leads/batch", json={"leads": leads[:2]}).json()["accepted"] == 2


# --------------------------------------------------------------------------- batch


def test_batch_reports_per_item_dead_letters_invalid_and_explains_routed_inline(
    api: Api, trained: Trained
) -> None:
    leads = csv_leads(30)
    # What the model and policy make of these leads, computed in memory with the same registered model.
    assert api.model is not None
    qualifier = shipped_qualifier(api.engine)
    assert qualifier.model is not None and qualifier.model.content_hash == api.model.content_hash
    expected_rows, _ = qualifier.decide(leads, explain="none")
    routed = {r["lead_id"] for r in expected_rows if r["action"] == "route_to_sales"}
    assert routed and len(routed) < len(leads), "the sample must hold routed and other leads"

    items: list[dict[str, Any]] = [payload(lead) for lead in leads]
    bad = {
        3: ({**items[3], "lead_id": "has space"}, "lead_id"),
        10: ({**items[10], "email": "not-an-email"}, "email"),
        17: (
            {**items[17], "attributes": {**items[17]["attributes"], "total_visits": [1]}},
            "attributes.total_visits",
        ),
    }
    for i, (item, _) in bad.items():
        items[i] = item
    response = api.client.post("/v1/leads/batch", json={"leads": items})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (len(items) - len(bad), len(bad))
    results = body["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    expected = {r["lead_id"]: r for r in expected_rows}

    on_request = []
    for i, result in enumerate(results):
        if i in bad:
            assert result["decision"] is None
            assert f"body.leads.{i}.{bad[i][1]}" in [e["path"] for e in result["errors"]], result
            assert result["lead_id"] == items[i]["lead_id"]  # echoed as sent, even when invalid
            continue
        assert result["errors"] is None
        decision = result["decision"]
        assert result["lead_id"] == decision["lead_id"] == items[i]["lead_id"]
        want = expected[decision["lead_id"]]
        assert decision["score"]["probability"] == pytest.approx(want["probability"], abs=1e-9)
        assert decision["action"] == want["action"]
        # decision-level leakage check: post-decision values were sent but are not features
        assert items[i]["post_decision"], "the CSV leads carry post-decision values"
        assert set(decision["features"]) == set(trained.feature_set.names)
        assert not set(decision["features"]) & set(items[i]["post_decision"])
        if decision["action"] == "route_to_sales":
            check_explanation(decision["score"]["explanation"], trained.feature_set.names)
            assert explanation_state(api.engine, decision["decision_id"]) == "inline"
        else:
            assert decision["score"]["explanation"] is None
            assert explanation_state(api.engine, decision["decision_id"]) is None
            on_request.append(decision)
    assert on_request

    # Invalid items are dead-lettered, one per item, with their reason.
    letters = dead_letters(api.engine)
    assert len(letters) == len(bad)
    for letter, (_, path) in zip(letters, bad.values(), strict=True):
        assert letter["source"] == "api" and path in letter["reason"]
    assert count(api.engine, LEADS) == count(api.engine, DECISIONS) == len(items) - len(bad)

    # Not routed: explained on first read of the decision, stored, and the same on the next read.
    for decision in on_request[:3]:
        first = api.client.get(f"/v1/leads/{decision['lead_id']}/decision").json()
        assert first["decision_id"] == decision["decision_id"]
        explanation = first["score"]["explanation"]
        check_explanation(explanation, trained.feature_set.names)
        assert explanation_state(api.engine, decision["decision_id"]) == "on_request"
        second = api.client.get(f"/v1/leads/{decision['lead_id']}/decision").json()
        assert second["score"]["explanation"] == explanation


# --------------------------------------------------------------------------- rule fallback


def test_without_a_model_leads_are_qualified_by_the_rule_fallback(make_api: Callable[..., Api]) -> None:
    api = make_api(model=False)
    health = api.client.get("/healthz").json()
    assert health["scorer"] == "rule_fallback"
    response = api.client.post("/v1/leads", json=WEB_LEAD)
    assert response.status_code == 200, response.text
    body = response.json()
    score = body["score"]
    assert score["scorer"] == "rule_fallback"
    assert score["fallback_reason"] == "no model registered"  # the shipped fit rules: no generic note
    assert score["model_name"] == "rule_fallback"
    assert 0.0 <= score["probability"] <= 1.0
    assert shipped_policy().review.on_fallback is True
    assert body["review_required"] is True
    assert body["action"] == "human_review"
    assert score["explanation"]["method"] == "rules"
    assert api.client.get("/v1/leads/web-0001/decision").json()["decision_id"] == body["decision_id"]


def test_a_lead_missing_a_required_feature_is_scored_by_the_fallback(api: Api, trained: Trained) -> None:
    required = [f.name for f in trained.feature_set.features if f.required]
    assert required == ["lead_origin"]
    attributes = {k: v for k, v in WEB_LEAD["attributes"].items() if k != "lead_origin"}
    response = api.client.post(
        "/v1/leads", json={**WEB_LEAD, "lead_id": "no-origin", "attributes": attributes}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["score"]["scorer"] == "rule_fallback"
    assert "lead_origin" in body["score"]["fallback_reason"]
    assert body["score"]["model_name"] == "rule_fallback"
    assert body["review_required"] is True
    # The same lead with its origin is scored by the model.
    with_origin = api.client.post("/v1/leads", json=WEB_LEAD).json()
    assert with_origin["score"]["scorer"] == "model"
    assert with_origin["score"]["model_name"] == "propensity"


# --------------------------------------------------------------------------- reads and docs


def test_unknown_lead_404_and_docs_are_served(api: Api) -> None:
    assert api.client.get("/v1/leads/nobody").status_code == 404
    missing = api.client.get("/v1/leads/nobody/decision")
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]
    docs = api.client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = api.client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path, method in [
        ("/v1/leads", "post"),
        ("/v1/leads/batch", "post"),
        ("/v1/leads/{lead_id}", "get"),
        ("/v1/leads/{lead_id}/decision", "get"),
    ]:
        assert method in paths[path], path
    assert (
        api.client.get("/healthz").json()["model"] == f"propensity@{api.model.version if api.model else '?'}"
    )


def test_a_value_the_model_cannot_use_is_a_clear_422_not_a_silent_missing(api: Api) -> None:
    body = {"lead_id": "visits-text", "attributes": {"lead_origin": "API", "total_visits": "twelve"}}
    response = api.client.post("/v1/leads", json=body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["path"] == "body.attributes.total_visits"
    assert "needs a finite number, got 'twelve'" in error["reason"]
    assert dead_letters(api.engine)[-1]["reason"].startswith("body.attributes.total_visits")
    assert count(api.engine, LEADS) == 0
    # a numeric string is a number
    ok = api.client.post(
        "/v1/leads", json={**body, "lead_id": "visits-ok", "attributes": {"total_visits": "12"}}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["features"]["total_visits"] == "12"
    batch = api.client.post("/v1/leads/batch", json={"leads": [body]}).json()
    assert batch["rejected"] == 1
    assert batch["results"][0]["errors"][0]["path"] == "body.leads.0.attributes.total_visits"


def test_out_of_range_leads_are_flagged_and_counted(api: Api, trained: Trained) -> None:
    """A lead whose time on site is far above anything seen in training (a bot, or a new tracking setup)."""
    frame = trained.data.frame
    seen_max = float(frame["total_time_on_site"].max())
    complete = next(
        i for i in range(len(frame)) if not frame.iloc[i].isna().any()
    )  # a lead like those trained on
    attributes = {k: (v.item() if hasattr(v, "item") else v) for k, v in frame.iloc[complete].items()}
    lead = {"lead_id": "web-seen", "source": "web_form", "attributes": attributes}
    ordinary = api.client.post("/v1/leads", json=lead)
    assert ordinary.status_code == 200, ordinary.text
    assert ordinary.headers["Leadgate-Out-Of-Range"] == "false"
    odd = {**lead, "lead_id": "web-odd", "attributes": {**attributes, "total_time_on_site": seen_max * 10}}
    flagged = api.client.post("/v1/leads", json=odd)
    assert flagged.status_code == 200 and flagged.headers["Leadgate-Out-Of-Range"] == "true"
    assert flagged.json()["score"]["confidence"] < ordinary.json()["score"]["confidence"]
    batch = api.client.post(
        "/v1/leads/batch",
        json={"leads": [{**lead, "lead_id": "b-1"}, {**odd, "lead_id": "b-2"}, {**odd, "lead_id": "b-3"}]},
    ).json()
    assert (batch["out_of_range"], round(batch["out_of_range_share"], 3)) == (2, 0.667)
    assert [r["out_of_range"] for r in batch["results"]] == [False, True, True]
    health = api.client.get("/healthz").json()
    assert health["leads_scored"] == 5 and health["out_of_range_share"] == 3 / 5


def test_serve_with_a_project_uses_its_policy_features_and_fallback(db_url: str, engine: Engine) -> None:
    """``LEADGATE_PROJECT`` / ``serve --project``: nothing of the shipped X Education example is used."""
    olist = Path(__file__).resolve().parents[2] / "examples" / "olist"
    settings = Settings(database_url=db_url, project=olist)
    key = create_test_key(engine, role="integration")
    with TestClient(create_app(settings), headers=bearer(key)) as client:
        health = client.get("/healthz").json()
        assert (health["policy"], health["feature_set"], health["scorer"]) == (
            "olist@1",
            "olist_mql@1",
            "rule_fallback",
        )
        lead = {
            "lead_id": "mql-1",
            "source": "web_form",
            "attributes": {"origin": "organic_search", "landing_page_id": "b76ef37428e6799c421989521c0e5077"},
        }
        decision = client.post("/v1/leads", json=lead).json()
    assert decision["score"]["model_version"] == "generic_fallback@1"
    assert "no fit rules in the project" in decision["score"]["fallback_reason"]
    assert decision["policy_version"] == "olist@1"
