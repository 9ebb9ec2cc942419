"""A local Salesforce REST API: sObject upsert by external id and ``/composite``, with Salesforce's errors and limit.

Speaks the documented shapes (Salesforce "REST API Developer Guide": "Insert or Update (Upsert) a Record
Using an External ID", "Composite", "Status Codes and Error Responses", "Limit Info Header"):

- ``PATCH /services/data/vNN.0/sobjects/{Lead|Contact|Task}/{ExternalIdField}/{value}``: 201
  ``{"id", "success": true, "errors": [], "created": true}`` when created, 200 (``created: false``) when
  updated; errors are a JSON list ``[{"message", "errorCode", "fields"}]``: ``REQUIRED_FIELD_MISSING``
  (Lead needs ``LastName`` and ``Company``), ``INVALID_FIELD``, ``MALFORMED_ID``,
  ``INVALID_CROSS_REFERENCE_KEY``, ``INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST``, ``INVALID_EMAIL_ADDRESS``;
  404 ``NOT_FOUND`` for a field that is not an external id.
- ``POST /services/data/vNN.0/composite`` ``{"allOrNone", "compositeRequest": [{"method", "url",
  "referenceId", "body"}]}``: sub-requests in order, ``@{ref.id}`` resolved; answers 200
  ``{"compositeResponse": [{"body", "httpHeaders", "httpStatusCode", "referenceId"}]}``; with
  ``allOrNone`` a failure rolls every sub-request back and the others answer ``PROCESSING_HALTED``.
- ``Authorization: Bearer <session id>`` or 401 ``INVALID_SESSION_ID``.
- Every answer carries ``Sforce-Limit-Info: api-usage=NN/MMMM``; past the limit, 403
  ``REQUEST_LIMIT_EXCEEDED`` ("TotalRequests Limit exceeded.").
"""

from __future__ import annotations

import copy
import re
from typing import Any
from urllib.parse import unquote

import orjson
from tests.adapters.fakeserver import FakeServer, Reply, Request

