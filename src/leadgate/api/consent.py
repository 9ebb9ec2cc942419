"""``/v1/leads/{lead_id}/consents``: record and read a lead's consent (issue 8, item 6).

``POST`` records statements of consent or withdrawal (from a web form's opt-in box, a CRM's unsubscribe,
a preference centre), needs ``consent:write``; ``GET`` shows every statement and the decision in force per
purpose, needs ``leads:read``. See ``leadgate.governance.consent`` for the rule and ``docs/security.md``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import BaseModel, Field

from leadgate.api.access import log_read, visible_or_404
from leadgate.api.deps import Caller, require, route_path
from leadgate.api.state import AppState
from leadgate.db import store
from leadgate.db.engine import write_lock
from leadgate.governance.consent import (
    PURPOSES,
    ConsentError,
    ConsentIn,
    UnknownLeadError,
    decide,
    record_consent,
    statements,
)
from leadgate.governance.roles import CONSENT_WRITE, LEADS_READ

router = APIRouter(prefix="/v1/leads", tags=["consent"])


class ConsentBatchIn(BaseModel):
    """``POST`` body: one to 10 statements about the lead."""

    consents: list[ConsentIn] = Field(min_length=1, max_length=10)


class PurposeState(BaseModel):
    """Whether the lead may be contacted for one purpose now, and why."""

    purpose: str
    allowed: bool
    reason: str


class ConsentOut(BaseModel):
    """The lead's statements of consent (oldest first) and what is in force per purpose."""

    lead_id: str
    statements: list[dict[str, Any]]
    in_force: list[PurposeState]


def _out(lead_id: str, items: list[Any]) -> ConsentOut:
    permits = [decide(items, p) for p in PURPOSES]
    return ConsentOut(
        lead_id=lead_id,
        statements=[s.as_dict() for s in items],
        in_force=[PurposeState(purpose=p.purpose, allowed=p.allowed, reason=p.reason) for p in permits],
    )


@router.post(
    "/{lead_id}/consents",
    status_code=201,
    response_model=ConsentOut,
    summary="Record consent or its withdrawal",
    dependencies=[require(CONSENT_WRITE)],
)
def post_consent(
    lead_id: str, request: Request, principal: Caller, body: Annotated[ConsentBatchIn, Body()]
) -> ConsentOut:
    """Store the statements (with the caller as recorder) and return the lead's consent; 404 unknown lead."""
    lg: AppState = request.app.state.lg
    assert principal is not None
    try:
        with write_lock(lg.engine), lg.engine.begin() as conn:
            record_consent(
                conn,
                lead_id,
                body.consents,
                actor=principal.subject or principal.name,
                role=principal.role,
                route=route_path(request),
            )
            items = statements(conn, lead_id)
    except UnknownLeadError as exc:
        raise HTTPException(404, str(exc)) from exc
    except ConsentError as exc:  # the one 422 shape: {detail: [{path, reason, type}]}
        raise HTTPException(
            422, [{"path": "body.consents", "reason": str(exc), "type": "value_error"}]
        ) from exc
    return _out(lead_id, items)


@router.get(
    "/{lead_id}/consents",
    response_model=ConsentOut,
    summary="A lead's consent",
    dependencies=[require(LEADS_READ)],
)
def get_consent(lead_id: str, request: Request) -> ConsentOut:
    """Every statement about the lead and, per purpose, whether it may be contacted now.

    404 for an unknown lead, and for a ``sales_rep`` when the lead is not its own (``leadgate.api.access``);
    the read is recorded in the access log.
    """
    lg: AppState = request.app.state.lg
    missing = f"no stored lead {lead_id!r}"
    if "\x00" in lead_id:
        raise HTTPException(404, missing)
    try:
        with lg.engine.connect() as conn:
            found, owner = store.lead_owner(conn, lead_id)
            visible_or_404(request, found, owner, missing)
            items = statements(conn, lead_id)
    except UnknownLeadError as exc:
        raise HTTPException(404, str(exc)) from exc
    log_read(request, object_type="lead", object_ids=[lead_id], detail={"part": "consent"})
    return _out(lead_id, items)
