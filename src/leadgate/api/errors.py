"""The API's error answers: their shapes (pydantic models), the unstorable-input check, and their OpenAPI entries.

Every error answer is JSON with a ``detail``:

* 422: ``{"detail": [{"path", "reason", "type"}]}``, one entry per refused field, ``path`` dotted
  (``body.attributes.total_visits``, ``path.conversation_id``, ``query.after_seq``);
* 400, 401, 403, 404, 409, 413, 429, 503: ``{"detail": "<one line>"}``; 413 adds ``max_bytes`` or
  ``max_chars``, 429 adds ``retry_after`` (seconds, also in the ``Retry-After`` header), 503 from load
  shedding sends ``Retry-After`` too.

``document_errors`` writes these shapes into the OpenAPI schema of every operation (FastAPI's default
``HTTPValidationError`` is replaced: it is not what the API answers).
"""

from __future__ import annotations

import weakref
from typing import Any, Final

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from leadgate.contracts.lead import NO_NUL_PATTERN, UNSTORABLE_REASON, unstorable


class FieldErrorOut(BaseModel):
    """One refused field of a 422 answer."""

    path: str = Field(examples=["body.attributes.total_visits"], description="dotted location of the field")
    reason: str = Field(examples=["must be >= 0, got -1"], description="why it was refused, one line")
    type: str = Field(examples=["value_error"], description="machine-readable kind of error")


class ValidationErrorResponse(BaseModel):
    """422: the request was understood but some fields are refused (nothing was stored but a dead letter)."""

    detail: list[FieldErrorOut]


class ErrorResponse(BaseModel):
    """Any other error: one line of ``detail``; some answers add fields (``retry_after``, ``max_bytes``)."""

    model_config = ConfigDict(extra="allow")
    detail: str


class RateLimitedResponse(ErrorResponse):
    """429: a rate limit or the dead-letter quota was hit; retry after ``retry_after`` seconds."""

    retry_after: int = Field(ge=1, description="seconds, as in the Retry-After header")


def check_request_values(request: Request) -> None:
    """App-wide dependency: 422 for unstorable text in a path, query or header value, or an unknown query parameter.

    A NUL character or an unpaired surrogate: PostgreSQL text can neither store nor compare such strings
    (the query fails, a 500) where SQLite would store them; refusing them for every route, before it runs,
    gives one answer on both databases. Request bodies are checked by their models
    (``leadgate.contracts.lead.Storable``). An unknown query parameter (``?updte=true``) would be ignored
    silently, so it is refused too, on every route of the OpenAPI schema.

    Raises:
        RequestValidationError: the 422 (with a dead letter, as for any refused field).
    """
    errors: list[dict[str, Any]] = []
    for name, value in request.path_params.items():
        if isinstance(value, str) and unstorable(value):
            errors.append(_error(("path", name)))
    known = _query_names(request.scope.get("route"))
    for name, value in request.query_params.multi_items():
        shown = repr(name) if unstorable(name) else name
        if unstorable(name) or unstorable(value):
            errors.append(_error(("query", shown)))
        elif known is not None and name not in known:
            takes = ", ".join(sorted(known)) or "none"
            reason = f"unknown query parameter (this route takes: {takes})"
            errors.append({"loc": ("query", shown), "msg": reason, "type": "unknown_parameter"})
    for name, value in request.headers.items():
        if unstorable(value):
            errors.append(_error(("header", name)))
    if errors:
        raise RequestValidationError(errors)


_QUERY_NAMES: dict[int, tuple[weakref.ref[Any], frozenset[str] | None]] = {}
"""Per route object (by ``id``, with a weak reference to tell a reused id apart): its query parameter names."""


def _query_names(route: Any) -> frozenset[str] | None:
    """The query parameters ``route`` declares (aliases), or None when any is allowed (not in the schema)."""
    if route is None:
        return None
    cached = _QUERY_NAMES.get(id(route))
    if cached is not None and cached[0]() is route:
        return cached[1]
    dependant = getattr(route, "dependant", None)
    names = None
    if dependant is not None and getattr(route, "include_in_schema", False):
        names = frozenset(_walk_query_names(dependant))
    _QUERY_NAMES[id(route)] = (weakref.ref(route), names)
    return names


