"""A generic signed webhook (destination ``webhook``): one JSON POST per action, signed with Standard Webhooks.

The request follows the Standard Webhooks specification (https://www.standardwebhooks.com/), signed with
the ``standardwebhooks`` library: headers ``webhook-id`` (the action's idempotency key: the receiver
dedupes on it, so a retry is recognised), ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``
(``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed by the ``whsec_`` secret). The body is::

    {"type": "leadgate.<kind>", "timestamp": "<ISO-8601>",
     "data": {"action": {action_id, kind, lead_id, decision_id, idempotency_key, payload, created_at},
              "decision": {...} | null, "rep": {...} | null, "lead": {...}}}

``lead`` holds the lead's current fields (personal data) only with ``include_lead`` (the receiver is a
system the operator trusts, e.g. their CRM); otherwise ``{"lead_id": ...}``.

Statuses: 2xx delivered; 410 Gone permanent (the receiver asks not to be called again); 429, 408, 5xx
retryable after ``Retry-After``; any other 4xx permanent. Redirects are not followed (permanent).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, get_args

import orjson
from pydantic import BaseModel, ConfigDict, Field, HttpUrl
from standardwebhooks import Webhook

from leadgate.actions.ports import Delivered, Delivery, DestinationContext, PermanentDeliveryError
from leadgate.adapters import DestinationConfigError
from leadgate.adapters.http import make_client, raise_for_status, secret_from_env, send
from leadgate.contracts.action import ActionKind


class SignedWebhook:
    """Destination ``webhook``: POST each action as signed JSON to ``url`` (see the module docstring)."""

    name: ClassVar[str] = "webhook"
    kinds: ClassVar[frozenset[ActionKind]] = frozenset(get_args(ActionKind))

    class Config(BaseModel):
        """Webhook settings.

        Attributes:
            url: the receiver's endpoint (https in production).
            secret_env: environment variable holding the signing secret (``whsec_`` + base64, 24-64 bytes).
            include_lead: send the lead's fields (personal data) in ``data.lead``.
            headers: extra, non-secret request headers.
        """

        model_config = ConfigDict(extra="forbid")
        url: HttpUrl
        secret_env: str = Field(default="LEADGATE_WEBHOOK_SECRET", min_length=1)
        include_lead: bool = False
        headers: dict[str, str] = Field(default_factory=dict)

    def __init__(self, config: Config, context: DestinationContext) -> None:
        self.config = config
        secret = secret_from_env(config.secret_env, "webhook.secret_env")
        try:
            self._signer = Webhook(secret)
        except Exception as exc:  # the library raises bare Exception subclasses on a bad secret
            raise DestinationConfigError(
                f"webhook.secret_env: {config.secret_env} is not a whsec_ base64 secret: {exc}"
            ) from exc
        self._url = str(config.url)  # posted to as is: path and query string kept
        self._client = make_client("", context.timeout, config.headers)

    def deliver(self, delivery: Delivery) -> Delivered:
        """POST the signed action.

        Raises:
            PermanentDeliveryError: an unknown kind, 410, a 3xx or another 4xx.
            RetryableDeliveryError: 408/429/5xx (with ``Retry-After``), timeout, no connection.
        """
        action = delivery.action
        if action.kind not in self.kinds:
            raise PermanentDeliveryError(
                f"webhook: action kind {action.kind!r} is not one of {sorted(self.kinds)}"
            )
        now = datetime.now(UTC)
        body = orjson.dumps(self.body(delivery, now)).decode()
        headers = {
            "content-type": "application/json",
            "webhook-id": action.idempotency_key,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signer.sign(action.idempotency_key, now, body),
        }
        response = send(self._client, "POST", self._url, "webhook", content=body.encode(), headers=headers)
        raise_for_status(response, "webhook")
        return Delivered(external_id=action.idempotency_key, detail={"status": response.status_code})

    def body(self, delivery: Delivery, now: datetime) -> dict[str, Any]:
        """The JSON body sent for ``delivery`` at ``now`` (see the module docstring)."""
        action = delivery.action
        lead: dict[str, Any] = {"lead_id": action.lead_id}
        if self.config.include_lead:
            lead.update({k: v for k, v in delivery.lead.items() if v is not None})
        return {
            "type": f"leadgate.{action.kind}",
            "timestamp": now.isoformat(),
            "data": {
                "action": action.model_dump(mode="json", exclude={"destination", "schema_version"}),
                "decision": dict(delivery.decision) if delivery.decision else None,
                "rep": dict(delivery.rep) if delivery.rep else None,
                "lead": lead,
            },
        }

    def close(self) -> None:
        """Close the HTTP client (idempotent)."""
        self._client.close()
