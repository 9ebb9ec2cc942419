"""The nurture trigger: a signed webhook to a marketing-automation endpoint, delivered through the outbox.

Destination ``nurture`` (kind ``nurture``). The body holds the lead id, decision id, tier, action,
probability and reasons (no personal data: the receiving system already knows the contact, or looks it up
by lead id), sent as a Standard Webhooks message (https://www.standardwebhooks.com/): headers
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 over
``id.timestamp.body``, signed with the ``standardwebhooks`` library). The ``webhook-id`` is the action's
idempotency key, the same on every retry: the specification asks receivers to deduplicate on it, which
makes the trigger effectively exactly-once at a conforming receiver.

Consent (``email_marketing``, opt-in) is checked by the dispatcher through ``leadgate.actions.gate`` right
before ``deliver``. ``leadgate.actions.nurture.NurtureWebhook`` is the older direct-send API, now a thin
wrapper over ``SignedPoster``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field
from standardwebhooks import Webhook

from leadgate.actions.ports import Delivered, Delivery, DestinationContext
from leadgate.adapters.http import post
from leadgate.contracts.action import ActionKind
from leadgate.errors import LeadgateError


class NurtureConfigError(LeadgateError, ValueError):
    """The nurture destination's secret is missing or not a Standard Webhooks secret."""


class NurtureConfig(BaseModel):
    """Configuration of the ``nurture`` destination.

    Attributes:
        url: the marketing-automation endpoint.
        secret_env: name of the environment variable holding the signing secret (``whsec_<base64>``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str = Field(pattern=r"^https?://")
    secret_env: str = Field(pattern=r"^[A-Z_][A-Z0-9_]*$")


def nurture_body(lead_id: str, decision_id: str | None, facts: Mapping[str, Any]) -> dict[str, Any]:
    """The webhook body: ``type``, lead and decision ids, tier, action, probability (0-1), reasons, policy."""
    return {
        "type": "lead.nurture",
        "lead_id": lead_id,
        "decision_id": decision_id,
        "tier": facts.get("tier"),
        "action": facts.get("action", "nurture"),
        "probability": facts.get("probability"),
        "reasons": list(facts.get("reasons") or []),
        "policy_version": facts.get("policy_version"),
    }


class SignedPoster:
    """Posts Standard Webhooks messages to ``url`` signed with ``secret``.

    Args:
        url: the endpoint.
        secret: ``whsec_<base64>`` (or bare base64), as the ``standardwebhooks`` library takes it.
        client: the HTTP client to use.

    Raises:
        NurtureConfigError: the secret is not valid base64.
    """

    def __init__(self, url: str, secret: str, client: httpx.Client) -> None:
        try:
            self.webhook = Webhook(secret)
        except Exception as exc:  # the library raises binascii.Error / ValueError on a bad secret
            raise NurtureConfigError(f"nurture: the signing secret is not whsec_<base64>: {exc}") from exc
        self.url = url
        self.client = client

    def send(self, message_id: str, body: Mapping[str, Any], now: datetime) -> httpx.Response:
        """Sign and post ``body`` as message ``message_id`` at ``now``.

        Raises:
            RetryableDeliveryError: 408/425/429/5xx (``retry_after`` from ``Retry-After``), unreachable.
            PermanentDeliveryError: any other 4xx.
        """
        text = orjson.dumps(body).decode()
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self.webhook.sign(message_id, now, text),
        }
        return post(self.client, self.url, "nurture", content=text, headers=headers)


class NurtureWebhook:
    """Destination ``nurture``: the signed nurture trigger.

    Args:
        config: validated ``NurtureWebhook.Config``.
        context: the worker's context (timeout).

    Raises:
        NurtureConfigError: the secret variable is not set or not a Standard Webhooks secret.
    """

    name: ClassVar[str] = "nurture"
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({"nurture"})
    Config: ClassVar[type[BaseModel]] = NurtureConfig

    def __init__(self, config: NurtureConfig, context: DestinationContext) -> None:
        secret = os.environ.get(config.secret_env)
        if not secret:
            raise NurtureConfigError(f"nurture: the environment variable {config.secret_env} is not set")
        self.client = httpx.Client(timeout=context.timeout)
        self.poster = SignedPoster(config.url, secret, self.client)

    def deliver(self, delivery: Delivery) -> Delivered:
        """Post the trigger (``webhook-id`` = the idempotency key, so a retry is the same message).

        Raises:
            RetryableDeliveryError: 408/425/429/5xx or unreachable.
            PermanentDeliveryError: any other 4xx.
        """
        action = delivery.action
        facts = {**action.payload, **(delivery.decision or {})}
        body = nurture_body(action.lead_id, action.decision_id, facts)
        response = self.poster.send(action.idempotency_key, body, datetime.now(UTC))
        return Delivered(external_id=action.idempotency_key, detail={"status": response.status_code})

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()
