"""``SlackWebhook`` against a local HTTP server that answers as Slack's incoming webhooks do
(https://api.slack.com/messaging/webhooks#handling_errors): ``200 ok``, ``400 invalid_payload``,
``403 action_prohibited``, ``404 no_service``, ``410 channel_is_archived``, ``429`` with ``Retry-After``, 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine
from tests.adapters.notify_support import ANNA, DECISION, LEAD, HookServer, notify_action

from leadgate.actions.ports import (
    Delivery,
    DestinationContext,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from leadgate.adapters.email import EmailConfigError
from leadgate.adapters.slack import SlackConfig, SlackWebhook
from leadgate.config import Settings

TEXT = {"content-type": "text/html"}


@pytest.fixture
def hooks() -> Iterator[HookServer]:
    server = HookServer()
    yield server
    server.stop()


def slack(engine: Engine | None, **extra: Any) -> SlackWebhook:
    config = SlackConfig.model_validate({"base_url": "https://leadgate.acme-sales.example", **extra})
    return SlackWebhook(config, DestinationContext(engine=engine, settings=Settings(), timeout=5.0))


def rep_delivery(
    hooks: HookServer, kind: str = "notify_rep", key: str = "slack-k1", **payload: Any
) -> Delivery:
    rep = {**ANNA, "slack_webhook": f"{hooks.base}/services/T0ACME/B0ANNA/xyz"}
    action = notify_action(kind, key=key, **payload)
    return Delivery(action=action, lead=LEAD, decision=DECISION, rep=rep)


def test_the_rep_gets_one_block_kit_message(hooks: HookServer, engine: Engine) -> None:
    adapter = slack(engine)
    try:
        first = adapter.deliver(rep_delivery(hooks))
        again = adapter.deliver(rep_delivery(hooks))  # a retry after a crash: no second post
    finally:
        adapter.close()
    assert len(hooks.requests) == 1
    path, headers, body = hooks.requests[0]
    assert path == "/services/T0ACME/B0ANNA/xyz"
    assert headers["content-type"] == "application/json"
    message = orjson.loads(body)
    assert message["text"] == "New hot lead for you: BrightPath Freight"
    section = message["blocks"][0]
    assert [f["text"].split("\n")[0] for f in section["fields"]] == [
        "*Tier*",
        "*Probability*",
        "*First touch by*",
    ]
    assert "10:05 CET" in section["fields"][2]["text"]
    assert message["blocks"][1]["text"]["text"].count("•") == 3
    assert "<https://leadgate.acme-sales.example/staff/leads/form-7731|Open the lead>" in body.decode()
    assert LEAD["email"] not in body.decode() and LEAD["phone"] not in body.decode()
    assert first.detail == {"status": 200} and again.detail == {"already_sent": True}


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, b"invalid_payload"),
        (403, b"action_prohibited"),
        (404, b"no_service"),
        (410, b"channel_is_archived"),
    ],
)
def test_slack_errors_are_permanent_and_named(hooks: HookServer, status: int, body: bytes) -> None:
    hooks.script.append((status, TEXT, body))
    adapter = slack(None)
    with pytest.raises(PermanentDeliveryError, match=body.decode()) as raised:
        adapter.deliver(rep_delivery(hooks))
    adapter.close()
    assert raised.value.status == status


def test_rate_limit_and_server_errors_are_retryable_then_delivered(hooks: HookServer, engine: Engine) -> None:
    hooks.script += [
        (429, {**TEXT, "Retry-After": "30"}, b"rate_limited"),
        (503, TEXT, b"service unavailable"),
    ]
    adapter = slack(engine)
    with pytest.raises(RetryableDeliveryError) as limited:
        adapter.deliver(rep_delivery(hooks))
    assert (limited.value.status, limited.value.retry_after) == (429, 30.0)
    with pytest.raises(RetryableDeliveryError) as down:
        adapter.deliver(rep_delivery(hooks))
    assert (down.value.status, down.value.retry_after) == (503, None)
    assert adapter.deliver(rep_delivery(hooks)).detail == {"status": 200}
    adapter.close()
    assert len(hooks.requests) == 3


def test_the_channel_url_is_used_for_a_rep_without_a_webhook(
    hooks: HookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_SLACK_SALES_URL", f"{hooks.base}/services/T0ACME/B0SALES/abc")
    adapter = slack(None, webhook_url_env="ACME_SLACK_SALES_URL")
    # Anna has no slack_webhook in the shipped reps.yaml: the channel gets it
    adapter.deliver(Delivery(action=notify_action(), lead=LEAD, decision=DECISION, rep=ANNA))
    # the manager (Sofia) is told on escalation, in the same channel
    adapter.deliver(
        Delivery(
            action=notify_action("notify_manager", key="esc-2", reason="SLA of 5 minutes missed"), rep=ANNA
        )
    )
    adapter.close()
    assert [r[0] for r in hooks.requests] == ["/services/T0ACME/B0SALES/abc"] * 2
    escalation = orjson.loads(hooks.requests[1][2])
    assert (
        escalation["text"]
        == "SLA missed: hot lead lead form-7731 assigned to Anna Becker (SLA of 5 minutes missed)"
    )


def test_unreachable_is_retryable_and_bad_config_is_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.adapters.notify_support import free_port

    adapter = slack(None)
    rep = {**ANNA, "slack_webhook": f"http://127.0.0.1:{free_port()}/services/x"}
    with pytest.raises(RetryableDeliveryError, match="ConnectError"):
        adapter.deliver(Delivery(action=notify_action(), rep=rep))
    adapter.close()
    with pytest.raises(ValidationError, match="webhook_url"):
        SlackConfig.model_validate(
            {"base_url": "https://x.example", "webhook_url": "https://hooks.slack.com/x"}
        )
    monkeypatch.delenv("NOT_SET_SLACK_URL", raising=False)
    with pytest.raises(EmailConfigError, match="NOT_SET_SLACK_URL"):
        slack(None, webhook_url_env="NOT_SET_SLACK_URL")
    no_url = slack(None)
    with pytest.raises(PermanentDeliveryError, match="no slack_webhook"):
        no_url.deliver(Delivery(action=notify_action(), rep=ANNA))
    no_url.close()
