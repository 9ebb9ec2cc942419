"""The rep inbox: a rep's open assignments by SLA deadline, with the lead's contact details, and first touch.

Routes (``inbox:work``: ``admin``, ``sales_manager``, ``sales_rep``; ``leadgate.governance.roles``):

* ``GET /staff/inbox``: the signed-in rep's open assignments (``Principal.rep_id``), overdue first then
  the earliest deadline (``leadgate.review.store.rep_inbox``), each with "due in 4 min" / "overdue by
  2 h", the deadline in the rep's time zone (reps file), tier, probability, top factors and the lead's
  decrypted contact fields; the read is logged (``read_pii`` of the leads listed). Managers and admins
  (view ``all``) open any rep's inbox with ``?rep=<rep id>`` and get the list of reps without one. A
  ``sales_rep`` asking for another rep gets 404 (``leadgate.governance.access``: another rep's objects
  look like missing ones).
* ``POST /staff/inbox/{assignment_id}/first-touch``: the form's button (CSRF checked): records the first
  touch (``mark_first_touch``) and redirects (303) to the inbox; 404 for an assignment the caller may not
  see, 409 with the page when it is no longer open.

The first touch is ``leadgate.sla.mark_first_touch`` (status ``touched``, the ``first_touch`` work event
with whether the SLA was met).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from leadgate.api.access import log_read, principal_scope
from leadgate.api.deps import Caller, Principal, require
from leadgate.api.state import AppState
from leadgate.db.engine import write_lock
from leadgate.governance.roles import INBOX
from leadgate.reps import load_reps
from leadgate.review.inbox import get_assignment, rep_inbox
from leadgate.review.rules import ReviewError, due_text
from leadgate.review.store import NotFound
from leadgate.sla import SlaError, mark_first_touch
from leadgate.web.templating import page

router = APIRouter(prefix="/staff/inbox", include_in_schema=False, dependencies=[require(INBOX)])


def _lg(request: Request) -> AppState:
    lg: AppState = request.app.state.lg
    return lg


def _target(caller: Principal, rep: str | None) -> str | None:
    """Whose inbox: a restricted caller's own (another rep: 404); else ``rep`` (None: the rep chooser)."""
    scope = principal_scope(caller)
    if scope.restricted:
        if rep is not None and rep != caller.rep_id:
            raise HTTPException(404, f"no inbox {rep}")
        return caller.rep_id
    return rep or caller.rep_id


def _render(
    request: Request, caller: Principal, rep: str | None, status_code: int = 200, error: str | None = None
) -> Response:
    lg = _lg(request)
    target = _target(caller, rep)
    reps = load_reps(lg.settings.reps_file)
    if target is None:
        return page(request, "inbox.html", status_code=status_code, rep_id=None, reps=reps.reps, error=error)
    with lg.engine.connect() as conn:
        items = rep_inbox(conn, target)
    if items:
        log_read(
            request, object_type="lead", object_ids=[i.item.lead_id for i in items], detail={"part": "inbox"}
        )
    person = reps.get(target)
    zone = ZoneInfo(person.timezone if person else "UTC")
    now = lg.clock()

    def local(at: datetime | None) -> str:
        return at.astimezone(zone).strftime("%a %d %b %H:%M %Z") if at else ""

    rows: list[dict[str, Any]] = [
        {
            "i": i,
            "due": due_text(i.due, now),
            "due_local": local(i.due),
            "overdue": i.due is not None and i.due < now,
        }
        for i in items
    ]
    return page(
        request,
        "inbox.html",
        status_code=status_code,
        rep_id=target,
        rep=person,
        zone=str(zone),
        rows=rows,
        reps=reps.reps if not principal_scope(caller).restricted else [],
        error=error,
        own=target == caller.rep_id,
    )


@router.get("", name="staff_inbox")
def inbox(
    request: Request, caller: Caller, rep: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    """The inbox of the signed-in rep, or of ``?rep=`` for managers and admins."""
    assert caller is not None
    return _render(request, caller, rep)


@router.post("/{assignment_id}/first-touch")
def first_touch(assignment_id: str, request: Request, caller: Caller) -> Response:
    """Mark the first touch of one of the caller's assignments (a manager: of any rep's)."""
    assert caller is not None
    lg = _lg(request)
    scope = principal_scope(caller)
    try:
        with write_lock(lg.engine), lg.engine.begin() as conn:
            row = get_assignment(conn, assignment_id)
            if not scope.sees(row["rep_id"]):
                raise NotFound(f"no assignment {assignment_id}")
            mark_first_touch(conn, assignment_id, actor=caller.subject, at=lg.clock())
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except (ReviewError, SlaError):
        message = f"This lead is no longer open for you (status {row['status']})."
        return _render(request, caller, row["rep_id"] if not scope.restricted else None, 409, message)
    target = request.url_for("staff_inbox").path
    if row["rep_id"] != caller.rep_id and row["rep_id"] is not None:
        target += f"?rep={quote(row['rep_id'])}"
    return RedirectResponse(target, status_code=303)
