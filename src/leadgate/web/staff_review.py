"""The staff review queue: leads that need a person, one lead's review page, and the reviewer's actions.

Routes (all need ``review:write``: ``admin``, ``sales_manager``, ``reviewer``; see
``leadgate.governance.roles``):

* ``GET /staff/review?page=1&order=newest|urgent``: the queue (``leadgate.review.store.review_queue``):
  probability, tier, confidence, top factors, the policy's reasons, why it is queued, the current
  assignment and SLA deadline; 25 a page.
* ``GET /staff/review/{lead_id}``: all of that plus the lead's contact fields, its chat transcripts and its
  history (decisions and work events). Personal data shown is logged (``read_pii`` of the lead, and of
  each conversation), as every staff read is.
* ``POST /staff/review/{lead_id}/approve`` (``reason``), ``.../tier`` (``tier``, ``reason``) and
  ``.../reassign`` (``rep``, ``reason``): forms, CSRF checked (``leadgate.api.deps.check_csrf``). Each writes
  the override work event, the access-log event and, for a re-assignment, the new ``manual`` assignment,
  in one transaction (``leadgate.review.store.override``), then redirects (303) to the queue. Invalid
  input (no reason, unknown tier or rep, nothing changes) answers 400 with the page and the message. The
  forms carry ``seen`` (how many overrides the page showed): a form sent twice, or after another
  reviewer acted, answers 409 and changes nothing. The
  form fields have no declared bounds on purpose: a request failing validation would be dead-lettered
  with its body; ``leadgate.review.rules.check_reason`` bounds the reason instead.

The tier -> action mapping is the decision's own policy (the served policy, or the chat policy for chat
leads); reps come from ``leadgate.reps.load_reps(settings.reps_file)`` (active reps only).
"""

from __future__ import annotations

import contextlib
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from leadgate.api.access import log_read
from leadgate.api.deps import Caller, require, route_path
from leadgate.api.state import AppState
from leadgate.audit.checkpoint import record_access_head
from leadgate.contracts.decision import ActionName
from leadgate.db import store
from leadgate.errors import LeadgateError
from leadgate.governance.roles import REVIEW
from leadgate.policy import Policy, load_policy
from leadgate.reps import RepDirectory, load_reps
from leadgate.review.rules import TIERS, ReviewCriteria, ReviewError, due_text
from leadgate.review.store import (
    ORDERS,
    NotFound,
    QueueItem,
    ReviewConflict,
    lead_history,
    override,
    review_item,
    review_queue,
)
from leadgate.review.transcripts import lead_transcripts
from leadgate.web.templating import page

router = APIRouter(prefix="/staff/review", include_in_schema=False, dependencies=[require(REVIEW)])

PER_PAGE = 25
"""Leads per queue page."""


def _lg(request: Request) -> AppState:
    lg: AppState = request.app.state.lg
    return lg


def criteria(lg: AppState) -> ReviewCriteria:
    """The queue's rules: the served policy's ``review.min_confidence`` and the high-value setting."""
    return ReviewCriteria(
        min_confidence=lg.qualifier.policy.review.min_confidence,
        high_value_probability=lg.settings.review_high_value_probability,
    )


@cache
def _chat_policy(path: Path | None) -> Policy:
    from leadgate.defaults import default_path

    return load_policy(path or default_path("chat_policy.yaml"))


def policy_actions(lg: AppState, policy_version: str) -> dict[str, ActionName] | None:
    """The ``actions`` mapping (tier -> action) of the policy ``name@version``, when it is loaded here.

    Looked for among the served policy and the chat policy (``settings.chat_policy_file`` or the shipped
    one); None when the decision was made under another policy (then only a re-assignment is offered).
    """
    candidates = [lg.qualifier.policy]
    with contextlib.suppress(LeadgateError, OSError):
        candidates.append(_chat_policy(lg.settings.chat_policy_file))
    for policy in candidates:
        if policy.ref == policy_version:
            return {tier: getattr(policy.actions, tier) for tier in TIERS}
    return None


def active_reps(lg: AppState) -> RepDirectory:
    """The reps file (``settings.reps_file``, else the shipped example)."""
    return load_reps(lg.settings.reps_file)


@router.get("", name="staff_review")
def queue(
    request: Request,
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
    order: Annotated[str, Query()] = "newest",
) -> Response:
    """The review queue, one page (``order``: ``newest`` or ``urgent``)."""
    lg = _lg(request)
    if order not in ORDERS:
        raise HTTPException(400, f"unknown order {order!r}: use {' or '.join(ORDERS)}")
    with lg.engine.connect() as conn:
        result = review_queue(conn, criteria(lg), page=page_no, per_page=PER_PAGE, order=order)
    now = lg.clock()
    return page(
        request,
        "review.html",
        queue=result,
        order=order,
        due=lambda item: due_text(item.sla_due_at, now),
        done=request.query_params.get("done"),
    )


