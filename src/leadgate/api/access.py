"""Object-level checks of the API, used by every route that returns a lead, decision, conversation or handoff.

The rules themselves are in ``leadgate.governance.access``; this module applies them to the request:

* ``scope``: a dependency, what the authenticated caller sees (``Scope``; the role's ``view`` and its rep id).
* ``visible_or_404(request, found, owner, detail)``: 404 with ``detail`` unless the object exists and the
  caller sees it; the same answer in both cases, so a ``sales_rep`` cannot tell another rep's lead from
  a lead that does not exist.

Chat-service calls take the scope (``chat.handoff(id, scope)``) and raise ``ConversationNotFound`` (404)
for a conversation the caller does not see; the handoff queue is filtered by it.
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from leadgate.api.deps import Caller, Principal
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
