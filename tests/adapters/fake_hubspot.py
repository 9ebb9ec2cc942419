"""A local HubSpot: the CRM v3 object upserts and v4 default associations, with HubSpot's auth, errors and limits.

Speaks the documented shapes (developers.hubspot.com, "CRM API | Contacts / Companies / Tasks", "Batch
upsert", "Associations v4", "API usage guidelines and limits"):

- ``POST /crm/v3/objects/{contacts|companies|deals|tasks}/batch/upsert`` with ``{"inputs": [{"idProperty",
  "id", "properties"}]}``: creates or updates by a unique property, answers 200 ``{"status": "COMPLETE",
  "results": [{"id", "properties", "createdAt", "updatedAt", "archived", "new"}], "startedAt",
  "completedAt"}``. Unknown properties, a bad enum option, a bad email or owner id, a task without
  ``hs_timestamp``: 400 ``{"status": "error", "message": "Property values were not valid: [...]",
  "correlationId", "category": "VALIDATION_ERROR"}``.
- ``PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{id}``: 200, or 404 ``OBJECT_NOT_FOUND``.
- ``Authorization: Bearer <token>`` or 401 ``INVALID_AUTHENTICATION``.
- A rolling rate limit (``max_requests`` per ``interval_ms``) with the ``X-HubSpot-RateLimit-*`` headers on
  every answer and, when exceeded, 429 ``{"status": "error", "message": "You have reached your
  ten_secondly_rolling limit.", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING", ...}``;
  past the daily allowance the same with ``policyName`` ``DAILY``.
"""

from __future__ import annotations

import re
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

import orjson
from tests.adapters.fakeserver import FakeServer, Reply, Request, correlation_id

