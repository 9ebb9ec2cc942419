"""``NurtureWebhook`` (destination ``nurture``) against a local receiver that verifies Standard Webhooks
signatures with the ``standardwebhooks`` library, and the consent gate at send time (SQLite, PostgreSQL)."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator

import orjson
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine
from standardwebhooks import Webhook
from tests.adapters.notify_support import (
    DECISION,
    LEAD,
    HookServer,
    free_port,
    notify_action,
    record,
    store_lead,
)

from leadgate.actions.gate import GateResult, check
from leadgate.actions.ports import (
    Delivery,
    DestinationContext,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from leadgate.adapters.nurture import NurtureConfig, NurtureConfigError, NurtureWebhook
from leadgate.config import Settings
from leadgate.contracts.action import Action

SECRET = "whsec_" + base64.b64encode(b"acme-marketing-automation-secret").decode()
JSON = {"content-type": "application/json"}


@pytest.fixture
def receiver() -> Iterator[HookServer]:
    server = HookServer(default=(202, JSON, b'{"accepted":true}'))
    yield server
    server.stop()


@pytest.fixture
def nurture(receiver: HookServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[NurtureWebhook]:
    monkeypatch.setenv("ACME_NURTURE_SECRET", SECRET)
    config = NurtureConfig(url=f"{receiver.base}/hooks/leadgate", secret_env="ACME_NURTURE_SECRET")
    adapter = NurtureWebhook(config, DestinationContext(engine=None, settings=Settings(), timeout=5.0))
    yield adapter
    adapter.close()


def nurture_action(lead_id: str = "form-7731", key: str = "nurture-form-7731-dec-5f2c9a") -> Action:
    return Action(
        action_id="act-n-1",
        kind="nurture",
        destination="nurture",
        lead_id=lead_id,
        decision_id=DECISION["decision_id"],
        idempotency_key=key,
        payload={"tier": "warm", "reasons": DECISION["reasons"][:2]},
        created_at=dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC),
    )


def test_signed_trigger_with_tier_and_reasons_and_a_stable_id(
    nurture: NurtureWebhook, receiver: HookServer
) -> None:
    action = nurture_action()
    decision = {**DECISION, "tier": "warm", "action": "nurture"}
    nurture.deliver(Delivery(action=action, lead=LEAD, decision=decision))
    nurture.deliver(Delivery(action=action, lead=LEAD, decision=decision, attempt=2))
    assert len(receiver.requests) == 2
    verifier = Webhook(SECRET)
    ids = set()
    for _path, headers, body in receiver.requests:
        payload = verifier.verify(body, headers)  # raises on a bad signature or stale timestamp
        ids.add(headers["webhook-id"])
        assert payload["tier"] == "warm" and payload["reasons"] == DECISION["reasons"]
        assert payload["lead_id"] == "form-7731" and payload["probability"] == pytest.approx(0.8734)
        assert LEAD["email"] not in body.decode() and "Okafor" not in body.decode()
    # the receiver deduplicates on webhook-id (Standard Webhooks): both attempts carry the same one
    assert ids == {action.idempotency_key}


def test_a_tampered_body_does_not_verify(nurture: NurtureWebhook, receiver: HookServer) -> None:
    nurture.deliver(Delivery(action=nurture_action()))
    _path, headers, body = receiver.requests[0]
    forged = body.replace(b'"tier":"warm"', b'"tier":"hot"')
    with pytest.raises(Exception, match="signature"):
        Webhook(SECRET).verify(forged, headers)


def test_statuses_are_classified(nurture: NurtureWebhook, receiver: HookServer) -> None:
    receiver.script += [
        (429, {**JSON, "Retry-After": "12"}, b'{"error":"rate limited"}'),
        (500, JSON, b'{"error":"internal"}'),
        (422, JSON, b'{"error":"unknown list"}'),
    ]
    with pytest.raises(RetryableDeliveryError) as limited:
        nurture.deliver(Delivery(action=nurture_action()))
    assert (limited.value.status, limited.value.retry_after) == (429, 12.0)
    with pytest.raises(RetryableDeliveryError) as failed:
        nurture.deliver(Delivery(action=nurture_action()))
    assert failed.value.status == 500
    with pytest.raises(PermanentDeliveryError, match="unknown list") as refused:
        nurture.deliver(Delivery(action=nurture_action()))
    assert refused.value.status == 422


def test_bad_config_and_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    context = DestinationContext(engine=None, settings=Settings(), timeout=2.0)
    with pytest.raises(ValidationError, match="secret"):
        NurtureConfig.model_validate({"url": "https://ma.example/hook", "secret": SECRET})
    monkeypatch.delenv("NO_SUCH_NURTURE_SECRET", raising=False)
    with pytest.raises(NurtureConfigError, match="NO_SUCH_NURTURE_SECRET"):
        NurtureWebhook(
            NurtureConfig(url="https://ma.example/h", secret_env="NO_SUCH_NURTURE_SECRET"), context
        )
    monkeypatch.setenv("BAD_NURTURE_SECRET", "whsec_***not base64***")
    with pytest.raises(NurtureConfigError, match="whsec_"):
        NurtureWebhook(NurtureConfig(url="https://ma.example/h", secret_env="BAD_NURTURE_SECRET"), context)
    monkeypatch.setenv("ACME_NURTURE_SECRET", SECRET)
    down = NurtureWebhook(
        NurtureConfig(url=f"http://127.0.0.1:{free_port()}/h", secret_env="ACME_NURTURE_SECRET"), context
    )
    with pytest.raises(RetryableDeliveryError, match="ConnectError"):
        down.deliver(Delivery(action=nurture_action()))
    down.close()


def test_gate_at_send_time_follows_consent_withdrawn_after_planning(engine: Engine) -> None:
    planned_at = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
    store_lead(engine, "form-7731")
    record(engine, "form-7731", "email_marketing", True, planned_at - dt.timedelta(days=2))
    action = nurture_action()
    with engine.connect() as conn:
        at_planning = check(conn, action, now=planned_at)
    assert isinstance(at_planning, GateResult) and at_planning.allowed
    assert at_planning.purpose == "email_marketing"
    # the person unsubscribes a minute later, before the worker picks the action up
    record(engine, "form-7731", "email_marketing", False, planned_at + dt.timedelta(minutes=1))
    with engine.connect() as conn:
        at_send = check(conn, action, now=planned_at + dt.timedelta(minutes=2))
        # a rep notification about the same lead contacts no lead: it still goes
        rep_note = check(conn, notify_action(), now=planned_at + dt.timedelta(minutes=2))
    assert not at_send.allowed and "withdrew consent to email_marketing" in at_send.reason
    assert rep_note.allowed and rep_note.purpose is None


def test_gate_do_not_contact_and_erased_leads(engine: Engine) -> None:
    now = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
    store_lead(engine, "form-8800", do_not_email=True)
    store_lead(engine, "form-8801")
    with engine.connect() as conn:
        blocked = check(conn, nurture_action("form-8800"), now=now)
        never_opted_in = check(conn, nurture_action("form-8801"), now=now)
        gone = check(conn, nurture_action("form-0000"), now=now)
        # the older form still answers a Permit
        assert not check(conn, "form-8800", "sales_email", now).allowed
        assert check(conn, "form-8801", "sales_email", now).allowed
    assert not blocked.allowed and "objected" in blocked.reason
    assert not never_opted_in.allowed and "no consent to email_marketing" in never_opted_in.reason
    assert not gone.allowed and "form-0000" in gone.reason
    payload = orjson.dumps(nurture_action().payload).decode()
    assert "@" not in payload  # the planned payload carries no contact data
