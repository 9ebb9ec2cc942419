"""Consent (issue 8, item 6): recorded with purpose, source, wording version and time, and honoured by the
outgoing actions: a nurture webhook is not sent without consent, and is sent (signed) with it.

The nurture endpoint is a real HTTP server on loopback that checks each message's Standard Webhooks
signature with the `standardwebhooks` library, as a marketing-automation receiver would.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from tests.api.conftest import Api, bearer, create_test_key
from typer.testing import CliRunner

from leadgate.actions.gate import ACTION_PURPOSES, check
from leadgate.actions.nurture import NurtureWebhook
from leadgate.audit.access import iter_access
from leadgate.cli import app
from leadgate.contracts.decision import Decision
from leadgate.governance.consent import ConsentStatement, decide

SECRET = "whsec_" + base64.b64encode(b"nurture-test-secret-0123456789ab").decode()

# An X Education-style lead as a web form would post it (pre-decision attributes only).
BASE = {
    "source": "api",
    "email": "maria.lopez@northwind-logistics.example",
    "first_name": "María",
    "last_name": "López",
    "attributes": {
        "lead_origin": "Landing Page Submission",
        "lead_source": "Google",
        "total_visits": 5,
        "total_time_spent_on_website": 1240,
        "page_views_per_visit": 2.5,
        "last_activity": "Email Opened",
    },
}


def lead(lead_id: str, **attributes: Any) -> dict[str, Any]:
    return {**BASE, "lead_id": lead_id, "attributes": {**BASE["attributes"], **attributes}}


class Receiver:
    """A loopback HTTP server that verifies Standard Webhooks signatures and keeps what it accepted."""

    def __init__(self) -> None:
        from standardwebhooks import Webhook

        self.accepted: list[dict[str, Any]] = []
        self.rejected = 0
        receiver = self
        verifier = Webhook(SECRET)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                try:
                    payload = verifier.verify(body, {k.lower(): v for k, v in self.headers.items()})
                except Exception:
                    receiver.rejected += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                receiver.accepted.append({"id": self.headers["webhook-id"], **payload})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/leadgate"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def post_lead(api: Api, body: dict[str, Any]) -> Decision:
    r = api.client.post("/v1/leads", json=body)
    assert r.status_code == 200, r.text
    return Decision.model_validate(r.json())


@pytest.fixture
def webhook(receiver: Receiver) -> Iterator[NurtureWebhook]:
    with NurtureWebhook(receiver.url, SECRET) as hook:
        yield hook


def test_nurture_is_sent_only_with_consent(api: Api, receiver: Receiver, webhook: NurtureWebhook) -> None:
    no_consent = post_lead(api, lead("form-1001"))
    opted_in = post_lead(
        api, lead("form-1002", consent_email_marketing=True, consent_wording_version="newsletter-box-2026-01")
    )
    objected = post_lead(api, lead("form-1003", do_not_email=True))
    refused = post_lead(api, lead("form-1004", consent_email_marketing=False))

    results = {d.lead_id: webhook.send(api.engine, d) for d in (no_consent, opted_in, objected, refused)}

    assert [lid for lid, r in results.items() if r.sent] == ["form-1002"]
    assert "no consent to email_marketing" in results["form-1001"].reason
    assert "objected" in results["form-1003"].reason
    assert "withdrew" not in results["form-1004"].reason and not results["form-1004"].sent
    assert receiver.rejected == 0
    assert [m["lead_id"] for m in receiver.accepted] == ["form-1002"]
    message = receiver.accepted[0]
    assert message["id"] == f"nurture-{opted_in.decision_id}"
    assert message["tier"] == opted_in.tier and message["reasons"] == list(opted_in.reasons)
    # no personal data leaves in the trigger
    assert "maria" not in orjson.dumps(message).decode().lower()


def test_withdrawn_consent_stops_nurture(
    api: Api, receiver: Receiver, webhook: NurtureWebhook, db_url: str
) -> None:
    decision = post_lead(api, lead("form-2001"))
    integration = create_test_key(api.engine, role="integration", name="web-forms")
    given = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    r = api.client.post(
        "/v1/leads/form-2001/consents",
        json={
            "consents": [
                {
                    "purpose": "email_marketing",
                    "granted": True,
                    "source": "form",
                    "wording_version": "signup-form-v3",
                    "given_at": given,
                    "evidence": {"form_submission_id": "sub-88412"},
                }
            ]
        },
        headers=bearer(integration),
    )
    assert r.status_code == 201, r.text
    state = {p["purpose"]: p for p in r.json()["in_force"]}
    assert state["email_marketing"]["allowed"] is True
    assert webhook.send(api.engine, decision).sent

    # the person unsubscribes; the CLI records it (a rep took the call)
    out = CliRunner().invoke(
        app,
        [
            "consent",
            "record",
            "form-2001",
            "--purpose",
            "email_marketing",
            "--withdrawn",
            "--database-url",
            db_url,
        ],
    )
    assert out.exit_code == 0, out.output
    assert "NOT allowed" in out.output
    second = webhook.send(api.engine, decision)
    assert not second.sent and "withdrew consent to email_marketing" in second.reason
    assert len(receiver.accepted) == 1

    shown = api.client.get("/v1/leads/form-2001/consents").json()
    assert [(s["source"], s["granted"]) for s in shown["statements"]] == [("form", True), ("cli", False)]
    assert shown["statements"][0]["wording_version"] == "signup-form-v3"
    assert shown["statements"][0]["evidence"] == {"form_submission_id": "sub-88412"}
    with api.engine.connect() as conn:
        events = [e for e in iter_access(conn, action="consent_change") if "form-2001" in e["object_ids"]]
    assert [e["actor"].split(":")[0] for e in events] == ["key", "cli"]
    assert events[0]["route"] == "/v1/leads/{lead_id}/consents"


def test_a_later_opt_in_overrides_an_old_objection_and_sales_calls_follow_do_not_call(api: Api) -> None:
    post_lead(api, lead("crm-3001", do_not_email=True, do_not_call=False))
    r = api.client.post(
        "/v1/leads/crm-3001/consents",
        json={
            "consents": [
                {
                    "purpose": "email_marketing",
                    "granted": True,
                    "source": "crm",
                    "wording_version": "pref-centre-2",
                }
            ]
        },
    )
    assert r.status_code == 201, r.text
    with api.engine.connect() as conn:
        assert check(conn, "crm-3001", "nurture").allowed
        # the objection to a rep's e-mail from the import still stands; calls were never objected to
        assert not check(conn, "crm-3001", "sales_email").allowed
        assert check(conn, "crm-3001", "call_task").allowed
        assert check(conn, "crm-3001", "rep_notification").allowed
    post_lead(api, lead("crm-3002", do_not_call=True))
    with api.engine.connect() as conn:
        assert not check(conn, "crm-3002", "call_task").allowed
        assert check(conn, "crm-3002", "sales_email").allowed


def test_bad_consent_is_refused_with_a_clear_error(api: Api) -> None:
    post_lead(api, lead("form-4001"))
    cases = [
        ({"purpose": "email_marketing", "granted": True, "source": "form"}, 422, "wording_version"),
        ({"purpose": "telepathy", "granted": True, "source": "form", "wording_version": "x"}, 422, "purpose"),
        ({"purpose": "email_sales", "granted": False, "source": "carrier-pigeon"}, 422, "source"),
        (
            {
                "purpose": "email_sales",
                "granted": False,
                "source": "form",
                "given_at": "2999-01-01T00:00:00Z",
            },
            422,
            "future",
        ),
        (
            {"purpose": "email_sales", "granted": False, "source": "form", "given_at": "2026-01-01T00:00:00"},
            422,
            "zone",
        ),
    ]
    for body, status, word in cases:
        r = api.client.post("/v1/leads/form-4001/consents", json={"consents": [body]})
        assert r.status_code == status, (body, r.text)
        assert word in r.text, (body, r.text)
    r = api.client.post(
        "/v1/leads/nobody/consents",
        json={"consents": [{"purpose": "email_sales", "granted": False, "source": "form"}]},
    )
    assert r.status_code == 404
    assert api.client.get("/v1/leads/nobody/consents").status_code == 404
    analyst = create_test_key(api.engine, role="analyst", name="bi")
    r = api.client.post(
        "/v1/leads/form-4001/consents",
        json={"consents": [{"purpose": "email_sales", "granted": False, "source": "form"}]},
        headers=bearer(analyst),
    )
    assert r.status_code == 403
    # nothing was stored by the refused calls
    assert api.client.get("/v1/leads/form-4001/consents").json()["statements"] == []


def test_the_rule_newest_wins_and_withdrawal_wins_a_tie() -> None:
    t = datetime(2026, 3, 1, tzinfo=UTC)

    def s(granted: bool, at: datetime, origin: str = "consents") -> ConsentStatement:
        return ConsentStatement("l", "email_marketing", granted, "form", "v1", at, origin)

    assert not decide([], "email_marketing").allowed  # opt-in
    assert decide([], "email_sales").allowed  # opt-out
    assert decide([s(False, t), s(True, t + timedelta(days=1))], "email_marketing").allowed
    assert not decide([s(True, t), s(False, t)], "email_marketing").allowed
    assert not decide([s(True, t), s(False, t + timedelta(days=1))], "email_marketing").allowed
    # as of a time before the opt-in, it was not allowed
    assert not decide([s(True, t + timedelta(days=1))], "email_marketing", at=t).allowed
    assert set(ACTION_PURPOSES) >= {"nurture", "sales_email", "call_task", "meeting_invite"}
