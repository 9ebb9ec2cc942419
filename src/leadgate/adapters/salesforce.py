"""Salesforce (destination ``salesforce``): Lead or Contact and Task through the REST API (sObjects, composite).

Requests (``{instance_url}/services/data/v{api_version}``, bearer access token):

- ``crm_upsert``: ``PATCH /sobjects/Lead/Leadgate_Id__c/{lead_id}``: an upsert by the external id field
  ``Leadgate_Id__c`` (201 created, 200 updated), so the same action delivered twice makes one record.
- ``crm_task``: one ``POST /composite`` with ``allOrNone: true`` holding that upsert and
  ``PATCH /sobjects/Task/Leadgate_Key__c/{idempotency_key}`` (the Task's ``WhoId`` is ``@{lead.id}``, the
  first sub-request's result): both happen, or neither.

Setup in Salesforce: the external id fields ``Leadgate_Id__c`` on Lead (or Contact) and ``Leadgate_Key__c``
on Task (Text, External ID, Unique). A lead without a last name or company is sent with
``[not provided]``, as Salesforce's own Web-to-Lead does for required fields.

API limit: every response carries ``Sforce-Limit-Info: api-usage=NN/MMMM`` (requests used / allowed in
the rolling 24 hours). The adapter reports it in ``Delivered.detail`` (``api_usage``, ``api_limit``)
and, once the last reading is at or above ``refuse_at_usage`` (default 90 %) of the limit, refuses to
send (``RetryableDeliveryError`` with ``retry_after = limit_retry_after_s``) so that leadgate never
exhausts the org's allowance shared with people and other integrations.

Errors (Salesforce answers a JSON list ``[{"message", "errorCode", "fields"}]``): 403
``REQUEST_LIMIT_EXCEEDED``, ``UNABLE_TO_LOCK_ROW``, ``SERVER_UNAVAILABLE`` and any 5xx are retryable; 401
``INVALID_SESSION_ID`` (the token expired: renew it in the environment) and every other 4xx
(``DUPLICATE_VALUE`` on leadgate's own external id field, the mark of two concurrent upserts of one new
record, is retryable: the retry updates the record the other one created)
(``MALFORMED_ID``, ``DUPLICATE_VALUE``, ``REQUIRED_FIELD_MISSING``, ``INVALID_FIELD``, a 300 for an external
id matching several records) are permanent.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from leadgate.actions.ports import (
    Delivered,
    Delivery,
    DestinationContext,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from leadgate.adapters.facts import TaskFacts, lead_email, task_facts
from leadgate.adapters.http import json_body, make_client, raise_for_status, secret_from_env, send, short_body
from leadgate.contracts.action import ActionKind

RETRYABLE_CODES = frozenset(
    {"REQUEST_LIMIT_EXCEEDED", "UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "QUERY_TIMEOUT"}
)
"""Salesforce ``errorCode`` values a later retry can succeed on (limits, row locks, maintenance)."""

NOT_PROVIDED = "[not provided]"
"""What Web-to-Lead writes in a required field the form did not fill."""

LEAD_FIELDS = {
    "first_name": "FirstName",
    "last_name": "LastName",
    "email": "Email",
    "company": "Company",
    "title": "Title",
    "phone": "Phone",
}
"""leadgate lead field -> Salesforce Lead/Contact field (``Company`` only on Lead)."""

ADDRESS = {
    "Lead": {"country": "Country", "city": "City"},
    "Contact": {"country": "MailingCountry", "city": "MailingCity"},
}
PRIORITY = {"high": "High", "medium": "Normal", "low": "Low"}
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")


class Salesforce:
    """Destination ``salesforce``: Lead/Contact and Task upserts by external id (see the module docstring)."""

    name: ClassVar[str] = "salesforce"
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({"crm_upsert", "crm_task"})

    class Config(BaseModel):
        """Salesforce settings.

        Attributes:
            instance_url: the org's My Domain URL (``https://acme.my.salesforce.com``).
            token_env: environment variable holding an OAuth access token (session id).
            api_version: REST API version (``60.0``).
            sobject: ``Lead`` or ``Contact``, the record a lead becomes.
            external_id_field: external id field of that sObject holding the leadgate lead id.
            task_external_id_field: external id field of Task holding the action's idempotency key.
            tier_field: field that receives the tier (e.g. ``Rating`` or a custom field), or None.
            tier_values: tier -> the value written in ``tier_field`` (``{"hot": "Hot"}`` for the
                ``Rating`` picklist); a tier missing here is written as is.
            owners: rep id (``reps.yaml``) -> Salesforce User id (``005...``); a task for a rep missing
                here is refused (permanent error naming the rep).
            refuse_at_usage: fraction of the daily API limit at which the adapter stops sending (0-1].
            limit_retry_after_s: seconds to wait when it stops for the limit.
        """

        model_config = ConfigDict(extra="forbid")
        instance_url: HttpUrl
        token_env: str = Field(default="LEADGATE_SALESFORCE_TOKEN", min_length=1)
        api_version: str = Field(default="60.0", pattern=r"^\d{2}\.0$")
        sobject: Literal["Lead", "Contact"] = "Lead"
        external_id_field: str = Field(default="Leadgate_Id__c", pattern=r"^[A-Za-z][A-Za-z0-9_]*__c$")
        task_external_id_field: str = Field(default="Leadgate_Key__c", pattern=r"^[A-Za-z][A-Za-z0-9_]*__c$")
        tier_field: str | None = None
        tier_values: dict[str, str] = Field(default_factory=dict)
        owners: dict[str, str] = Field(default_factory=dict)
        refuse_at_usage: float = Field(default=0.9, gt=0, le=1)
        limit_retry_after_s: float = Field(default=3600.0, gt=0)

    def __init__(self, config: Config, context: DestinationContext) -> None:
        self.config = config
        token = secret_from_env(config.token_env, "salesforce.token_env")
        self._base = f"/services/data/v{config.api_version}"
        self._client = make_client(
            str(config.instance_url).rstrip("/"), context.timeout, {"Authorization": f"Bearer {token}"}
        )
        self.api_usage: tuple[int, int] | None = None
        """The last ``Sforce-Limit-Info`` reading: (requests used, requests allowed)."""

    def deliver(self, delivery: Delivery) -> Delivered:
        """Upsert the lead's record, or (composite, all or none) the record and its Task.

        Raises:
            PermanentDeliveryError: an unknown kind, a rep without a User id, or Salesforce refused it.
            RetryableDeliveryError: near or over the API limit, a row lock, 5xx, timeout, no connection.
        """
        action = delivery.action
        if action.kind not in self.kinds:
            raise PermanentDeliveryError(
                f"salesforce: action kind {action.kind!r} is not one of {sorted(self.kinds)}"
            )
        self._check_headroom()
        facts = task_facts(delivery)
        record_path = f"{self._base}/sobjects/{self.config.sobject}/{self.config.external_id_field}"
        record_url = f"{record_path}/{quote(action.lead_id, safe='')}"
        record = self._record_fields(delivery, facts)
        if action.kind == "crm_upsert":
            response = self._request("PATCH", record_url, record)
            data = json_body(response, "salesforce") if response.content else {}
            return Delivered(
                external_id=data.get("id"),
                detail={"created": response.status_code == 201, **self._usage_detail()},
            )
        owner = self.config.owners.get(facts.rep_id) if facts.rep_id else None
        if facts.rep_id and owner is None:
            raise PermanentDeliveryError(
                f"salesforce: rep {facts.rep_id!r} has no User id in salesforce.owners"
            )
        task: dict[str, Any] = {
            "Subject": facts.title[:255],
            "Status": "Not Started",
            "Priority": PRIORITY[facts.priority],
            "WhoId": "@{record.id}",
            "Description": "\n".join(
                [f"leadgate lead {action.lead_id}", *(f"- {r}" for r in facts.reasons[:10])]
            ),
        }
        if owner:
            task["OwnerId"] = owner
        if facts.due_at:
            due = facts.due_at.astimezone(UTC)
            task["ActivityDate"] = due.date().isoformat()
            task["IsReminderSet"] = True
            task["ReminderDateTime"] = due.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        task_url = f"{self._base}/sobjects/Task/{self.config.task_external_id_field}/{quote(action.idempotency_key, safe='')}"
        body = {
            "allOrNone": True,
            "compositeRequest": [
                {"method": "PATCH", "url": record_url, "referenceId": "record", "body": record},
                {"method": "PATCH", "url": task_url, "referenceId": "task", "body": task},
            ],
        }
        response = self._request("POST", f"{self._base}/composite", body)
        results = json_body(response, "salesforce").get("compositeResponse") or []
        by_ref = {r.get("referenceId"): r for r in results}
        failed = [r for r in results if int(r.get("httpStatusCode", 500)) >= 300]
        if failed or "task" not in by_ref:
            self._raise_errors(failed[0] if failed else {}, "composite")
        task_result = by_ref["task"]
        return Delivered(
            external_id=(task_result.get("body") or {}).get("id"),
            detail={
                "record_id": (by_ref.get("record", {}).get("body") or {}).get("id"),
                "task_created": task_result.get("httpStatusCode") == 201,
                **self._usage_detail(),
            },
        )

    def close(self) -> None:
        """Close the HTTP client (idempotent)."""
        self._client.close()

    def _record_fields(self, delivery: Delivery, facts: TaskFacts) -> dict[str, Any]:
        sobject = self.config.sobject
        lead = delivery.lead
        fields: dict[str, Any] = {sf: str(lead[f]) for f, sf in LEAD_FIELDS.items() if lead.get(f)}
        fields.update({sf: str(lead[f]) for f, sf in ADDRESS[sobject].items() if lead.get(f)})
        email = lead_email(lead)
        if email:
            fields["Email"] = email
        fields.setdefault("LastName", NOT_PROVIDED)
        if sobject == "Lead":
            fields.setdefault("Company", NOT_PROVIDED)
        else:
            fields.pop("Company", None)
        if self.config.tier_field and facts.tier:
            fields[self.config.tier_field] = self.config.tier_values.get(facts.tier, facts.tier)
        owner = self.config.owners.get(facts.rep_id) if facts.rep_id else None
        if owner:
            fields["OwnerId"] = owner
        return fields

    def _check_headroom(self) -> None:
        if self.api_usage is None:
            return
        used, limit = self.api_usage
        if limit > 0 and used >= self.config.refuse_at_usage * limit:
            raise RetryableDeliveryError(
                f"salesforce: API usage {used}/{limit} is at or above {self.config.refuse_at_usage:.0%} of the "
                "daily limit; leadgate holds deliveries to leave room for the org's other users",
                retry_after=self.config.limit_retry_after_s,
            )

    def _request(self, method: str, url: str, body: Any) -> httpx.Response:
        response = send(self._client, method, url, "salesforce", json=body)
        match = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.api_usage = (int(match.group(1)), int(match.group(2)))
        if response.status_code >= 300:
            try:
                errors = response.json()
            except ValueError:
                errors = None
            if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                self._raise_errors(
                    {"httpStatusCode": response.status_code, "body": errors}, f"{method} {url}"
                )
            raise_for_status(response, "salesforce")
            raise PermanentDeliveryError(
                f"salesforce: HTTP {response.status_code}: {short_body(response)}",
                status=response.status_code,
            )
        return response

    def _raise_errors(self, result: dict[str, Any], where: str) -> None:
        status = int(result.get("httpStatusCode", 500))
        body = result.get("body")
        errors: list[Any] = body if isinstance(body, list) else []
        real = [
            e for e in errors if isinstance(e, dict) and e.get("errorCode") != "PROCESSING_HALTED"
        ] or errors
        first = real[0] if real else {}
        code = str(first.get("errorCode", "")) if isinstance(first, dict) else ""
        text = f"salesforce: HTTP {status} {code} on {where}: {first.get('message', '') if isinstance(first, dict) else first}"
        if isinstance(first, dict) and first.get("fields"):
            text += f" (fields: {', '.join(map(str, first['fields']))})"
        fields = [str(f) for f in first.get("fields") or []] if isinstance(first, dict) else []
        ext_ids = {self.config.external_id_field, self.config.task_external_id_field}
        # Two upserts of one new external id at the same moment: Salesforce creates one record and answers
        # the other DUPLICATE_VALUE on that field; a retry finds and updates the record.
        race = code == "DUPLICATE_VALUE" and bool(ext_ids & set(fields))
        if code in RETRYABLE_CODES or status >= 500 or race:
            retry_after = self.config.limit_retry_after_s if code == "REQUEST_LIMIT_EXCEEDED" else None
            raise RetryableDeliveryError(text, retry_after=retry_after, status=status)
        raise PermanentDeliveryError(text, status=status)

    def _usage_detail(self) -> dict[str, Any]:
        if self.api_usage is None:
            return {}
        return {"api_usage": self.api_usage[0], "api_limit": self.api_usage[1]}
