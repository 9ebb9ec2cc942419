"""``/v1/leads``: submit leads (one or a batch), read a lead and its latest decision.

Every route needs an API key (``Authorization: Bearer``, see ``leadgate.api.deps``): submitting needs
``leads:write``, reading a lead ``leads:read``, its decision ``decisions:read``; 401 without a valid key,
403 when the key's role lacks the permission.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request, Response
from pydantic import BaseModel, Field, ValidationError

from leadgate.api.deps import require
from leadgate.api.state import AppState
from leadgate.contracts.decision import Decision
from leadgate.contracts.errors import ContractError
from leadgate.contracts.lead import Lead
from leadgate.db import store
from leadgate.governance.roles import DECISIONS_READ, LEADS_READ, LEADS_WRITE
from leadgate.logs import bind_lead
from leadgate.pipeline import latest_decision, qualify_leads_flagged

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/leads", tags=["leads"])


class BatchIn(BaseModel):
    """``POST /v1/leads/batch`` body: up to ``LEADGATE_MAX_BATCH_LEADS`` lead objects (``lead/v1``)."""

    leads: list[dict[str, Any]] = Field(min_length=1)


class BatchItem(BaseModel):
    """One batch entry: its index, and either the decision or the field errors that rejected it."""

    index: int
    lead_id: str | None = None
    decision: Decision | None = None
    out_of_range: bool | None = None
    errors: list[dict[str, str]] | None = None


class BatchOut(BaseModel):
    """Result of a batch: counts and one item per submitted lead, in order."""

    accepted: int
    rejected: int
    out_of_range: int = 0
    """Accepted leads with a feature outside the model's training range (see ``OUT_OF_RANGE_HEADER``)."""
    out_of_range_share: float = 0.0
    results: list[BatchItem]


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.lg
    return state


OUT_OF_RANGE_HEADER = "Leadgate-Out-Of-Range"
"""Response header of ``POST /v1/leads``: ``true`` when a feature of the lead is outside the model's training
range (a category never seen, a number outside [min, max]); the decision's confidence already reflects it."""


@router.post(
    "",
    response_model=Decision,
    summary="Validate, store and qualify one lead",
    dependencies=[require(LEADS_WRITE)],
)
def post_lead(lead: Annotated[Lead, Body()], request: Request, response: Response) -> Decision:
    """Validate the lead (``lead/v1``), store it, qualify it synchronously and return the decision.

    The decision carries its explanation inline; the ``Leadgate-Out-Of-Range`` header says whether a
    feature fell outside the training range. Invalid input gets 422 with one ``{path, reason}`` per field
    error and is kept in the dead-letter table.
    """
    lg = _state(request)
    bind_lead(lead.lead_id)
    unusable = lg.qualifier.feature_set.type_errors(lead.attributes)
    if unusable:
        errors = [{"path": f"body.{e.path}", "reason": e.reason} for e in unusable]
        lg.dead_letter(request.url.path, lead.model_dump(mode="json"), errors)
        log.info("lead refused: %d unusable attributes", len(errors))
        raise HTTPException(422, errors)
    decisions, flags = qualify_leads_flagged(lg.engine, lg.qualifier, [lead], explain="all")
    lg.count_out_of_range(flags)
    response.headers[OUT_OF_RANGE_HEADER] = "true" if flags[0] else "false"
    decision = decisions[0]
    log.info(
        "lead qualified",
        extra={"tier": decision.tier, "action": decision.action, "out_of_range": flags[0]},
    )
    return decision


@router.post(
    "/batch",
    response_model=BatchOut,
    summary="Validate, store and qualify a batch of leads",
    dependencies=[require(LEADS_WRITE)],
)
def post_batch(batch: BatchIn, request: Request) -> BatchOut:
    """Qualify every valid lead of the batch; invalid ones are reported per item and dead-lettered.

    Explanations of routed leads are computed inline, the others on first request.
    Returns 413 when the batch has more than ``LEADGATE_MAX_BATCH_LEADS`` leads.
    """
    lg = _state(request)
    if len(batch.leads) > lg.settings.max_batch_leads:
        raise HTTPException(
            413, f"batch of {len(batch.leads)} leads is over the limit of {lg.settings.max_batch_leads}"
        )
    valid: list[tuple[int, Lead]] = []
    items: dict[int, BatchItem] = {}
    for i, raw in enumerate(batch.leads):
        try:
            lead = Lead.model_validate(raw)
            unusable = lg.qualifier.feature_set.type_errors(lead.attributes)
            if unusable:
                raise ContractError("lead/v1", unusable)
            valid.append((i, lead))
        except (ValidationError, ContractError) as exc:
            found = (
                exc if isinstance(exc, ContractError) else ContractError.from_validation_error("lead/v1", exc)
            )
            errors = [{"path": f"body.leads.{i}.{e.path}", "reason": e.reason} for e in found.errors]
            lg.dead_letter(f"{request.url.path}#{i}", raw, errors)
            items[i] = BatchItem(
                index=i,
                lead_id=raw.get("lead_id") if isinstance(raw.get("lead_id"), str) else None,
                errors=errors,
            )
    flags: list[bool] = []
    if valid:
        decisions, flags = qualify_leads_flagged(
            lg.engine, lg.qualifier, [lead for _, lead in valid], explain="routed"
        )
        lg.count_out_of_range(flags)
        for (i, lead), decision, flag in zip(valid, decisions, flags, strict=True):
            items[i] = BatchItem(index=i, lead_id=lead.lead_id, decision=decision, out_of_range=flag)
    results = [items[i] for i in range(len(batch.leads))]
    log.info(
        "batch qualified",
        extra={"accepted": len(valid), "rejected": len(results) - len(valid), "out_of_range": sum(flags)},
    )
    return BatchOut(
        accepted=len(valid),
        rejected=len(results) - len(valid),
        out_of_range=sum(flags),
        out_of_range_share=sum(flags) / len(flags) if flags else 0.0,
        results=results,
    )


@router.get("/{lead_id}", response_model=Lead, summary="A stored lead", dependencies=[require(LEADS_READ)])
def get_lead(lead_id: str, request: Request) -> Lead:
    """The stored ``lead/v1`` record; 404 if unknown."""
    lg = _state(request)
    bind_lead(lead_id)
    with lg.engine.connect() as conn:
        data = store.get_lead(conn, lead_id)
    if data is None:
        raise HTTPException(404, f"lead {lead_id!r} not found")
    return Lead.model_validate(data)


@router.get(
    "/{lead_id}/decision",
    response_model=Decision,
    summary="The lead's latest decision, explained",
    dependencies=[require(DECISIONS_READ)],
)
def get_decision(lead_id: str, request: Request) -> Decision:
    """The most recent decision with its explanation; 404 if none.

    An explanation not computed inline is computed now with the model version that made the decision,
    stored, and returned.
    """
    lg = _state(request)
    bind_lead(lead_id)
    decision = latest_decision(lg.engine, lg.qualifier, lead_id)
    if decision is None:
        raise HTTPException(404, f"no decision for lead {lead_id!r}")
    return decision