def _detail(
    request: Request,
    lead_id: str,
    status_code: int = 200,
    error: str | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    lg = _lg(request)
    with lg.engine.connect() as conn:
        try:
            item = review_item(conn, lead_id, criteria(lg))
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from exc
        lead = store.get_lead(conn, lead_id)
        history = lead_history(conn, lead_id)
        transcripts = lead_transcripts(conn, lead_id)
    factors = item.factors or _explain(lg, lead_id, item)
    log_read(request, object_type="lead", object_ids=[lead_id], detail={"part": "review"})
    if transcripts:
        log_read(
            request,
            object_type="conversation",
            object_ids=[t.conversation_id for t in transcripts],
            detail={"part": "transcript"},
        )
    reps = active_reps(lg)
    return page(
        request,
        "review_lead.html",
        status_code=status_code,
        item=item,
        factors=factors,
        lead=lead or {},
        history=history,
        transcripts=transcripts,
        reps=[r for r in reps.reps if r.active],
        tiers=TIERS,
        can_change_tier=policy_actions(lg, item.policy_version) is not None,
        due=due_text(item.sla_due_at, lg.clock()),
        error=error,
        form=form or {},
    )


def _explain(lg: AppState, lead_id: str, item: QueueItem) -> dict[str, Any] | None:
    """The explanation computed now (and stored) when the decision has none and the served qualifier made it."""
    if item.policy_version != lg.qualifier.policy_ref:
        return None
    from leadgate.audit.log import explain_stored

    with lg.engine.connect() as conn:
        row = store.latest_decision(conn, lead_id)
    if row is None:
        return None
    try:
        return explain_stored(lg.engine, lg.qualifier, row)[0].model_dump(mode="json")
    except LeadgateError:
        return None


@router.get("/{lead_id}", name="staff_review_lead")
def lead_page(lead_id: str, request: Request) -> Response:
    """One lead's review page; 404 when the lead has no decision."""
    return _detail(request, lead_id)


def _act(
    request: Request,
    caller: Caller,
    lead_id: str,
    kind: str,
    reason: str,
    *,
    new_tier: str | None = None,
    new_rep: str | None = None,
    seen: str = "",
) -> Response:
    assert caller is not None
    lg = _lg(request)
    with lg.engine.connect() as conn:
        try:
            version = review_item(conn, lead_id, criteria(lg)).policy_version
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from exc
    reps = active_reps(lg)
    try:
        _, access = override(
            lg.engine,
            lead_id,
            kind,
            actions=policy_actions(lg, version),
            actor=caller.subject,
            role=caller.role,
            route=route_path(request),
            reason=reason,
            now=lg.clock(),
            new_tier=new_tier,
            new_rep=new_rep,
            known_reps=frozenset(r.id for r in reps.reps if r.active),
            criteria=criteria(lg),
            seen=int(seen) if seen.isdigit() else None,
            router=lg.router,
            routes=lg.routes,
        )
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except ReviewConflict as exc:
        return _detail(request, lead_id, 409, str(exc))
    except ReviewError as exc:
        form = {"kind": kind, "reason": reason, "tier": new_tier, "rep": new_rep}
        return _detail(request, lead_id, 400, str(exc), form)
    record_access_head(lg.engine, access.count, access.head)
    return RedirectResponse(f"{request.url_for('staff_review').path}?done={quote(lead_id)}", status_code=303)


@router.post("/{lead_id}/approve")
def approve(lead_id: str, request: Request, caller: Caller, reason: Annotated[str, Form()] = "") -> Response:
    """Approve the decision as is (a held-back ``human_review`` action becomes the tier's action)."""
    return _act(request, caller, lead_id, "approve", reason)


@router.post("/{lead_id}/tier")
def change_tier(
    lead_id: str,
    request: Request,
    caller: Caller,
    tier: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    seen: Annotated[str, Form()] = "",
) -> Response:
    """Change the tier, and so the action (the policy's ``actions[tier]``)."""
    return _act(request, caller, lead_id, "tier", reason, new_tier=tier, seen=seen)


@router.post("/{lead_id}/reassign")
def reassign(
    lead_id: str,
    request: Request,
    caller: Caller,
    rep: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    seen: Annotated[str, Form()] = "",
) -> Response:
    """Re-assign the lead to another rep (a ``manual`` assignment)."""
    return _act(request, caller, lead_id, "reassign", reason, new_rep=rep, seen=seen)