FIELDS: dict[str, set[str]] = {
    "Lead": {"FirstName", "LastName", "Email", "Company", "Title", "Phone", "Country", "City", "OwnerId",
             "Rating", "LeadSource", "Leadgate_Id__c"},
    "Contact": {"FirstName", "LastName", "Email", "Title", "Phone", "MailingCountry", "MailingCity", "OwnerId",
                "Leadgate_Id__c"},
    "Task": {"Subject", "Status", "Priority", "WhoId", "OwnerId", "Description", "ActivityDate", "IsReminderSet",
             "ReminderDateTime", "Leadgate_Key__c"},
}  # fmt: skip
EXTERNAL_IDS = {"Lead": "Leadgate_Id__c", "Contact": "Leadgate_Id__c", "Task": "Leadgate_Key__c"}
REQUIRED = {"Lead": ("LastName", "Company"), "Contact": ("LastName",), "Task": ()}
PICKLISTS = {
    ("Task", "Status"): {"Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"},
    ("Task", "Priority"): {"High", "Normal", "Low"},
    ("Lead", "Rating"): {"Hot", "Warm", "Cold"},
}
PREFIX = {"Lead": "00Q", "Contact": "003", "Task": "00T"}
_ID = re.compile(r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$")
_UPSERT = re.compile(r"^/services/data/v(\d+\.0)/sobjects/(\w+)/(\w+)/([^/]+)$")
_COMPOSITE = re.compile(r"^/services/data/v(\d+\.0)/composite$")
_REF = re.compile(r"@\{(\w+)\.id\}")


def _err(code: str, message: str, fields: list[str] | None = None) -> list[dict[str, Any]]:
    return [{"message": message, "errorCode": code, "fields": fields or []}]


class FakeSalesforce(FakeServer):
    """The fake (see the module docstring). ``records[sobject][id] = fields``."""

    def __init__(
        self,
        token: str = "00D5g000004abcd!AQ0AQH2q.fake.session.id",
        users: set[str] | None = None,
        api_limit: int = 15_000,
    ) -> None:
        self.token = token
        self.users = users if users is not None else {"0055g00000A1b2CAAR", "0055g00000A1b2DAAR"}
        self.api_limit = api_limit
        self.api_used = 0
        self.records: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in FIELDS}
        self._next = 1
        self.duplicate_next: str | None = None
        """A field name: the next upsert that creates a record answers DUPLICATE_VALUE on it. On the
        external id field that is the loser of two concurrent upserts (the other one created the record)."""
        super().__init__()

    def count(self, sobject: str) -> int:
        """How many records of ``sobject`` exist."""
        with self.lock:
            return len(self.records[sobject])

    def find(self, sobject: str, field: str, value: Any) -> dict[str, Any] | None:
        """The record whose ``field`` equals ``value``, or None."""
        with self.lock:
            return next((r for r in self.records[sobject].values() if r.get(field) == value), None)

    def _limit(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_limit}"}

    def failure_reply(self, status: int, request: Request) -> Reply:
        body = {
            401: _err("INVALID_SESSION_ID", "Session expired or invalid"),
            400: _err("MALFORMED_ID", "Owner ID: id value of incorrect type: 12345", ["OwnerId"]),
            403: _err("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
            503: _err("SERVER_UNAVAILABLE", "Server Unavailable"),
        }.get(status, _err("UNKNOWN_EXCEPTION", "An unexpected error occurred."))
        return Reply(status, body, self._limit())

    def handle(self, request: Request) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, _err("INVALID_SESSION_ID", "Session expired or invalid"))
        with self.lock:
            self.api_used += 1
            if self.api_used > self.api_limit:
                return Reply(
                    403, _err("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), self._limit()
                )
            path = request.path.split("?", 1)[0]
            try:
                body = request.json() if request.body else None
            except orjson.JSONDecodeError:
                return Reply(400, _err("JSON_PARSER_ERROR", "Unexpected character"), self._limit())
            if request.method == "PATCH" and (m := _UPSERT.match(path)):
                status, out = self._upsert(m.group(2), m.group(3), unquote(m.group(4)), body)
            elif request.method == "POST" and _COMPOSITE.match(path):
                status, out = self._composite(body)
            else:
                status, out = 404, _err("NOT_FOUND", "The requested resource does not exist")
        return Reply(status, out, self._limit())

    def _upsert(self, sobject: str, ext_field: str, ext_value: str, body: Any) -> tuple[int, Any]:
        if sobject not in FIELDS:
            return 404, _err("NOT_FOUND", "The requested resource does not exist")
        if ext_field != EXTERNAL_IDS[sobject]:
            return 404, _err(
                "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {ext_field}"
            )
        if not isinstance(body, dict):
            return 400, _err("JSON_PARSER_ERROR", "The request body must be a JSON object")
        for name, value in body.items():
            if name not in FIELDS[sobject]:
                return 400, _err(
                    "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}", [name]
                )
            if (allowed := PICKLISTS.get((sobject, name))) and value not in allowed:
                return 400, _err(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{name}: bad value for restricted picklist field: {value}",
                    [name],
                )
            if name in ("WhoId", "OwnerId"):
                if not isinstance(value, str) or not _ID.match(value):
                    return 400, _err("MALFORMED_ID", f"{name}: id value of incorrect type: {value}", [name])
                known = (
                    self.users
                    if name == "OwnerId"
                    else set(self.records["Lead"]) | set(self.records["Contact"])
                )
                if value not in known:
                    return 400, _err("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name])
            if name == "Email" and (not isinstance(value, str) or "@" not in value):
                return 400, _err("INVALID_EMAIL_ADDRESS", f"Email: invalid email address: {value}", [name])
        found = next((rid for rid, r in self.records[sobject].items() if r.get(ext_field) == ext_value), None)
        if found is None and self.duplicate_next is not None:
            field, self.duplicate_next = self.duplicate_next, None
            if field == ext_field:  # the concurrent request created it; this one is told the value is taken
                self.records[sobject][f"{PREFIX[sobject]}5g{self._next:010d}AAA"] = {
                    **body,
                    ext_field: ext_value,
                }
                self._next += 1
            message = (
                f"duplicate value found: {field} duplicates value on record with id: {PREFIX[sobject]}5g"
            )
            return 400, _err("DUPLICATE_VALUE", message, [field])
        if found is None:
            missing = [f for f in REQUIRED[sobject] if not body.get(f)]
            if missing:
                return 400, _err(
                    "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
                )
            found = f"{PREFIX[sobject]}5g{self._next:010d}AAA"
            self._next += 1
            self.records[sobject][found] = {ext_field: ext_value}
            created = True
        else:
            created = False
        self.records[sobject][found].update(body)
        return (201 if created else 200), {"id": found, "success": True, "errors": [], "created": created}

    def _composite(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
            return 400, _err("JSON_PARSER_ERROR", "compositeRequest is required")
        all_or_none = bool(body.get("allOrNone"))
        snapshot = (copy.deepcopy(self.records), self._next)
        refs: dict[str, str] = {}
        results: list[dict[str, Any]] = []
        failed = False
        for sub in body["compositeRequest"]:
            ref = sub.get("referenceId")
            if failed and all_or_none:
                results.append(
                    {
                        "body": _err(
                            "PROCESSING_HALTED",
                            "The transaction was rolled back since another operation in the same transaction failed.",
                        ),
                        "httpHeaders": {},
                        "httpStatusCode": 400,
                        "referenceId": ref,
                    }
                )
                continue
            sub_body = orjson.loads(
                _REF.sub(lambda m: refs.get(m.group(1), m.group(0)), orjson.dumps(sub.get("body")).decode())
            )
            m = _UPSERT.match(str(sub.get("url", "")))
            if sub.get("method") != "PATCH" or m is None:
                status, out = 404, _err("NOT_FOUND", "The requested resource does not exist")
            else:
                status, out = self._upsert(m.group(2), m.group(3), unquote(m.group(4)), sub_body)
            if status < 300:
                refs[ref] = out["id"]
            else:
                failed = True
            results.append({"body": out, "httpHeaders": {}, "httpStatusCode": status, "referenceId": ref})
        if failed and all_or_none:
            self.records, self._next = snapshot
            halted = _err(
                "PROCESSING_HALTED",
                "The transaction was rolled back since another operation in the same transaction failed.",
            )
            for r in results:
                if r["httpStatusCode"] < 300:
                    r.update(body=halted, httpStatusCode=400)
        return 200, {"compositeResponse": results}
