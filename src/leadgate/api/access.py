"""Object-level checks of the API, used by every route that returns a lead, decision, conversation or handoff.

The rules themselves are in ``leadgate.governance.access``; this module applies them to the request:

* ``scope``: a dependency, what the authenticated caller sees (``Scope``; the role's ``view`` and its rep id).
* ``visible_or_404(request, found, owner, detail)``: 404 with ``detail`` unless the object exists and the
  caller sees it; the same answer in both cases, so a ``sales_rep`` cannot tell another rep's lead from
  a lead that does not exist.

* ``log_read(request, ...)``: appends a read of personal data to the access log
  (``leadgate.audit.access``): ``read_pii``, or ``read_masked`` when the caller's view masked the
  personal fields (masked data are still personal data, GDPR article 4(5), so they are logged too), with
  actor (``Principal.subject``), role, route template and object ids. It runs before the answer is sent:
  if the event cannot be stored, the request fails (500) and nothing is read unlogged. A 404 (unknown
  or hidden object) reads nothing and is not logged.

Chat-service calls take the scope (``chat.handoff(id, scope)``) and raise ``ConversationNotFound`` (404)
for a conversation the caller does not see; the handoff queue is filtered by it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from leadgate.api.deps import Caller, Principal, route_path
from leadgate.audit.access import log_access
from leadgate.governance.access import ALL, Scope, scope_of


def principal_scope(principal: Principal | None) -> Scope:
    """What ``principal`` sees (``ALL`` for None: a public route has no object rules)."""
    return ALL if principal is None else scope_of(principal.role, principal.rep_id)


def scope(principal: Caller) -> Scope:
    """Route dependency: what the authenticated caller sees (``Annotated[Scope, Depends(scope)]``)."""
    return principal_scope(principal)


def visible_or_404(request: Request, found: bool, owner: str | None, detail: str) -> Scope:
    """The caller's scope when the object exists and the caller sees it.

    Args:
        request: the current request (its principal).
        found: whether the object exists.
        owner: the object's owner (rep id) or None.
        detail: the 404 message, the same for a missing and a hidden object.

    Raises:
        HTTPException: 404 when the object does not exist or belongs to another rep.
    """
    seen = principal_scope(getattr(request.state, "principal", None))
    if not found or not seen.sees(owner):
        raise HTTPException(404, detail)
    return seen


def log_read(
    request: Request,
    *,
    object_type: str,
    object_ids: Sequence[str],
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Record that the caller read personal data of these objects (``read_pii`` or ``read_masked``).

    Args:
        request: the current request (its principal, route template and app state).
        object_type: ``lead`` or ``conversation``.
        object_ids: the ids of the objects whose data the answer holds.
        detail: small facts without personal data (``{"part": "decision"}``).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the event cannot be stored (the request then fails).
    """
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:  # a public route: its own token guards it, and it is not a staff read
        return
    action = "read_masked" if principal_scope(principal).masked else "read_pii"
    log_access(
        request.app.state.lg.engine,
        actor=principal.subject,
        role=principal.role,
        action=action,
        route=route_path(request),
        object_type=object_type,
        object_ids=list(object_ids),
        detail=detail,
    )


async def log_conversations_read(request: Request, conversation_ids: Sequence[str], part: str) -> None:
    """``log_read`` of conversations (``part``: ``handoff_queue`` or ``transcript``), off the event loop.

    Nothing is recorded for an empty list (an empty queue shows no personal data). Used by the handoff
    API and the staff handoff pages alike.
    """
    if conversation_ids:
        await run_in_threadpool(
            log_read,
            request,
            object_type="conversation",
            object_ids=list(conversation_ids),
            detail={"part": part},
        )
