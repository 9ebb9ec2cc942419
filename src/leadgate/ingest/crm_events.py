"""Outcomes flowing back: CRM webhook events -> verified, deduplicated, mapped to outcomes, linked to decisions.

``POST /v1/webhooks/crm/{source}`` (``leadgate.api.crm_webhooks``) hands the raw request here. Two
signature schemes, chosen by the source's name:

* ``hubspot`` (or ``hubspot-<anything>``): HubSpot's ``X-HubSpot-Signature-v3``: base64 of HMAC-SHA256
  with the app's client secret over ``method + URI + body + timestamp`` (the URI with HubSpot's list of
  percent-decoded characters), and ``X-HubSpot-Request-Timestamp`` (milliseconds) no older than 5 minutes
  (https://developers.hubspot.com/docs/api/webhooks/validating-requests). The body is a JSON array of
  events, each with its ``eventId``.
* any other source: Standard Webhooks (https://www.standardwebhooks.com/): ``webhook-id``,
  ``webhook-timestamp`` (seconds, 5 minutes tolerance) and ``webhook-signature``, verified with the
  ``standardwebhooks`` library; the body is one event ``{"type", "lead_id" | "external_id",
  "occurred_at", "data"}`` whose id is ``webhook-id``.

The secret of each source is ``Settings.crm_webhook_secrets[source]`` (``LEADGATE_CRM_WEBHOOK_SECRETS``,
a JSON object); a source without one is unknown (404).

Replay safety: a request outside the time tolerance is refused (401) and every event is stored once in
``inbound_events`` (unique ``(source, event_id)``); the same event again answers ``duplicate`` and changes
nothing. Mapping (``STANDARD_TYPES``, ``hubspot_outcome``): meeting held, opportunity created, won, lost.
Storing is ``leadgate.ingest.crm_outcomes.record_events``: an outcome is stored in ``outcomes``
(``leadgate.audit.outcomes``, source ``crm:<source>``) with the id of the lead's latest decision decided
at or before the event time, and a work event ``outcome`` is chained (``leadgate.audit.events``). An
event naming no known lead is kept as a dead letter with the reason (status ``dead``); an event of a type
that carries no outcome is kept as ``ignored``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from standardwebhooks import Webhook, WebhookVerificationError

from leadgate.errors import LeadgateError

TOLERANCE: Final = timedelta(minutes=5)
"""Largest age (and future skew) of a signed request: 5 minutes, as HubSpot and Standard Webhooks set."""

STANDARD_TYPES: Final[dict[str, str]] = {
    "meeting.held": "meeting_held",
    "opportunity.created": "opportunity_created",
    "opportunity.won": "won",
    "opportunity.lost": "lost",
    "deal.created": "opportunity_created",
    "deal.won": "won",
    "deal.lost": "lost",
}
"""Event ``type`` of the Standard Webhooks format -> the outcome stored."""

# HubSpot's percent-decoded characters of the v3 signature's URI (its "validating requests" page)
_HUBSPOT_DECODE: Final = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}  # fmt: skip


class CrmEventError(LeadgateError, ValueError):
    """A webhook body that is not a valid event (answered 422, kept as a dead letter).

    Attributes:
        errors: ``{"path", "reason"}`` per problem.
    """

    def __init__(self, errors: list[dict[str, str]]):
        super().__init__("; ".join(f"{e['path']}: {e['reason']}" for e in errors))
        self.errors = errors


class CrmWebhookConfigError(LeadgateError):
    """A source's configured secret cannot be used (answered 500: fix ``LEADGATE_CRM_WEBHOOK_SECRETS``)."""


class SignatureError(LeadgateError):
    """A request whose signature, timestamp or headers do not verify (answered 401, nothing stored)."""


