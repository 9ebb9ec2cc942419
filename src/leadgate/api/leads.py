"""``/v1/leads``: submit leads (one or a batch), read a lead and its latest decision.

Every route needs an API key (``Authorization: Bearer``, see ``leadgate.api.deps``): submitting needs
``leads:write``, reading a lead ``leads:read``, its decision ``decisions:read``; 401 without a valid key,
403 when the key's role lacks the permission. Reads apply the object rules of ``leadgate.api.access``: a
``sales_rep`` sees only its own leads (404 otherwise), an ``analyst`` sees personal fields masked; each
read is recorded in the access log (``read_pii`` / ``read_masked``, ``leadgate.api.access.log_read``). A lead
may carry ``owner`` (the rep it is assigned to): it assigns the lead, is not part of its content (no 409
for a different owner alone), and a lead sent again without one keeps its owner.

A ``lead_id`` already stored with different content is not overwritten silently: 409, unless the caller sends
``If-Match: <content hash of the stored version>`` (the ``ETag`` of ``GET /v1/leads/{id}``) or
``?update=true`` with a role that has ``leads:update``. The same content again is idempotent (a new decision).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field, ValidationError

from leadgate.api.access import log_read, visible_or_404
from leadgate.api.deps import require
from leadgate.api.errors import error_responses
from leadgate.api.ratelimit import caller_id, ingest_guard
from leadgate.api.state import AppState
from leadgate.contracts.decision import Decision
from leadgate.contracts.errors import ContractError, FieldError
from leadgate.contracts.lead import Lead
from leadgate.db import store
from leadgate.db.rows import lead_row
from leadgate.db.store import LeadConflictError
from leadgate.governance.access import mask_lead
from leadgate.governance.roles import DECISIONS_READ, LEADS_READ, LEADS_UPDATE, LEADS_WRITE
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
    status: int | None = None
    """409 when the lead is already stored with different content (see ``errors``)."""
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


def value_errors(lg: AppState, lead: Lead) -> list[FieldError]:
    """Attributes the served feature set cannot read, or outside the mapping's ``min``/``max`` (as in CSV)."""
    errors = list(lg.qualifier.feature_set.type_errors(lead.attributes))
    for name, (low, high) in lg.attribute_bounds.items():
        value = lead.attributes.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if low is not None and value < low:
            errors.append(FieldError(f"attributes.{name}", f"must be >= {low:g}, got {value!r}"))
        elif high is not None and value > high:
            errors.append(FieldError(f"attributes.{name}", f"must be <= {high:g}, got {value!r}"))
    return errors


