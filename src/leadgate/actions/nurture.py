"""The direct nurture send (older API), now a thin wrapper over the ``nurture`` destination.

``NurtureWebhook(url, secret).send(engine, decision)`` asks the consent gate (``leadgate.actions.gate``,
purpose ``email_marketing``: opt-in) and, only when it allows, posts the signed trigger with
``leadgate.adapters.nurture.SignedPoster`` (Standard Webhooks; body ``nurture_payload``). The message id is
``nurture-<decision_id>``, so a resend is recognisably the same message.

Decisions made by the pipeline reach the endpoint through the outbox instead (action kind ``nurture``,
destination ``nurture``: ``leadgate.adapters.nurture.NurtureWebhook``), with retries and idempotent
delivery; this wrapper stays for one-off sends and its existing callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import Engine

from leadgate.actions.gate import check
from leadgate.adapters.nurture import SignedPoster, nurture_body
from leadgate.contracts.action import Action
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
    facts = {
        "tier": decision.tier,
        "action": decision.action,
        "probability": decision.score.probability,
        "reasons": list(decision.reasons),
        "policy_version": decision.policy_version,
    }
    return nurture_body(decision.lead_id, decision.decision_id, facts)


class NurtureWebhook:
    """Posts nurture triggers to ``url``, signed with ``secret`` (``whsec_<base64>``, Standard Webhooks).

    Args:
        url: the marketing-automation endpoint.
        secret: the shared signing secret.
        client: the HTTP client (default: a new ``httpx.Client`` with a 10 s timeout).
    """

    def __init__(self, url: str, secret: str, client: httpx.Client | None = None):
        self.url = url
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=10.0)
        self._poster = SignedPoster(url, secret, self._client)

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
            RetryableDeliveryError: the endpoint answered 408/425/429/5xx or could not be reached.
            PermanentDeliveryError: the endpoint answered another 4xx.
        """
        from leadgate.db.store import utcnow

        now = now or utcnow()
        message_id = f"nurture-{decision.decision_id}"
        action = Action(
            action_id=message_id,
            kind="nurture",
            destination="nurture",
            lead_id=decision.lead_id,
            decision_id=decision.decision_id,
            idempotency_key=message_id,
            created_at=now,
        )
        with engine.connect() as conn:
            gate = check(conn, action, now=now)
        if not gate.allowed:
            return NurtureResult(False, gate.reason, message_id)
        response = self._poster.send(message_id, nurture_payload(decision), now)
        return NurtureResult(True, gate.reason, message_id, response.status_code)
