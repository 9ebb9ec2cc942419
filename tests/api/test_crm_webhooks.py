"""``POST /v1/webhooks/crm/{source}`` (issue 9, item 6) on SQLite and PostgreSQL: signed CRM events become
outcomes linked to the decision that produced them; replays, stale timestamps, tampered bodies, unknown
leads and bad payloads.

Standard Webhooks requests are signed with the ``standardwebhooks`` library as a sending CRM would;
HubSpot's v3 signature is computed here from HubSpot's documented recipe (base64 HMAC-SHA256 over
method + URI + body + timestamp in milliseconds), independently of leadgate's verifier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import func, insert, select
from standardwebhooks import Webhook
from tests.api.conftest import Api

from leadgate.audit.events import iter_events, verify_events
from leadgate.contracts.decision import Decision
from leadgate.db.acting_models import OutboxRow
from leadgate.db.inbound_models import InboundEventRow
from leadgate.db.models import DeadLetterRow, OutcomeRow

PIPEDRIVE_SECRET = "whsec_" + base64.b64encode(b"pipedrive-automation-signing-key!").decode()
HUBSPOT_SECRET = "8f3c1a7e-hubspot-app-client-secret-2b9d"
SECRETS = {"pipedrive": PIPEDRIVE_SECRET, "hubspot": HUBSPOT_SECRET, "zoho": "not-a-whsec"}

LEAD = {
    "source": "api",
    "email": "amelia.hart@copperfield-analytics.example",
    "first_name": "Amelia",
    "last_name": "Hart",
    "company": "Copperfield Analytics",
    "attributes": {
        "lead_origin": "Landing Page Submission",
        "lead_source": "Google",
        "total_visits": 7,
        "total_time_spent_on_website": 1620,
        "page_views_per_visit": 3.5,
        "last_activity": "Email Opened",
    },
}


@pytest.fixture
def hooks(make_api: Any) -> Api:
    api: Api = make_api(crm_webhook_secrets=SECRETS)
    return api


def decide(api: Api, lead_id: str) -> Decision:
    r = api.client.post("/v1/leads", json={**LEAD, "lead_id": lead_id})
    assert r.status_code == 200, r.text
    return Decision.model_validate(r.json())


def standard(
    api: Api,
    msg_id: str,
    event: dict[str, Any],
    *,
    at: datetime | None = None,
    secret: str = PIPEDRIVE_SECRET,
) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(event)
    at = at or datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
        "Authorization": "",  # no API key: the signature is the credential
    }
    return body, headers


def post(api: Api, source: str, body: bytes, headers: dict[str, str]) -> Any:
    return api.client.post(f"/v1/webhooks/crm/{source}", content=body, headers=headers)


def count(api: Api, table: Any) -> int:
    with api.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_won_deal_is_recorded_once_and_linked_to_its_decision(hooks: Api) -> None:
    decision = decide(hooks, "web-5120")
    won_at = datetime.now(UTC)  # after the decision
    body, headers = standard(
        hooks,
        "msg_2pYq7Hc1",
        {
            "type": "deal.won",
            "lead_id": "web-5120",
            "occurred_at": won_at.isoformat(),
            "data": {"amount": 18400},
        },
    )
    first = post(hooks, "pipedrive", body, headers)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "recorded"
    assert first.json()["results"][0]["decision_id"] == decision.decision_id
    # the CRM re-delivers the same message (its retry, or an attacker replaying it within 5 minutes)
    again = post(hooks, "pipedrive", body, headers)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"

    with hooks.engine.connect() as conn:
        rows = conn.execute(select(OutcomeRow.__table__)).all()
        events = [e for e in iter_events(conn) if e["kind"] == "outcome"]
    assert [(r.lead_id, r.outcome, r.source, r.decision_id) for r in rows] == [
        ("web-5120", "won", "crm:pipedrive", decision.decision_id)
    ]
    occurred = rows[0].occurred_at
    assert (occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC)) == won_at
    assert len(events) == 1 and events[0]["decision_id"] == decision.decision_id
    assert events[0]["actor"] == "crm:pipedrive" and events[0]["data"]["outcome"] == "won"
    assert verify_events(hooks.engine)[1] is None


def test_an_event_before_any_decision_links_none_and_meetings_are_outcomes(hooks: Api) -> None:
    decide(hooks, "web-5121")
    yesterday = datetime.now(UTC) - timedelta(days=1)
    body, headers = standard(
        hooks,
        "msg_meet_1",
        {"type": "meeting.held", "lead_id": "web-5121", "occurred_at": yesterday.isoformat()},
    )
    r = post(hooks, "pipedrive", body, headers)
    assert r.status_code == 200, r.text
    result = r.json()["results"][0]
    assert result["outcome"] == "meeting_held" and "decision_id" not in result


def test_forged_stale_and_unsigned_requests_are_refused_and_store_nothing(hooks: Api) -> None:
    decide(hooks, "web-5122")
    event = {"type": "deal.lost", "lead_id": "web-5122", "occurred_at": datetime.now(UTC).isoformat()}
    body, headers = standard(hooks, "msg_forge", event)
    tampered = body.replace(b"deal.lost", b"deal.won.")
    assert post(hooks, "pipedrive", tampered, headers).status_code == 401
    stale_body, stale = standard(hooks, "msg_old", event, at=datetime.now(UTC) - timedelta(minutes=6))
    r = post(hooks, "pipedrive", stale_body, stale)
    assert r.status_code == 401 and "timestamp" in r.json()["detail"].lower()
    wrong_body, wrong = standard(
        hooks,
        "msg_wrong",
        event,
        secret="whsec_" + base64.b64encode(b"someone-elses-key-0000000000").decode(),
    )
    assert post(hooks, "pipedrive", wrong_body, wrong).status_code == 401
    assert (
        post(hooks, "pipedrive", body, {"content-type": "application/json", "Authorization": ""}).status_code
        == 401
    )
    # a source with no secret configured does not exist
    assert post(hooks, "salesforce", body, headers).status_code == 404
    # a source whose secret is not a Standard Webhooks secret is a server-side misconfiguration
    r = post(hooks, "zoho", body, headers)
    assert r.status_code == 500 and "misconfigured" in r.json()["detail"]
    assert count(hooks, OutcomeRow) == count(hooks, InboundEventRow) == count(hooks, DeadLetterRow) == 0


def test_unknown_lead_is_dead_lettered_202_and_a_bad_payload_422(hooks: Api) -> None:
    now = datetime.now(UTC).isoformat()
    body, headers = standard(
        hooks, "msg_ghost", {"type": "deal.won", "lead_id": "no-such-lead", "occurred_at": now}
    )
    r = post(hooks, "pipedrive", body, headers)
    assert r.status_code == 202, r.text
    assert r.json()["results"][0] == {
        "event_id": "msg_ghost",
        "status": "dead",
        "outcome": "won",
        "reason": "unknown lead: lead no-such-lead",
    }
    bad_body, bad = standard(
        hooks, "msg_bad", {"type": "deal.teleported", "lead_id": "x", "occurred_at": "yesterday"}
    )
    r = post(hooks, "pipedrive", bad_body, bad)
    assert r.status_code == 422
    assert {e["path"] for e in r.json()["errors"]} == {"type", "occurred_at"}
    with hooks.engine.connect() as conn:
        dead = conn.execute(
            select(DeadLetterRow.source, DeadLetterRow.reason).order_by(DeadLetterRow.id)
        ).all()
    assert [s for s, _ in dead] == ["crm:pipedrive", "crm:pipedrive"]
    assert dead[0][1] == "unknown lead: lead no-such-lead" and dead[1][1].startswith("invalid event: type:")
    assert count(hooks, OutcomeRow) == 0
    # the dead event is still known: its replay is a duplicate, not a second dead letter
    assert post(hooks, "pipedrive", body, headers).json()["status"] == "duplicate"
    assert count(hooks, DeadLetterRow) == 2


# --- HubSpot ------------------------------------------------------------------------------------------


def hubspot_headers(
    method: str, uri: str, body: bytes, ts_ms: int, secret: str = HUBSPOT_SECRET
) -> dict[str, str]:
    """HubSpot's v3 signature, from its documentation (not from leadgate's code)."""
    source = f"{method}{uri}".encode() + body + str(ts_ms).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()
    return {
        "content-type": "application/json",
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": str(ts_ms),
        "Authorization": "",
    }


def delivered_to_hubspot(api: Api, decision: Decision, kind: str, external_id: str) -> None:
    """The outbox row of an action the HubSpot adapter delivered (its record id kept as external_id)."""
    now = datetime.now(UTC)
    with api.engine.begin() as conn:
        conn.execute(
            insert(OutboxRow).values(
                action_id=f"act-{kind}-{external_id}",
                kind=kind,
                destination="hubspot",
                lead_id=decision.lead_id,
                decision_id=decision.decision_id,
                idempotency_key=f"idem-{kind}-{decision.decision_id}",
                payload="{}",
                status="delivered",
                attempts=1,
                next_attempt_at=now,
                external_id=external_id,
                created_at=now,
                delivered_at=now,
            )
        )


def test_hubspot_v3_batch_maps_deal_stages_and_is_replay_safe(hooks: Api) -> None:
    decision = decide(hooks, "web-6001")
    delivered_to_hubspot(hooks, decision, "crm_upsert", "90211")  # the contact
    now_ms = int(time.time() * 1000)  # the CRM changes happen after the decision
    batch = [
        {"eventId": 3125710001, "subscriptionId": 411, "portalId": 6205670, "appId": 1160452,
         "occurredAt": now_ms + 1, "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
         "objectId": 90211, "propertyName": "lifecyclestage", "propertyValue": "opportunity",
         "changeSource": "CRM_UI"},
        {"eventId": 3125710002, "subscriptionId": 411, "portalId": 6205670, "appId": 1160452,
         "occurredAt": now_ms + 2, "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
         "objectId": 90211, "propertyName": "phone", "propertyValue": "+1 555 0100", "changeSource": "CRM_UI"},
        {"eventId": 3125710003, "subscriptionId": 412, "portalId": 6205670, "appId": 1160452,
         "occurredAt": now_ms + 3, "subscriptionType": "deal.propertyChange", "attemptNumber": 0,
         "objectId": 77001, "propertyName": "dealstage", "propertyValue": "closedwon", "changeSource": "CRM_UI"},
    ]  # fmt: skip
    body = orjson.dumps(batch)
    uri = "http://testserver/v1/webhooks/crm/hubspot"
    r = post(hooks, "hubspot", body, hubspot_headers("POST", uri, body, now_ms))
    # the deal 77001 was not created by leadgate: that event is dead-lettered, the rest applied
    assert r.status_code == 202, r.text
    statuses = [(x["event_id"], x["status"], x.get("outcome")) for x in r.json()["results"]]
    assert statuses == [
        ("3125710001", "recorded", "opportunity_created"),
        ("3125710002", "ignored", None),
        ("3125710003", "dead", "won"),
    ]
    with hooks.engine.connect() as conn:
        outcomes = conn.execute(select(OutcomeRow.lead_id, OutcomeRow.outcome, OutcomeRow.decision_id)).all()
    assert outcomes == [("web-6001", "opportunity_created", decision.decision_id)]
    # HubSpot retries the whole batch: nothing new
    again = post(hooks, "hubspot", body, hubspot_headers("POST", uri, body, now_ms))
    assert [x["status"] for x in again.json()["results"]] == ["duplicate"] * 3
    assert count(hooks, OutcomeRow) == 1 and count(hooks, DeadLetterRow) == 1


def test_hubspot_signature_time_and_body_are_checked(hooks: Api) -> None:
    decision = decide(hooks, "web-6002")
    delivered_to_hubspot(hooks, decision, "crm_upsert", "90300")
    uri = "http://testserver/v1/webhooks/crm/hubspot"
    now_ms = int(time.time() * 1000)
    event = {"eventId": 88, "occurredAt": now_ms, "subscriptionType": "deal.creation", "objectId": 90300}
    body = orjson.dumps([event])
    old = now_ms - 6 * 60_000
    r = post(hooks, "hubspot", body, hubspot_headers("POST", uri, body, old))
    assert r.status_code == 401 and "5 minutes" in r.json()["detail"]
    forged = body.replace(b"90300", b"90301")
    assert post(hooks, "hubspot", forged, hubspot_headers("POST", uri, body, now_ms)).status_code == 401
    wrong_uri = hubspot_headers("POST", "https://evil.example/v1/webhooks/crm/hubspot", body, now_ms)
    assert post(hooks, "hubspot", body, wrong_uri).status_code == 401
    bad = orjson.dumps([{"eventId": 89, "subscriptionType": "deal.creation"}])
    r = post(hooks, "hubspot", bad, hubspot_headers("POST", uri, bad, now_ms))
    assert r.status_code == 422 and {e["path"] for e in r.json()["errors"]} == {
        "[0].objectId",
        "[0].occurredAt",
    }
    ok = post(hooks, "hubspot", body, hubspot_headers("POST", uri, body, now_ms))
    assert ok.status_code == 200 and ok.json()["status"] == "recorded"


def test_the_same_event_from_four_threads_is_stored_once(hooks: Api) -> None:
    """Two deliveries of one event racing (a CRM retry crossing the first): one outcome, one work event."""
    from concurrent.futures import ThreadPoolExecutor

    from leadgate.ingest.crm_events import parse_standard
    from leadgate.ingest.crm_outcomes import record_events

    decision = decide(hooks, "web-7001")
    now = datetime.now(UTC)
    body = orjson.dumps(
        {"type": "opportunity.created", "lead_id": "web-7001", "occurred_at": now.isoformat()}
    )
    event = parse_standard("msg_race", body, now)
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda _: record_events(hooks.engine, "pipedrive", [event], body, now)[0], range(4))
        )
    assert sorted(r.status for r in results) == ["duplicate", "duplicate", "duplicate", "recorded"]
    assert {r.decision_id for r in results if r.status == "recorded"} == {decision.decision_id}
    assert count(hooks, OutcomeRow) == 1
    with hooks.engine.connect() as conn:
        assert sum(e["kind"] == "outcome" for e in iter_events(conn)) == 1
