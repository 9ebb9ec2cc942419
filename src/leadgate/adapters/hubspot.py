"""HubSpot (destination ``hubspot``): contacts, companies and tasks through the CRM v3 objects API.

Requests (private-app bearer token, ``https://api.hubapi.com``):

- ``crm_upsert``: ``POST /crm/v3/objects/contacts/batch/upsert`` (``idProperty`` ``email``), then, when
  the lead's email has a company domain, ``POST /crm/v3/objects/companies/batch/upsert`` (``idProperty``
  ``domain``, or ``company_id_property``) and ``PUT /crm/v4/objects/contacts/{id}/associations/default/companies/{id}``.
  With ``deal_tiers``, a lead of such a tier also gets one deal (``batch/upsert`` by the unique deal
  property ``leadgate_deal_key`` = the lead id) associated with the contact.
- ``crm_task``: the contact upsert above, ``POST /crm/v3/objects/tasks/batch/upsert`` with
  ``idProperty`` = the unique custom task property ``leadgate_action_key`` (its value: the action's
  idempotency key), then ``PUT /crm/v4/objects/tasks/{id}/associations/default/contacts/{id}``.

Idempotency: HubSpot has no idempotency header, so every write is an upsert by a unique property (the
contact's email, the company's domain, the task's ``leadgate_action_key``) and associations are PUTs;
delivering the same action again updates the same records. Upsert was chosen over search-before-create
because HubSpot's search index lags writes by seconds (``/crm/v3/objects/*/search`` is eventually
consistent), so a retry soon after a lost response would find nothing and create a duplicate task.
Setup: create the task property ``leadgate_action_key`` with "unique values" (``hasUniqueValue``) once.

Errors (HubSpot's documented bodies ``{"status": "error", "message", "category"|"errorType", ...}``):
429 (``errorType`` ``RATE_LIMIT``) is retryable after ``Retry-After`` when present, else after the
rolling window ``X-HubSpot-RateLimit-Interval-Milliseconds`` (``policyName`` ``SECONDLY`` or
``TEN_SECONDLY_ROLLING``), else ``daily_limit_retry_after_s`` for the ``DAILY`` policy; 5xx are
retryable; a 409 ``CONFLICT`` on an upsert (two concurrent creates of one unique value) is retryable
(the retry updates the record the other created); 400 (``VALIDATION_ERROR``), 401, 403, 404 and a
batch answered 207 with errors are permanent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from leadgate.actions.ports import (
    Delivered,
    Delivery,
    DestinationContext,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from leadgate.adapters.facts import email_domain, lead_email, task_facts
from leadgate.adapters.http import (
    json_body,
    make_client,
    parse_retry_after,
    raise_for_status,
    secret_from_env,
    send,
    short_body,
)
from leadgate.contracts.action import ActionKind

FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "proton.me",
        "protonmail.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "rediffmail.com",
    }
)
"""Email domains of personal mailboxes: no company is created from them."""

LEAD_TO_CONTACT = {
    "email": "email",
    "first_name": "firstname",
    "last_name": "lastname",
    "company": "company",
    "title": "jobtitle",
    "phone": "phone",
    "country": "country",
    "city": "city",
}
"""leadgate lead field -> HubSpot default contact property."""

PRIORITY = {"high": "HIGH", "medium": "MEDIUM", "low": "LOW"}


class HubSpot:
    """Destination ``hubspot``: CRM v3 contacts, companies and tasks (see the module docstring)."""

    name: ClassVar[str] = "hubspot"
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({"crm_upsert", "crm_task"})

    class Config(BaseModel):
        """HubSpot settings.

        Attributes:
            base_url: the API root (``https://api.hubapi.com``; a local server in tests).
            token_env: environment variable holding the private app's access token.
            owners: rep id (``reps.yaml``) -> HubSpot owner id (``hubspot_owner_id``); a task for a rep
                missing here is refused (permanent error naming the rep).
            task_key_property: the unique custom task property upserted by (``leadgate_action_key``).
            lead_id_property: contact property that receives the leadgate lead id, or None.
            tier_property: contact property that receives the tier, or None.
            associate_company: upsert the company of the email's domain and associate the contact.
            deal_tiers: tiers whose ``crm_upsert`` also opens a deal (e.g. ``["hot"]``); empty: no deals.
            deal_pipeline, deal_stage: the pipeline and stage of a new deal (HubSpot's default sales
                pipeline: ``default``, ``appointmentscheduled``).
            deal_key_property: the unique deal property upserted by (one deal per lead: its lead id).
            company_id_property: the company property upserted by; HubSpot's batch upsert needs a property
                with unique values, so a portal whose ``domain`` is not unique creates one (e.g.
                ``leadgate_company_domain``, unique) and names it here; it receives the domain too.
            task_type: ``hs_task_type`` (``CALL``, ``EMAIL``, ``TODO``).
            daily_limit_retry_after_s: wait after a 429 of the ``DAILY`` policy without ``Retry-After``.
        """

        model_config = ConfigDict(extra="forbid")
        base_url: HttpUrl = HttpUrl("https://api.hubapi.com")
        token_env: str = Field(default="LEADGATE_HUBSPOT_TOKEN", min_length=1)
        owners: dict[str, str] = Field(default_factory=dict)
        task_key_property: str = Field(default="leadgate_action_key", min_length=1)
        lead_id_property: str | None = "leadgate_lead_id"
        tier_property: str | None = "leadgate_tier"
        associate_company: bool = True
        company_id_property: str = Field(default="domain", min_length=1)
        deal_tiers: list[str] = Field(default_factory=list)
        deal_pipeline: str = Field(default="default", min_length=1)
        deal_stage: str = Field(default="appointmentscheduled", min_length=1)
        deal_key_property: str = Field(default="leadgate_deal_key", min_length=1)
        task_type: str = Field(default="CALL", pattern=r"^(CALL|EMAIL|TODO)$")
        daily_limit_retry_after_s: float = Field(default=3600.0, gt=0)

    def __init__(self, config: Config, context: DestinationContext) -> None:
        self.config = config
        token = secret_from_env(config.token_env, "hubspot.token_env")
        self._client = make_client(
            str(config.base_url).rstrip("/"), context.timeout, {"Authorization": f"Bearer {token}"}
        )
        self._last_headers: httpx.Headers = httpx.Headers()

    def deliver(self, delivery: Delivery) -> Delivered:
        """Upsert the contact (and company), or the task, of ``delivery.action``.

        Raises:
            PermanentDeliveryError: an unknown kind, a lead without an email, a rep without an owner id, or
                HubSpot refused the request (400/401/403/404, 207 with errors).
            RetryableDeliveryError: 429, 5xx, timeout or connection failure.
        """
        action = delivery.action
        if action.kind not in self.kinds:
            raise PermanentDeliveryError(
                f"hubspot: action kind {action.kind!r} is not one of {sorted(self.kinds)}"
            )
        email = lead_email(delivery.lead)
        if not email:
            raise PermanentDeliveryError(
                f"hubspot: lead {action.lead_id} has no email (erased?); contacts upsert by email"
            )
        facts = task_facts(delivery)
        contact_props = {
            prop: str(delivery.lead[f]) for f, prop in LEAD_TO_CONTACT.items() if delivery.lead.get(f)
        }
        contact_props["email"] = email
        if self.config.lead_id_property:
            contact_props[self.config.lead_id_property] = action.lead_id
        if self.config.tier_property and facts.tier:
            contact_props[self.config.tier_property] = facts.tier
        owner = self._owner(facts.rep_id, required=action.kind == "crm_task")
        if owner and action.kind == "crm_upsert":
            contact_props["hubspot_owner_id"] = owner
        contact_id, created = self._upsert("contacts", "email", email, contact_props)
        detail: dict[str, Any] = {"contact_id": contact_id, "contact_created": created}
        if action.kind == "crm_upsert":
            domain = email_domain(email)
            if self.config.associate_company and domain and domain not in FREE_MAIL_DOMAINS:
                id_prop = self.config.company_id_property
                company_props = {"domain": domain, id_prop: domain}
                if delivery.lead.get("company"):
                    company_props["name"] = str(delivery.lead["company"])
                company_id, _ = self._upsert("companies", id_prop, domain, company_props)
                self._associate("contacts", contact_id, "companies", company_id)
                detail["company_id"] = company_id
            if facts.tier and facts.tier in self.config.deal_tiers:
                name = delivery.lead.get("company") or email_domain(email) or email
                deal = {
                    self.config.deal_key_property: action.lead_id,
                    "dealname": f"{name} (leadgate {facts.tier})"[:200],
                    "pipeline": self.config.deal_pipeline,
                    "dealstage": self.config.deal_stage,
                }
                if owner:
                    deal["hubspot_owner_id"] = owner
                deal_id, _ = self._upsert("deals", self.config.deal_key_property, action.lead_id, deal)
                self._associate("deals", deal_id, "contacts", contact_id)
                detail["deal_id"] = deal_id
            return Delivered(external_id=contact_id, detail={**detail, **self._rate_detail()})
        due = facts.due_at or datetime.now(UTC)
        task_props = {
            self.config.task_key_property: action.idempotency_key,
            "hs_timestamp": due.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "hs_task_subject": facts.title,
            "hs_task_body": _task_body(facts.tier, facts.reasons, action.lead_id),
            "hs_task_status": "NOT_STARTED",
            "hs_task_priority": PRIORITY[facts.priority],
            "hs_task_type": self.config.task_type,
            "hubspot_owner_id": owner or "",
        }
        task_id, task_created = self._upsert(
            "tasks", self.config.task_key_property, action.idempotency_key, task_props
        )
        self._associate("tasks", task_id, "contacts", contact_id)
        detail.update(task_id=task_id, task_created=task_created)
        return Delivered(external_id=task_id, detail={**detail, **self._rate_detail()})

    def close(self) -> None:
        """Close the HTTP client (idempotent)."""
        self._client.close()

    def _owner(self, rep_id: str | None, *, required: bool) -> str | None:
        if rep_id is None:
            return None
        owner = self.config.owners.get(rep_id)
        if owner is None and required:
            raise PermanentDeliveryError(f"hubspot: rep {rep_id!r} has no owner id in hubspot.owners")
        return owner

    def _request(self, method: str, path: str, body: Any) -> httpx.Response:
        response = send(self._client, method, path, "hubspot", json=body)
        self._last_headers = response.headers
        if response.status_code == 429:
            raise RetryableDeliveryError(
                f"hubspot: HTTP 429 rate limited on {method} {path}: {short_body(response)}",
                retry_after=self._retry_after_429(response),
                status=429,
            )
        if response.status_code == 409 and path.endswith("/batch/upsert"):
            # Two upserts of one new unique value at once: HubSpot creates one record and answers the
            # other 409 CONFLICT ("... already exists"); the retry finds and updates that record.
            raise RetryableDeliveryError(
                f"hubspot: HTTP 409 on {method} {path} (concurrent create): {short_body(response)}",
                retry_after=1.0,
                status=409,
            )
        raise_for_status(response, "hubspot")
        return response

    def _retry_after_429(self, response: httpx.Response) -> float | None:
        header = parse_retry_after(response.headers.get("Retry-After"))
        if header is not None:
            return header
        try:
            policy = str(response.json().get("policyName", "")).upper()
        except ValueError:
            policy = ""
        if policy == "DAILY":
            return self.config.daily_limit_retry_after_s
        interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        try:
            return float(interval) / 1000.0 if interval else 1.0
        except ValueError:
            return 1.0

    def _upsert(
        self, object_type: str, id_property: str, id_value: str, properties: dict[str, str]
    ) -> tuple[str, bool]:
        path = f"/crm/v3/objects/{object_type}/batch/upsert"
        body = {"inputs": [{"idProperty": id_property, "id": id_value, "properties": properties}]}
        response = self._request("POST", path, body)
        data = json_body(response, "hubspot")
        errors = data.get("errors") or []
        if response.status_code == 207 or errors:
            first = errors[0] if errors else {}
            reason = f"{first.get('category', '')} {first.get('message', short_body(response))}"
            raise PermanentDeliveryError(
                f"hubspot: {object_type} upsert refused: {reason}",
                status=response.status_code,
            )
        results = data.get("results") or []
        if not results or "id" not in results[0]:
            raise RetryableDeliveryError(
                f"hubspot: {object_type} upsert answered without a result: {short_body(response)}"
            )
        return str(results[0]["id"]), bool(results[0].get("new", False))

    def _associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        self._request(
            "PUT", f"/crm/v4/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}", None
        )

    def _rate_detail(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for header, key in (
            ("X-HubSpot-RateLimit-Remaining", "rate_limit_remaining"),
            ("X-HubSpot-RateLimit-Daily-Remaining", "daily_remaining"),
        ):
            value = self._last_headers.get(header)
            if value is not None and value.isdigit():
                out[key] = int(value)
        return out


def _task_body(tier: str | None, reasons: tuple[str, ...], lead_id: str) -> str:
    lines = [f"leadgate lead {lead_id}" + (f", tier {tier}" if tier else "")]
    lines += [f"- {r}" for r in reasons[:10]]
    return "\n".join(lines)
