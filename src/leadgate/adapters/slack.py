"""Slack-compatible incoming webhook: tells the rep (or the manager, on escalation) about a lead.

Destination ``slack`` (kinds ``notify_rep``, ``notify_manager``). The message is a JSON body with
``text`` (the fallback shown in notifications) and ``blocks`` (Block Kit: a section with the tier,
probability and deadline, the top reasons, links to the lead and the rep inbox), posted to an incoming
webhook URL (https://api.slack.com/messaging/webhooks). Which URL: the rep's own ``slack_webhook`` in
``reps.yaml`` (when ``use_rep_webhook``), else the channel URL in the variable named by
``webhook_url_env``. As in ``adapters.email``, the lead's company and id are the only lead facts sent.

Slack answers ``200 ok``, or an error whose body names it (``invalid_payload`` 400,
``action_prohibited`` 403, ``no_service`` 404, ``channel_is_archived`` 410 ...: permanent), ``429`` with
``Retry-After`` (retryable, waiting at least that long), or 5xx (retryable). Incoming webhooks have no
idempotency key, so the adapter keeps the same sent-marker as e-mail (``adapters.email.sent_before`` /
``mark_sent``): a retry after a successful post does not post again; a crash between Slack's ``ok`` and the
marker posts again (at-least-once).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field

from leadgate.actions.ports import Delivered, Delivery, DestinationContext, PermanentDeliveryError
from leadgate.adapters.email import EmailConfigError, mark_sent, notification_context, sent_before
from leadgate.adapters.http import post
from leadgate.contracts.action import ActionKind


class SlackConfig(BaseModel):
    """Configuration of the ``slack`` destination.

    Attributes:
        webhook_url_env: name of the environment variable holding a channel's incoming-webhook URL (the URL
            is a secret); used when the rep has no webhook of their own, or ``use_rep_webhook`` is false.
        use_rep_webhook: post to the rep's ``slack_webhook`` from ``reps.yaml`` when they have one.
        base_url: the public URL of the leadgate server (links to ``/staff/inbox`` and the lead).
        lead_path: the path of a lead's staff page, ``{lead_id}`` filled in.
        max_reasons: how many of the decision's reasons the message lists.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    webhook_url_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    use_rep_webhook: bool = True
    base_url: str = Field(pattern=r"^https?://")
    lead_path: str = "/staff/leads/{lead_id}"
    max_reasons: int = Field(default=3, ge=1, le=10)


def _escape(text: str) -> str:
    """Slack mrkdwn escaping of ``&``, ``<`` and ``>`` (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(values: Mapping[str, Any]) -> dict[str, Any]:
    """The webhook body (``text`` and ``blocks``) from ``adapters.email.notification_context`` values."""
    who = _escape(str(values["company"] or f"lead {values['lead_id']}"))
    if values["kind"] == "notify_manager":
        headline = f"SLA missed: {values['tier']} lead {who} assigned to {_escape(str(values['rep_name']))}"
        if values["escalation_reason"]:
            headline += f" ({_escape(str(values['escalation_reason']))})"
    else:
        headline = f"New {values['tier']} lead for you: {who}"
    fields = [{"type": "mrkdwn", "text": f"*Tier*\n{values['tier']}"}]
    if values["probability"]:
        fields.append({"type": "mrkdwn", "text": f"*Probability*\n{values['probability']}"})
    if values["sla_due"]:
        fields.append({"type": "mrkdwn", "text": f"*First touch by*\n{values['sla_due']}"})
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline}*"}, "fields": fields}
    ]
    if values["reasons"]:
        reasons = "\n".join(f"• {_escape(r)}" for r in values["reasons"])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Why*\n{reasons}"}})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"<{values['lead_url']}|Open the lead> · <{values['inbox_url']}|Your inbox>",
                }
            ],
        }
    )
    return {"text": headline, "blocks": blocks}


class SlackWebhook:
    """Destination ``slack``: posts the notification to a Slack-compatible incoming webhook.

    Args:
        config: validated ``SlackWebhook.Config``.
        context: the worker's context (engine for the sent-markers, settings for the reps file, timeout).

    Raises:
        EmailConfigError: ``webhook_url_env`` names a variable that is not set.
    """

    name: ClassVar[str] = "slack"
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({"notify_rep", "notify_manager"})
    Config: ClassVar[type[BaseModel]] = SlackConfig

    def __init__(self, config: SlackConfig, context: DestinationContext) -> None:
        self.config = config
        self.context = context
        self.channel_url: str | None = None
        if config.webhook_url_env is not None:
            self.channel_url = os.environ.get(config.webhook_url_env) or None
            if self.channel_url is None:
                raise EmailConfigError(f"slack: the environment variable {config.webhook_url_env} is not set")
        elif not config.use_rep_webhook:
            raise EmailConfigError("slack: set webhook_url_env, or use_rep_webhook: true")
        self.client = httpx.Client(timeout=context.timeout)

    def _reps_file(self) -> Path | None:
        return getattr(self.context.settings, "reps_file", None)

    def _recipient(self, delivery: Delivery) -> Mapping[str, Any]:
        rep = delivery.rep
        if rep is None:
            raise PermanentDeliveryError(f"{delivery.action.kind}: the action has no rep")
        if delivery.action.kind == "notify_manager":
            from leadgate.reps import load_reps

            boss = load_reps(self._reps_file()).manager_of(str(rep["id"]))
            if boss is None:
                raise PermanentDeliveryError(
                    f"notify_manager: rep {rep['id']} has no manager in the reps file"
                )
            return {
                "id": boss.id,
                "name": boss.name,
                "timezone": boss.timezone,
                "slack_webhook": boss.slack_webhook,
            }
        if "slack_webhook" not in rep:
            from leadgate.reps import load_reps

            known = load_reps(self._reps_file()).get(str(rep["id"]))
            rep = {**rep, "slack_webhook": known.slack_webhook if known else None}
        return rep

    def url_for(self, recipient: Mapping[str, Any]) -> str:
        """The webhook URL to post to for ``recipient``.

        Raises:
            PermanentDeliveryError: neither the recipient nor the configuration has one.
        """
        own = recipient.get("slack_webhook") if self.config.use_rep_webhook else None
        url = own or self.channel_url
        if not url:
            raise PermanentDeliveryError(
                f"slack: {recipient.get('id')} has no slack_webhook and no channel is set"
            )
        return str(url)

    def deliver(self, delivery: Delivery) -> Delivered:
        """Post the notification once where possible (see the module docstring).

        Raises:
            RetryableDeliveryError: 429 (with ``retry_after``), 5xx, or the endpoint not reachable.
            PermanentDeliveryError: 400/403/404/410 and other 4xx; no rep or no webhook URL.
        """
        key = delivery.action.idempotency_key
        engine = self.context.engine
        if engine is not None and sent_before(engine, self.name, key):
            return Delivered(external_id=key, detail={"already_sent": True})
        recipient = self._recipient(delivery)
        values = notification_context(delivery, recipient, self.config)
        response = post(self.client, self.url_for(recipient), self.name, json=slack_message(values))
        if engine is not None:
            mark_sent(engine, self.name, key, key, datetime.now(UTC))
        return Delivered(external_id=key, detail={"status": response.status_code})

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()