def duplicate_ids(leads: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One 422 entry ``{path, reason, type}`` per lead of a batch whose ``lead_id`` an earlier lead has.

    A batch names each lead once: two versions of one lead in one request would leave it unclear which
    one is stored and decided, so the whole batch is refused (nothing is stored).
    """
    first: dict[str, int] = {}
    out: list[dict[str, str]] = []
    for i, raw in enumerate(leads):
        lead_id = raw.get("lead_id")
        if not isinstance(lead_id, str):
            continue
        lead_id = lead_id.strip()  # as the lead/v1 contract stores it
        if lead_id in first:
            out.append(
                {
                    "path": f"body.leads.{i}.lead_id",
                    "reason": f"lead_id {lead_id!r} is already at index {first[lead_id]} of this batch: "
                    "send each lead once per batch",
                    "type": "duplicate_lead_id",
                }
            )
        else:
            first[lead_id] = i
    return out


def _may_update(request: Request) -> bool:
    principal = getattr(request.state, "principal", None)
    return principal is not None and LEADS_UPDATE in principal.permissions


def _etag(value: str | None) -> str | None:
    return None if value is None else value.strip().removeprefix("W/").strip('"')


def conflict_reason(lead_id: str, if_match: str | None = None) -> str:
    """The 409 reason of a ``lead_id`` stored with other content."""
    stale = " (If-Match does not name the stored version)" if if_match else ""
    return (
        f"lead {lead_id!r} is already stored with different content{stale}: to replace it, send "
        "If-Match: <content hash of the stored version> (the ETag of GET /v1/leads/{id}), or ?update=true "
        "with a key whose role may update leads (admin, revops)"
    )


def conflicts(
    lg: AppState, leads: list[Lead], *, update: bool, if_match: str | None = None
) -> dict[str, str]:
    """``lead_id -> 409 reason`` for each lead stored with different content that the caller may not replace."""
    if update or not leads:
        return {}
    with lg.engine.connect() as conn:
        stored = store.existing_lead_hashes(conn, sorted({lead.lead_id for lead in leads}))
    if not stored:
        return {}
    out: dict[str, str] = {}
    expected = _etag(if_match)
    for lead in leads:
        old = stored.get(lead.lead_id)
        if old is None or old == expected or lead.lead_id in out:
            continue
        if lead_row(lead, None)["content_hash"] != old:
            out[lead.lead_id] = conflict_reason(lead.lead_id, if_match)
    return out


OUT_OF_RANGE_HEADER = "Leadgate-Out-Of-Range"
"""Response header of ``POST /v1/leads``: ``true`` when a feature of the lead is outside the model's training
range (a category never seen, a number outside [min, max]); the decision's confidence already reflects it."""


@router.post(
    "",
    response_model=Decision,
    summary="Validate, store and qualify one lead",
    dependencies=[require(LEADS_WRITE), Depends(ingest_guard)],
    responses=error_responses(409, 503),
)
def post_lead(
    lead: Annotated[Lead, Body()],
    request: Request,
    response: Response,
    update: Annotated[bool, Query(description="replace a stored lead with different content")] = False,
    if_match: Annotated[str | None, Header(description="content hash of the stored version")] = None,
) -> Decision:
    """Validate the lead (``lead/v1``), store it, qualify it synchronously and return the decision.

    The decision carries its explanation inline; the ``Leadgate-Out-Of-Range`` header says whether a
    feature fell outside the training range. Invalid input (including a value outside the mapping's
    ``min``/``max``) gets 422 with one ``{path, reason}`` per field error and is kept in the dead-letter
    table. A ``lead_id`` stored with different content gets 409 unless ``If-Match`` names the stored version
    or ``?update=true`` comes from a role with ``leads:update`` (403 for ``?update=true`` without it).
    """
    lg = _state(request)
    bind_lead(lead.lead_id)
    if update and not _may_update(request):
        raise HTTPException(403, f"?update=true needs the {LEADS_UPDATE!r} permission (roles admin, revops)")
    unusable = value_errors(lg, lead)
    if unusable:
        errors = [{"path": f"body.{e.path}", "reason": e.reason, "type": "value_error"} for e in unusable]
        lg.dead_letter(request.url.path, lead.model_dump(mode="json"), errors, caller_id(request))
        log.info("lead refused: %d unusable attributes", len(errors))
        raise HTTPException(422, errors)
    conflict = conflicts(lg, [lead], update=update, if_match=if_match)
    if conflict:
        log.info("lead refused: stored with different content")
        raise HTTPException(409, conflict[lead.lead_id])
    expected = _etag(if_match)
    try:
        decisions, flags = qualify_leads_flagged(
            lg.engine,
            lg.qualifier,
            [lead],
            explain="all",
            personal_attributes=lg.personal_attributes,
            may_replace=None if update else lambda _id, stored: stored == expected,
            router=lg.router,
            routes=lg.routes,
        )
    except LeadConflictError:  # stored meanwhile by another request (checked again under the chain lock)
        log.info("lead refused: stored with different content")
        raise HTTPException(409, conflict_reason(lead.lead_id, if_match)) from None
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
    dependencies=[require(LEADS_WRITE), Depends(ingest_guard)],
    responses=error_responses(503),
)
def post_batch(
    batch: BatchIn,
    request: Request,
    update: Annotated[bool, Query(description="replace stored leads with different content")] = False,
) -> BatchOut:
    """Qualify every valid lead of the batch; invalid ones are reported per item and dead-lettered.

    Explanations of routed leads are computed inline, the others on first request.
    Returns 413 when the batch has more than ``LEADGATE_MAX_BATCH_LEADS`` leads. A lead stored with
    different content is reported as its item with ``status`` 409 (and not stored) unless ``?update=true``
    comes from a role with ``leads:update``.
    """
    lg = _state(request)
    if update and not _may_update(request):
        raise HTTPException(403, f"?update=true needs the {LEADS_UPDATE!r} permission (roles admin, revops)")
    if len(batch.leads) > lg.settings.max_batch_leads:
        raise HTTPException(
            413, f"batch of {len(batch.leads)} leads is over the limit of {lg.settings.max_batch_leads}"
        )
    duplicates = duplicate_ids(batch.leads)
    if duplicates:
        lg.dead_letter(request.url.path, batch.model_dump(mode="json"), duplicates, caller_id(request))
        raise HTTPException(422, duplicates)
    valid: list[tuple[int, Lead]] = []
    items: dict[int, BatchItem] = {}
    rejected: list[tuple[str, Any, list[dict[str, Any]]]] = []
    for i, raw in enumerate(batch.leads):
        try:
            lead = Lead.model_validate(raw)
            unusable = value_errors(lg, lead)
            if unusable:
                raise ContractError("lead/v1", unusable)
            valid.append((i, lead))
        except (ValidationError, ContractError) as exc:
            found = (
                exc if isinstance(exc, ContractError) else ContractError.from_validation_error("lead/v1", exc)
            )
            errors = [{"path": f"body.leads.{i}.{e.path}", "reason": e.reason} for e in found.errors]
            rejected.append((f"{request.url.path}#{i}", raw, errors))
            items[i] = BatchItem(
                index=i,
                lead_id=raw.get("lead_id") if isinstance(raw.get("lead_id"), str) else None,
                errors=errors,
            )
    lg.dead_letters(rejected, caller_id(request))  # 429 (nothing stored) over the caller's quota
    conflict = conflicts(lg, [lead for _, lead in valid], update=update)
    if conflict:
        for i, lead in valid:
            if lead.lead_id in conflict:
                reason = conflict[lead.lead_id]
                items[i] = BatchItem(
                    index=i,
                    lead_id=lead.lead_id,
                    status=409,
                    errors=[{"path": f"body.leads.{i}.lead_id", "reason": reason}],
                )
        valid = [(i, lead) for i, lead in valid if lead.lead_id not in conflict]
    flags: list[bool] = []
    while valid:
        try:
            decisions, flags = qualify_leads_flagged(
                lg.engine,
                lg.qualifier,
                [lead for _, lead in valid],
                explain="routed",
                personal_attributes=lg.personal_attributes,
                may_replace=None if update else lambda _id, _stored: False,
                router=lg.router,
                routes=lg.routes,
            )
        except LeadConflictError as exc:
            # stored meanwhile by another request: report those as 409 and store the others
            refused = set(exc.lead_ids)
            for i, lead in valid:
                if lead.lead_id in refused:
                    reason = conflict_reason(lead.lead_id)
                    items[i] = BatchItem(
                        index=i,
                        lead_id=lead.lead_id,
                        status=409,
                        errors=[{"path": f"body.leads.{i}.lead_id", "reason": reason}],
                    )
            valid = [(i, lead) for i, lead in valid if lead.lead_id not in refused]
            continue
        lg.count_out_of_range(flags)
        for (i, lead), decision, flag in zip(valid, decisions, flags, strict=True):
            items[i] = BatchItem(index=i, lead_id=lead.lead_id, decision=decision, out_of_range=flag)
        break
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
def get_lead(lead_id: str, request: Request, response: Response) -> Lead:
    """The stored ``lead/v1`` record; 404 if unknown. Its ``ETag`` is the content hash ``If-Match`` takes.

    A ``sales_rep`` gets 404 for a lead it does not own (as for an unknown id); an ``analyst`` gets the
    lead with its personal fields masked (``leadgate.governance.access``).
    """
    lg = _state(request)
    bind_lead(lead_id)
    missing = f"lead {lead_id!r} not found"
    if "\x00" in lead_id:  # no stored id holds one, and PostgreSQL cannot even compare it
        raise HTTPException(404, missing)
    with lg.engine.connect() as conn:
        data = store.get_lead(conn, lead_id)
        stored = store.existing_lead_hashes(conn, [lead_id]) if data is not None else {}
    seen = visible_or_404(request, data is not None, data.get("owner") if data else None, missing)
    assert data is not None
    if lead_id in stored:
        response.headers["ETag"] = f'"{stored[lead_id]}"'
    lead = Lead.model_validate(mask_lead(data) if seen.masked else data)
    log_read(request, object_type="lead", object_ids=[lead_id])
    return lead


@router.get(
    "/{lead_id}/decision",
    response_model=Decision,
    summary="The lead's latest decision, explained",
    dependencies=[require(DECISIONS_READ)],
)
def get_decision(lead_id: str, request: Request) -> Decision:
    """The most recent decision with its explanation; 404 if none (or, for a ``sales_rep``, not its own).

    A decision holds no contact field, so an ``analyst`` reads it as it is.

    An explanation not computed inline is computed now with the model version that made the decision,
    stored, and returned.
    """
    lg = _state(request)
    bind_lead(lead_id)
    missing = f"no decision for lead {lead_id!r}"
    found, owner = (False, None)
    if "\x00" not in lead_id:
        with lg.engine.connect() as conn:
            found, owner = store.lead_owner(conn, lead_id)
    visible_or_404(request, found, owner, missing)
    decision = latest_decision(lg.engine, lg.qualifier, lead_id)
    if decision is None:
        raise HTTPException(404, missing)
    log_read(
        request,
        object_type="lead",
        object_ids=[lead_id],
        detail={"part": "decision", "decision_id": decision.decision_id},
    )
    return decision