def _walk_query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _walk_query_names(sub)
    return names


def _error(loc: tuple[str, str]) -> dict[str, Any]:
    return {"loc": loc, "msg": UNSTORABLE_REASON, "type": "unstorable_text"}


_DESCRIPTIONS: Final[dict[str, str]] = {
    "400": "the body could not be read (not UTF-8, or not the declared content type)",
    "401": "missing, wrong, expired or revoked credentials",
    "403": "the caller's role lacks the permission",
    "404": "not found (or not visible to the caller)",
    "409": "conflicts with the stored state (see detail)",
    "413": "the body or a text is over its size limit",
    "422": "refused fields, one {path, reason, type} each",
    "429": "rate limit or dead-letter quota exceeded; retry after Retry-After seconds",
    "503": "temporarily unavailable (busy: retry after Retry-After seconds, or not configured)",
}

_RETRY_AFTER: Final[dict[str, Any]] = {
    "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}
}

_MODEL_REFS: Final[dict[str, str]] = {
    "422": "ValidationErrorResponse",
    "429": "RateLimitedResponse",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries of a route for error codes only it answers (``document_errors`` adds the common ones).

    Example: ``@router.post(..., responses=error_responses(404, 409))``.
    """
    return {code: {"model": ErrorResponse, "description": _DESCRIPTIONS[str(code)]} for code in codes}


def _storable_strings(node: Any) -> None:
    """Say in the OpenAPI schema that no text the API takes may hold a NUL.

    Every string schema without a pattern, enum or format gets ``pattern: NO_NUL_PATTERN``, every object
    schema that takes any keys ``propertyNames`` with it. The published contract schemas (``schemas/``)
    stay as they are; the API refuses these strings anyway (``Storable``, ``check_request_values``), and
    the OpenAPI schema says so, so that generated clients and fuzzers send text the API accepts.
    """
    if isinstance(node, dict):
        if node.get("type") == "string" and not {"pattern", "enum", "const", "format"} & node.keys():
            node["pattern"] = NO_NUL_PATTERN
        if node.get("type") == "object" and "properties" not in node:
            names = node.setdefault("propertyNames", {})
            if isinstance(names, dict):
                names.setdefault("pattern", NO_NUL_PATTERN)
        for value in node.values():
            _storable_strings(value)
    elif isinstance(node, list):
        for value in node:
            _storable_strings(value)


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Write the real error shapes into every operation of an OpenAPI schema (changed in place).

    Each operation gets 422 and 429 (the dead-letter quota) when it takes parameters or a body, 400 and
    413 when it takes a body, 404 when it has path parameters; every 4xx and 5xx entry already there (a
    route's ``responses=``, the 401 and 403 of ``deps.document_security``) gets its model. The schema of
    FastAPI's ``HTTPValidationError`` is dropped. Run after ``deps.document_security``.

    Args:
        schema: the OpenAPI document FastAPI generated.

    Returns:
        The same document.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (FieldErrorOut, ValidationErrorResponse, ErrorResponse, RateLimitedResponse):
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        model_schema.pop("$defs", None)
        components[model.__name__] = model_schema
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    _storable_strings(schema.get("paths", {}))
    _storable_strings(components)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            params = operation.get("parameters", [])
            has_body = "requestBody" in operation
            codes: set[str] = set()
            if params or has_body:
                codes |= {"422", "429"}
            if has_body:
                codes |= {"400", "413"}
            if any(p.get("in") == "path" for p in params):
                codes.add("404")
            responses = operation.setdefault("responses", {})
            codes |= {code for code in responses if code[0] in "45"}
            for code in sorted(codes):
                entry = responses.setdefault(code, {})
                entry.setdefault("description", _DESCRIPTIONS.get(code, "error"))
                name = _MODEL_REFS.get(code, "ErrorResponse")
                entry["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}
                if code in ("429", "503"):
                    entry["headers"] = dict(_RETRY_AFTER)
    return schema
