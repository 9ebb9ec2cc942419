"""The signed webhook against a Standard Webhooks receiver that verifies with the library."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from tests.adapters.contract import sample_delivery
from tests.adapters.webhook_receiver import WebhookReceiver

from leadgate.actions.ports import DestinationContext, PermanentDeliveryError, RetryableDeliveryError
from leadgate.adapters import build_destination
from leadgate.adapters.webhook import SignedWebhook

CONTEXT = DestinationContext(engine=None, settings=None, timeout=5.0)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    secret = new_secret()
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", secret)
    server = WebhookReceiver(secret)
    yield server
    server.stop()


@pytest.fixture
def make(receiver: WebhookReceiver) -> Iterator[Callable[..., SignedWebhook]]:
    built: list[SignedWebhook] = []

    def build(**extra: object) -> SignedWebhook:
        config = {"url": f"{receiver.url}/hooks/leadgate", "secret_env": "TEST_WEBHOOK_SECRET", **extra}
        dest = build_destination(SignedWebhook, config, CONTEXT)
        assert isinstance(dest, SignedWebhook)
        built.append(dest)
        return dest

    yield build
    for dest in built:
        dest.close()


def test_body_is_signed_ids_the_action_and_carries_no_personal_data(
    make: Callable[..., SignedWebhook], receiver: WebhookReceiver
) -> None:
    delivery = sample_delivery("nurture", 4, "webhook")
    done = make().deliver(delivery)
    request = receiver.requests[-1]
    assert request.headers["webhook-id"] == delivery.action.idempotency_key == done.external_id
    assert request.headers["webhook-signature"].startswith("v1,")
    event = receiver.events[delivery.action.idempotency_key]
    assert event["type"] == "leadgate.nurture"
    assert event["data"]["action"]["payload"]["tier"] == "hot"
    assert event["data"]["lead"] == {"lead_id": "web:2026-12-02:000004"}
    assert b"anna.keller" not in request.body and b"Keller" not in request.body
    assert (request.method, request.path) == ("POST", "/hooks/leadgate")


def test_posts_to_the_configured_url_exactly(
    make: Callable[..., SignedWebhook], receiver: WebhookReceiver
) -> None:
    make(url=f"{receiver.url}/hooks/leadgate?source=leadgate&v=2").deliver(
        sample_delivery("crm_task", 2, "webhook")
    )
    assert receiver.requests[-1].path == "/hooks/leadgate?source=leadgate&v=2"


def test_include_lead_sends_the_lead_fields(
    make: Callable[..., SignedWebhook], receiver: WebhookReceiver
) -> None:
    delivery = sample_delivery("crm_upsert", 4, "webhook")
    make(include_lead=True).deliver(delivery)
    lead = receiver.events[delivery.action.idempotency_key]["data"]["lead"]
    assert (
        lead["email"] == "anna.keller@brightpath-learning.de"
        and lead["company"] == "BrightPath Learning GmbH"
    )


def test_wrong_secret_is_rejected_by_the_receiver_and_permanent(
    make: Callable[..., SignedWebhook], receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", new_secret())  # rotated on one side only
    with pytest.raises(PermanentDeliveryError) as info:
        make().deliver(sample_delivery("crm_task", 2, "webhook"))
    assert info.value.status == 401 and receiver.rejected == 1 and not receiver.events


def test_gone_is_permanent(make: Callable[..., SignedWebhook], receiver: WebhookReceiver) -> None:
    receiver.fail_next(410)
    with pytest.raises(PermanentDeliveryError) as info:
        make().deliver(sample_delivery("crm_task", 2, "webhook"))
    assert info.value.status == 410


def test_retry_after_as_http_date(make: Callable[..., SignedWebhook], receiver: WebhookReceiver) -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    receiver.fail_next(503, retry_after=format_datetime(when, usegmt=True))
    with pytest.raises(RetryableDeliveryError) as info:
        make().deliver(sample_delivery("crm_task", 2, "webhook"))
    assert info.value.status == 503
    assert info.value.retry_after is not None and 115 <= info.value.retry_after <= 120