PROPERTIES: dict[str, set[str]] = {
    "contacts": {
        "email", "firstname", "lastname", "company", "jobtitle", "phone", "country", "city",
        "hubspot_owner_id", "leadgate_lead_id", "leadgate_tier", "lifecyclestage",
    },
    "companies": {"domain", "name", "hubspot_owner_id", "leadgate_company_domain"},
    "deals": {"dealname", "pipeline", "dealstage", "amount", "closedate", "hubspot_owner_id", "leadgate_deal_key"},
    "tasks": {
        "hs_timestamp", "hs_task_subject", "hs_task_body", "hs_task_status", "hs_task_priority",
        "hs_task_type", "hubspot_owner_id", "leadgate_action_key",
    },
}  # fmt: skip
UNIQUE: dict[str, set[str]] = {
    "contacts": {"email", "leadgate_lead_id"},
    "companies": {"domain", "leadgate_company_domain"},
    "deals": {"leadgate_deal_key"},
    "tasks": {"leadgate_action_key"},
}
ENUMS = {
    ("tasks", "hs_task_status"): {"NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"},
    ("tasks", "hs_task_priority"): {"NONE", "LOW", "MEDIUM", "HIGH"},
    ("tasks", "hs_task_type"): {"CALL", "EMAIL", "TODO", "LINKED_IN", "MEETING"},
    ("deals", "pipeline"): {"default"},
    ("deals", "dealstage"): {
        "appointmentscheduled",
        "qualifiedtobuy",
        "presentationscheduled",
        "decisionmakerboughtin",
        "contractsent",
        "closedwon",
        "closedlost",
    },
}
SINGULAR = {"contact": "contacts", "company": "companies", "task": "tasks", "deal": "deals"}
_UPSERT = re.compile(r"^/crm/v3/objects/(\w+)/batch/upsert$")
_ASSOC = re.compile(r"^/crm/v4/objects/(\w+)/(\d+)/associations/default/(\w+)/(\d+)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class FakeHubSpot(FakeServer):
    """The fake (see the module docstring). ``records[object_type][id] = properties``."""

    def __init__(
        self,
        token: str = "pat-na1-11111111-2222-3333-4444-555555555555",
        owners: set[str] | None = None,
        max_requests: int = 190,
        interval_ms: int = 10_000,
        daily: int = 625_000,
    ) -> None:
        self.token = token
        self.owners = owners if owners is not None else {"81234567", "81234568"}
        self.max_requests = max_requests
        self.interval_ms = interval_ms
        self.daily = daily
        self.daily_used = 0
        self.records: dict[str, dict[str, dict[str, str]]] = {t: {} for t in PROPERTIES}
        self.associations: set[tuple[str, str, str, str]] = set()
        self._window: deque[float] = deque()
        self._next_id = 51_000_000_001
        self.conflict_next = False
        """Answer the next upsert that creates a record as HubSpot answers the loser of two concurrent creates."""
        super().__init__()

    # -- the test's view -------------------------------------------------------------------------------
    def count(self, object_type: str) -> int:
        """How many records of ``object_type`` exist."""
        with self.lock:
            return len(self.records[object_type])

    def find(self, object_type: str, prop: str, value: str) -> dict[str, str] | None:
        """The record whose ``prop`` equals ``value``, or None."""
        with self.lock:
            return next((r for r in self.records[object_type].values() if r.get(prop) == value), None)

    # -- HubSpot ----------------------------------------------------------------------------------------
    def _limit_headers(self, remaining: int) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(self.interval_ms),
            "X-HubSpot-RateLimit-Max": str(self.max_requests),
            "X-HubSpot-RateLimit-Remaining": str(max(0, remaining)),
            "X-HubSpot-RateLimit-Daily": str(self.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily - self.daily_used)),
        }

    def _error(self, status: int, category: str, message: str, **extra: Any) -> Reply:
        body = {
            "status": "error",
            "message": message,
            "correlationId": correlation_id(),
            "category": category,
        }
        return Reply(status, {**body, **extra})

    def failure_reply(self, status: int, request: Request) -> Reply:
        if status == 429:
            return Reply(
                429,
                {
                    "status": "error",
                    "message": "You have reached your ten_secondly_rolling limit.",
                    "errorType": "RATE_LIMIT",
                    "correlationId": correlation_id(),
                    "policyName": "TEN_SECONDLY_ROLLING",
                    "groupName": "publicapi",
                },
                self._limit_headers(0),
            )
        if status == 401:
            return self._unauthorized()
        if status == 400:
            return self._invalid(
                [{"name": "email", "error": "INVALID_EMAIL", "message": "Email address is invalid"}]
            )
        return self._error(status, "INTERNAL_ERROR", "internal error")

    def _unauthorized(self) -> Reply:
        return self._error(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
            "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        )

    def _invalid(self, problems: list[dict[str, str]]) -> Reply:
        detail = [{"isValid": False, **p} for p in problems]
        message = "Property values were not valid: " + orjson.dumps(detail).decode()
        return self._error(400, "VALIDATION_ERROR", message)

    def handle(self, request: Request) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return self._unauthorized()
        with self.lock:
            now = time.monotonic()
            while self._window and now - self._window[0] >= self.interval_ms / 1000:
                self._window.popleft()
            if len(self._window) >= self.max_requests:
                return self.failure_reply(429, request)
            if self.daily_used >= self.daily:
                body = {
                    "status": "error",
                    "message": "You have reached your daily limit.",
                    "errorType": "RATE_LIMIT",
                    "correlationId": correlation_id(),
                    "policyName": "DAILY",
                    "groupName": "publicapi",
                }
                return Reply(429, body, self._limit_headers(self.max_requests - len(self._window)))
            self._window.append(now)
            self.daily_used += 1
            headers = self._limit_headers(self.max_requests - len(self._window))
            path = request.path.split("?", 1)[0]
            if request.method == "POST" and (m := _UPSERT.match(path)):
                reply = self._upsert(m.group(1), request)
            elif request.method == "PUT" and (m := _ASSOC.match(path)):
                reply = self._associate(*m.groups())
            else:
                reply = self._error(404, "OBJECT_NOT_FOUND", f"no route {request.method} {path}")
        reply.headers.update(headers)
        return reply

    def _upsert(self, object_type: str, request: Request) -> Reply:
        if object_type not in PROPERTIES:
            return self._error(400, "VALIDATION_ERROR", f"Unable to infer object type from: {object_type}")
        try:
            body = request.json()
        except orjson.JSONDecodeError:
            return self._error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1")
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not inputs or len(inputs) > 100:
            return self._error(400, "VALIDATION_ERROR", "inputs must be a list of 1 to 100 objects")
        problems: list[dict[str, str]] = []
        for item in inputs:
            id_prop, id_value, props = item.get("idProperty"), item.get("id"), item.get("properties")
            if id_prop not in UNIQUE[object_type]:
                problems.append(
                    {
                        "name": str(id_prop),
                        "error": "INVALID_ID_PROPERTY",
                        "message": f"{id_prop} is not a unique property",
                    }
                )
            if not isinstance(id_value, str) or not id_value or not isinstance(props, dict):
                problems.append(
                    {"name": "id", "error": "REQUIRED", "message": "id and properties are required"}
                )
                continue
            problems += self._check_properties(object_type, props)
            if (
                object_type == "tasks"
                and id_value
                and "hs_timestamp" not in props
                and self.find("tasks", str(id_prop), id_value) is None
            ):
                problems.append(
                    {"name": "hs_timestamp", "error": "REQUIRED", "message": "hs_timestamp is required"}
                )
        if problems:
            return self._invalid(problems)
        started, results = _now(), []
        for item in inputs:
            id_prop, id_value, props = item["idProperty"], item["id"], dict(item["properties"])
            if id_prop == "email":
                id_value = id_value.lower()
            props[id_prop] = id_value
            found = next(
                ((rid, r) for rid, r in self.records[object_type].items() if r.get(id_prop) == id_value), None
            )
            if found is None:
                rid, record, new = str(self._next_id), {"createdate": _now()}, True
                self._next_id += 1
                self.records[object_type][rid] = record
                if self.conflict_next:  # the concurrent request created it; this one is told so
                    self.conflict_next = False
                    record.update(props)
                    return self._error(409, "CONFLICT", f"{object_type} already exists. Existing ID: {rid}")
            else:
                (rid, record), new = found, False
            record.update(props)
            record["lastmodifieddate"] = _now()
            results.append(
                {"id": rid, "properties": dict(record), "createdAt": record["createdate"],
                 "updatedAt": record["lastmodifieddate"], "archived": False, "new": new}
            )  # fmt: skip
        return Reply(
            200, {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now()}
        )

    def _check_properties(self, object_type: str, props: dict[str, Any]) -> list[dict[str, str]]:
        problems = []
        for name, value in props.items():
            if name not in PROPERTIES[object_type]:
                problems.append(
                    {
                        "name": name,
                        "error": "PROPERTY_DOESNT_EXIST",
                        "message": f'Property "{name}" does not exist',
                    }
                )
            elif not isinstance(value, str):
                problems.append(
                    {"name": name, "error": "INVALID_TYPE", "message": f"{name} must be a string"}
                )
            elif (allowed := ENUMS.get((object_type, name))) and value not in allowed:
                problems.append(
                    {
                        "name": name,
                        "error": "INVALID_OPTION",
                        "message": f"{value} was not one of the allowed options: {sorted(allowed)}",
                    }
                )
            elif name == "email" and not _EMAIL.match(value):
                problems.append(
                    {"name": name, "error": "INVALID_EMAIL", "message": f"Email address {value} is invalid"}
                )
            elif name == "hubspot_owner_id" and value and value not in self.owners:
                problems.append(
                    {"name": name, "error": "INVALID_OWNER_ID", "message": f"{value} is not a valid owner id"}
                )
            elif name == "hs_timestamp" and not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", value):
                problems.append(
                    {"name": name, "error": "INVALID_DATETIME", "message": f"{value} is not a valid datetime"}
                )
        return problems

    def _associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> Reply:
        from_type, to_type = SINGULAR.get(from_type, from_type), SINGULAR.get(to_type, to_type)
        for object_type, rid in ((from_type, from_id), (to_type, to_id)):
            if rid not in self.records.get(object_type, {}):
                return self._error(404, "OBJECT_NOT_FOUND", f"{object_type} {rid} does not exist")
        self.associations.add((from_type, from_id, to_type, to_id))
        spec = {
            "associationCategory": "HUBSPOT_DEFINED",
            "associationTypeId": 204 if from_type == "tasks" else 279,
        }
        result = {"from": {"id": from_id}, "to": {"id": to_id}, "associationSpec": spec}
        return Reply(
            200, {"status": "COMPLETE", "results": [result], "startedAt": _now(), "completedAt": _now()}
        )