def scheme_of(source: str) -> Literal["hubspot", "standard"]:
    """``hubspot`` for the sources ``hubspot`` and ``hubspot-*``; ``standard`` (Standard Webhooks) otherwise."""
    return "hubspot" if source == "hubspot" or source.startswith("hubspot-") else "standard"


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's v3 signature: base64(HMAC-SHA256(secret, method + decoded URI + body + timestamp))."""
    for encoded, char in _HUBSPOT_DECODE.items():
        uri = uri.replace(encoded, char).replace(encoded.lower(), char)
    message = method.upper().encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def verify_hubspot(
    secret: str, method: str, uri: str, body: bytes, headers: Mapping[str, str], now: datetime
) -> None:
    """Check ``X-HubSpot-Signature-v3`` and the timestamp's age (at most ``TOLERANCE``).

    Args:
        secret: the HubSpot app's client secret.
        method: the HTTP method (``POST``).
        uri: the full URI HubSpot called (scheme, host, path, query).
        body: the raw request body.
        headers: the request headers, names in lower case.
        now: the time of receipt (aware).

    Raises:
        SignatureError: a header is missing, the timestamp is stale or not a number, or the signature differs.
    """
    signature = headers.get("x-hubspot-signature-v3")
    timestamp = headers.get("x-hubspot-request-timestamp")
    if not signature or not timestamp:
        raise SignatureError("X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp are required")
    try:
        sent = datetime.fromtimestamp(int(timestamp) / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        raise SignatureError("X-HubSpot-Request-Timestamp is not a time in milliseconds") from None
    if abs(now - sent) > TOLERANCE:
        raise SignatureError(
            "X-HubSpot-Request-Timestamp is more than 5 minutes away: a stale or replayed request"
        )
    expected = hubspot_signature(secret, method, uri, body, timestamp)
    if not hmac.compare_digest(expected, signature):
        raise SignatureError("X-HubSpot-Signature-v3 does not match the request")


def verify_standard(secret: str, body: bytes, headers: Mapping[str, str]) -> str:
    """Check a Standard Webhooks signature and timestamp (the library's 5-minute tolerance).

    Returns:
        The ``webhook-id`` (the event id).

    Raises:
        SignatureError: a header is missing, the timestamp is too old or new, or no signature matches.
        CrmWebhookConfigError: ``secret`` is not ``whsec_<base64>``.
    """
    try:
        webhook = Webhook(secret)
    except Exception as exc:  # binascii.Error / ValueError: not base64
        raise CrmWebhookConfigError(
            f"the source's secret is not a Standard Webhooks secret (whsec_<base64>): {exc}"
        ) from None
    try:
        webhook.verify(body, dict(headers))
    except WebhookVerificationError as exc:
        raise SignatureError(f"Standard Webhooks: {exc}") from None
    return headers["webhook-id"]


@dataclass(frozen=True)
class CrmEvent:
    """One event of a CRM, parsed (not yet stored).

    Attributes:
        event_id: the sender's event id (unique per source).
        event_type: the sender's type (``deal.won``, HubSpot's ``deal.propertyChange`` ...).
        outcome: the outcome it carries (one of ``audit.outcomes.OUTCOME_NAMES``), or None.
        occurred_at: when it happened (aware UTC).
        lead_id: the leadgate lead id, when the event names it.
        external_id: the CRM's id of the object, to find the lead through the outbox (``outbox.external_id``).
    """

    event_id: str
    event_type: str
    outcome: str | None
    occurred_at: datetime
    lead_id: str | None = None
    external_id: str | None = None


class StandardEventIn(BaseModel):
    """The Standard Webhooks event body (see the module docstring).

    Attributes:
        type: one of ``STANDARD_TYPES``.
        lead_id: the leadgate lead id (the CRM adapters write it into the CRM record), or None.
        external_id: the CRM's id of the record leadgate created (when ``lead_id`` is not known there).
        occurred_at: when it happened (ISO-8601 with a zone).
        data: small facts kept with the event (amount, stage name); not interpreted.
    """

    model_config = ConfigDict(extra="forbid")
    type: Literal[
        "meeting.held",
        "opportunity.created",
        "opportunity.won",
        "opportunity.lost",
        "deal.created",
        "deal.won",
        "deal.lost",
    ]
    lead_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    external_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    occurred_at: AwareDatetime
    data: dict[str, Any] = Field(default_factory=dict)


def _errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    return [
        {"path": prefix + (".".join(str(p) for p in e["loc"]) or "<body>"), "reason": e["msg"]}
        for e in exc.errors()
    ]


def _not_future(when: datetime, now: datetime, path: str) -> None:
    if when > now + TOLERANCE:
        raise CrmEventError([{"path": path, "reason": f"{when.isoformat()} is in the future"}])


def parse_standard(event_id: str, body: bytes, now: datetime) -> CrmEvent:
    """The event of a Standard Webhooks body.

    Raises:
        CrmEventError: not JSON, not the schema, no lead reference, or a time in the future.
    """
    try:
        event = StandardEventIn.model_validate_json(body)
    except ValidationError as exc:
        raise CrmEventError(_errors(exc)) from None
    if event.lead_id is None and event.external_id is None:
        raise CrmEventError([{"path": "lead_id", "reason": "give lead_id or external_id"}])
    occurred = event.occurred_at.astimezone(UTC)
    _not_future(occurred, now, "occurred_at")
    return CrmEvent(
        event_id, event.type, STANDARD_TYPES[event.type], occurred, event.lead_id, event.external_id
    )


class HubSpotEventIn(BaseModel):
    """One event of a HubSpot webhook batch (the fields leadgate reads; HubSpot sends more)."""

    model_config = ConfigDict(extra="ignore")
    eventId: int | str
    subscriptionType: str = Field(min_length=1, max_length=64)
    objectId: int | str
    occurredAt: int = Field(ge=0)
    propertyName: str | None = None
    propertyValue: str | None = None


HUBSPOT_STAGES: Final[dict[tuple[str, str, str], str]] = {
    ("deal.propertyChange", "dealstage", "closedwon"): "won",
    ("deal.propertyChange", "dealstage", "closedlost"): "lost",
    ("contact.propertyChange", "lifecyclestage", "opportunity"): "opportunity_created",
    ("contact.propertyChange", "lifecyclestage", "customer"): "converted",
    ("object.propertyChange", "hs_meeting_outcome", "COMPLETED"): "meeting_held",
}
"""HubSpot property changes that carry an outcome (default pipeline stage ids; lifecycle stages)."""


def hubspot_outcome(event: HubSpotEventIn) -> str | None:
    """The outcome of a HubSpot event: ``deal.creation`` an opportunity, stage changes per ``HUBSPOT_STAGES``."""
    if event.subscriptionType == "deal.creation":
        return "opportunity_created"
    key = (event.subscriptionType, event.propertyName or "", event.propertyValue or "")
    return HUBSPOT_STAGES.get(key)


def parse_hubspot(body: bytes, now: datetime) -> list[CrmEvent]:
    """The events of a HubSpot webhook batch (a JSON array).

    Raises:
        CrmEventError: not a JSON array of events (every problem named with its index).
    """
    try:
        items = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CrmEventError([{"path": "<body>", "reason": f"not JSON: {exc}"}]) from None
    if not isinstance(items, list) or not items:
        raise CrmEventError([{"path": "<body>", "reason": "expected a non-empty JSON array of events"}])
    events, errors = [], []
    for index, item in enumerate(items):
        try:
            event = HubSpotEventIn.model_validate(item)
        except ValidationError as exc:
            errors += _errors(exc, f"[{index}].")
            continue
        occurred = datetime.fromtimestamp(event.occurredAt / 1000, UTC)
        if occurred > now + TOLERANCE:
            errors.append({"path": f"[{index}].occurredAt", "reason": "in the future"})
            continue
        events.append(
            CrmEvent(
                str(event.eventId),
                event.subscriptionType,
                hubspot_outcome(event),
                occurred,
                external_id=str(event.objectId),
            )
        )
    if errors:
        raise CrmEventError(errors)
    return events
