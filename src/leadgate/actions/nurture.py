"""The nurture trigger: a signed webhook to a marketing-automation endpoint, sent only with consent.

For a decision whose action is ``nurture``, ``NurtureWebhook.send`` asks the consent gate
(``leadgate.actions.gate``, purpose ``email_marketing``: opt-in), and only when it allows posts the lead id,
decision id, tier, probability and reasons (no personal data: the receiving system already knows the
contact, or looks it up by lead id) as a Standard Webhooks message: headers ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 over
``id.timestamp.body``, https://www.standardwebhooks.com/, signed with the ``standardwebhooks`` library).
The ``webhook-id`` is derived from the decision id, so a resend is recognisably the same message.

Sending is direct here; queueing with retries and idempotent delivery is the outbox's job (issue 9).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx
import orjson
from sqlalchemy import Engine
from standardwebhooks import Webhook

from leadgate.actions.gate import check
from leadgate.contracts.decision import Decision


@dataclass(frozen=True)
class NurtureResult:
    """What happened: ``sent`` with the endpoint's HTTP ``status``, or not, with the gate's ``reason``."""

    sent: bool
    reason: str
    message_id: str
    status: int | None = None


def nurture_payload(decision: Decision) -> dict[str, object]:
    """The webhook body: ``type``, lead and decision ids, tier, action, probability (0-1), reasons, policy."""
    return {
        "type": "lead.nurture",
        "lead_id": decision.lead_id,
        "decision_id": decision.decision_id,
        "tier": decision.tier,
        "action": decision.action,
        "probability": decision.score.probability,
        "reasons": list(decision.reasons),
        "policy_version": decision.policy_version,
    }


class NurtureWebhook:
    """Posts nurture triggers to ``url``, signed with ``secret`` (``whsec_<base64>``, Standard Webhooks).

    Args:
        url: the marketing-automation endpoint.
        secret: the shared signing secret.
        client: the HTTP client (default: a new ``httpx.Client`` with a 10 s timeout).
    """

    def __init__(self, url: str, secret: str, client: httpx.Client | None = None):
        self.url = url
        self._webhook = Webhook(secret)
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=10.0)

    def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._own_client:
            self._client.close()

    def __enter__(self) -> NurtureWebhook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, engine: Engine, decision: Decision, now: datetime | None = None) -> NurtureResult:
        """Send the trigger for ``decision`` if the lead's consent allows it.

        Returns:
            ``NurtureResult``: not sent (with the reason) when the gate refuses; else sent, with the status.

        Raises:
            httpx.HTTPStatusError: the endpoint answered 4xx or 5xx (nothing is retried here).
            httpx.TransportError: the endpoint could not be reached.
            ConsentError: the lead is not stored.
        """
        from leadgate.db.store import utcnow

        now = now or utcnow()
        message_id = f"nurture-{decision.decision_id}"
        with engine.connect() as conn:
            permit = check(conn, decision.lead_id, "nurture", now)
        if not permit.allowed:
            return NurtureResult(False, permit.reason, message_id)
        body = orjson.dumps(nurture_payload(decision)).decode()
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._webhook.sign(message_id, now, body),
        }
        response = self._client.post(self.url, content=body, headers=headers)
        response.raise_for_status()
        return NurtureResult(True, permit.reason, message_id, response.status_code)
