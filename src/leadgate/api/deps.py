"""The one way in: the auth dependency of every route, the one public list, and permission checks.

``create_app`` applies ``authenticate`` to the whole application (``FastAPI(dependencies=...)``), so every
route, also one added later, needs credentials unless its path is in ``PUBLIC_ROUTES`` (deny by default;
``tests/api/test_auth.py`` walks every route to prove it). Routes that are not FastAPI routes (the
OpenAPI docs, a static mount) never run dependencies, so they must be in ``PUBLIC_ROUTES`` too; the test
fails for any that is not.

Credentials: ``Authorization: Bearer <key>`` with a service API key (``leadgate keys create``, see
``leadgate.governance.api_keys``), or, on the staff handoff routes only, the shared
``LEADGATE_STAFF_TOKEN`` (until staff accounts replace it). Answers: 401 (with ``WWW-Authenticate:
Bearer``) for missing, malformed, unknown, expired or revoked credentials; 403 from ``require`` when the
caller's role lacks the route's permission (``leadgate.governance.roles``); 503 on a handoff route when a
non-key bearer is sent and no staff token is configured.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import Depends, FastAPI, HTTPException, Request, params
from fastapi.routing import iter_route_contexts
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from leadgate.api.state import AppState
from leadgate.db.engine import write_lock
from leadgate.governance import api_keys
from leadgate.governance.roles import HANDOFFS, Permission, permissions

PUBLIC_ROUTES: Final[frozenset[str]] = frozenset(
    {
        # liveness
        "/healthz",
        # the demo page (the site root redirects to it) and the widget script it embeds
        "/",
        "/demo",
        "/widget.js",
        # the OpenAPI docs
        "/docs",
        "/docs/oauth2-redirect",
        "/openapi.json",
        "/redoc",
        # the visitor chat: each conversation is guarded by its own token (X-Conversation-Token)
        "/v1/conversations",
        "/v1/conversations/{conversation_id}",
        "/v1/conversations/{conversation_id}/messages",
        "/v1/conversations/{conversation_id}/events",
        "/v1/conversations/{conversation_id}/tickets",
        # the ICS invite of a booking: guarded by a short-lived signed ticket in its URL (api/tickets.py)
        "/v1/bookings/{booking_id}.ics",
    }
)
"""Full path templates (prefix included) answered without credentials; every other route needs them."""

STAFF_TOKEN_ROUTES: Final[str] = "/v1/handoffs"
"""Routes under this path also take the shared ``LEADGATE_STAFF_TOKEN`` (until staff accounts, issue 8 item 3)."""

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Principal:
    """Who is calling.

    Attributes:
        kind: ``api_key``, ``session`` (a signed-in staff member) or ``staff_token`` (the shared handoff
            token, until staff accounts replace it).
        name: the key's name, the staff member's email, or ``staff`` for the staff token.
        role: the key's or staff member's role; None for the staff token.
        key_prefix: the key's lookup prefix; None otherwise.
        permissions: what the caller may do (``leadgate.governance.roles``).
        subject: stable id of the caller for audit records and ownership: ``key:<prefix>``,
            ``user:<id>`` or ``staff``.
        rep_id: the sales rep this caller is (the id leads and conversations are assigned to, see
            ``leads.owner``), or None when the caller is not a rep.
    """

    kind: str
    name: str
    role: str | None
    key_prefix: str | None
    permissions: frozenset[Permission]
    subject: str = ""
    rep_id: str | None = None


def index_routes(app: FastAPI) -> dict[int, str | None]:
    """Map each route object of ``app`` (by ``id``) to its full path template, prefixes included.

    ``create_app`` stores this in ``app.state.route_paths`` once every router is included. FastAPI hands a
    dependency the route *as declared* (``request.scope["route"]``, without its router's prefix), so the
    full template is looked up here. A route object included under two paths maps to None (treated as
    protected); a route added after the index was built is missing, so it is protected too.
    """
    paths: dict[int, str | None] = {}
    for context in iter_route_contexts(app.routes):
        key, path = id(context.original_route), context.path
        paths[key] = path if paths.get(key, path) == path else None
    return paths


def route_path(request: Request) -> str | None:
    """The full path template of the route that matched (``/v1/leads/{lead_id}``), or None if unknown."""
    paths: dict[int, str | None] = getattr(request.app.state, "route_paths", {})
    return paths.get(id(request.scope.get("route")))


def is_public(path: str | None) -> bool:
    """True when the route with this path template is in ``PUBLIC_ROUTES``."""
    return path in PUBLIC_ROUTES


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers=dict(_CHALLENGE))


def _bearer(request: Request) -> str:
    """The bearer token of the ``Authorization`` header; 401 when there is none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("missing credentials: send Authorization: Bearer <API key>")
    return token


def _principal(request: Request, path: str | None) -> Principal:
    token = _bearer(request)
    lg: AppState = request.app.state.lg
    if api_keys.looks_like_key(token):
        with lg.engine.connect() as conn:
            key = api_keys.verify_key(conn, token)
        if key is None:
            raise _unauthorized("unknown, expired or revoked API key")
        if api_keys.needs_touch(key):
            with write_lock(lg.engine), lg.engine.begin() as conn:
                api_keys.touch_key(conn, key.id)
        return Principal(
            "api_key", key.name, key.role, key.prefix, permissions(key.role), subject=f"key:{key.prefix}"
        )
    if path is not None and (path == STAFF_TOKEN_ROUTES or path.startswith(STAFF_TOKEN_ROUTES + "/")):
        expected = lg.settings.staff_token
        if not expected:
            raise HTTPException(
                503,
                "staff token not configured: set LEADGATE_STAFF_TOKEN, or send an API key whose role handles handoffs",
            )
        if hmac.compare_digest(token.encode(), expected.encode()):
            return Principal("staff_token", "staff", None, None, frozenset({HANDOFFS}), subject="staff")
    raise _unauthorized("missing or wrong credentials")


def authenticate(request: Request) -> Principal | None:
    """App-wide dependency: the caller, or None on a public route (no credentials needed there).

    The principal is also kept in ``request.state.principal`` for ``require`` and the error handlers.

    Raises:
        HTTPException: 401 for missing, malformed, unknown, expired or revoked credentials; 503 on a
            handoff route when a non-key bearer is sent and no staff token is configured.
    """
    path = route_path(request)
    if is_public(path):
        return None
    principal = _principal(request, path)
    request.state.principal = principal
    return principal


async def reject_anonymous(request: Request) -> JSONResponse | None:
    """The 401 (or 503) a protected route answers an unauthenticated caller; None if public or authenticated.

    For error handlers that run before the dependencies do (a body that is not JSON).
    """
    if getattr(request.state, "principal", None) is not None or is_public(route_path(request)):
        return None
    try:
        await run_in_threadpool(authenticate, request)
    except HTTPException as exc:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    return None


Caller = Annotated[Principal | None, Depends(authenticate)]


SECURITY_SCHEME: Final[str] = "apiKey"
"""Name of the bearer scheme in the OpenAPI schema."""


def document_security(schema: dict[str, Any]) -> dict[str, Any]:
    """Mark every operation outside ``PUBLIC_ROUTES`` in an OpenAPI schema as needing the bearer key (401, 403).

    Args:
        schema: the OpenAPI document FastAPI generated; changed in place.

    Returns:
        The same document.
    """
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A service API key (`leadgate keys create`); see docs/security.md.",
    }
    for path, operations in schema.get("paths", {}).items():
        if path in PUBLIC_ROUTES:
            continue
        for operation in operations.values():
            operation["security"] = [{SECURITY_SCHEME: []}]
            responses = operation.setdefault("responses", {})
            responses.setdefault("401", {"description": "missing, wrong, expired or revoked credentials"})
            responses.setdefault("403", {"description": "the key's role lacks the permission"})
    return schema


def require(permission: Permission) -> params.Depends:
    """A route dependency: 403 unless the caller's role has ``permission``.

    Use as ``dependencies=[require(LEADS_READ)]`` on a route or router (``authenticate`` has already
    answered 401 for a caller without valid credentials; FastAPI caches it per request).
    """

    def check(principal: Caller) -> None:
        if principal is None:  # a public route that asks for a permission: a mistake in the code
            raise _unauthorized("missing credentials: send Authorization: Bearer <API key>")
        if permission not in principal.permissions:
            who = f"role {principal.role!r}" if principal.role else "the staff token"
            raise HTTPException(403, f"{who} may not do this (needs {permission!r})")

    return Depends(check)
