"""The one way in: the auth dependency of every route, the one public list, CSRF and permission checks.

``create_app`` applies ``authenticate`` (then ``check_csrf``) to the whole application
(``FastAPI(dependencies=...)``), so every route, also one added later, needs credentials unless its path
is in ``PUBLIC_ROUTES`` (deny by default; ``tests/api/test_auth.py`` walks every route to prove it).
Routes that are not FastAPI routes (the OpenAPI docs, a static mount) never run dependencies, so they
must be in ``PUBLIC_ROUTES`` too; the test fails for any that is not.

Credentials, in this order:

* ``Authorization: Bearer <key>`` with a service API key (``leadgate keys create``, see
  ``leadgate.governance.api_keys``);
* the ``lg_session`` cookie of a signed-in staff member (``/staff/sign-in``, see
  ``leadgate.governance.staff_sessions``): its unsafe requests (POST, PUT, PATCH, DELETE) must carry the
  session's CSRF token, in the ``csrf_token`` form field or the ``X-CSRF-Token`` header (``check_csrf``).

Answers: 401 (with ``WWW-Authenticate: Bearer``) for missing, malformed, unknown, expired or revoked
credentials, except on the staff pages (``/staff/...``), where an anonymous browser is sent to the
sign-in page (303); 403 from ``check_csrf`` for a missing or wrong CSRF token, and from ``require`` when
the caller's role lacks the route's permission (``leadgate.governance.roles``).

Then the route's permission: 403 when the caller's role lacks the permission the route needs in
``leadgate.governance.roles.ROUTE_PERMISSIONS``, and for every caller on a protected route missing from that
table (deny by default: a route gets a row there when it is written). ``require`` on a route states the same
permission again where the route is written (it must agree with the table; ``tests/api/test_roles.py``
checks that every role gets what the table says on every route).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request, params
from fastapi.routing import iter_route_contexts
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from leadgate.api.state import AppState
from leadgate.db.engine import write_lock
from leadgate.governance import api_keys, staff_sessions
from leadgate.governance.roles import Permission, permissions, route_permission

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
        # web forms: signed with the form's secret (Standard Webhooks) or carrying a form ticket (api/forms.py)
        "/v1/forms/{form_id}/submissions",
        "/v1/forms/{form_id}/tickets",
        "/forms.js",
        # staff sign-in (password and single sign-on) and the staff pages' stylesheet
        "/staff/sign-in",
        "/staff/sso/login",
        "/staff/sso/callback",
        "/staff/static/{name}",
        # CRM webhooks: authenticated by the source's HMAC signature, not an API key (api/crm_webhooks.py)
        "/v1/webhooks/crm/{source}",
    }
)
"""Full path templates (prefix included) answered without credentials; every other route needs them."""

STAFF_PAGES: Final[str] = "/staff"
"""Browser pages under this path send an anonymous caller to ``SIGN_IN_PAGE`` (303) instead of a 401."""
SIGN_IN_PAGE: Final[str] = "/staff/sign-in"
"""The staff sign-in page."""
FLOW_COOKIE: Final[str] = "lg_flow"
"""Starlette's signed session cookie: the sign-in form's CSRF token and the SSO state (one hour)."""
CSRF_FIELD: Final[str] = "csrf_token"
"""Form field of the CSRF token."""
CSRF_HEADER: Final[str] = "X-CSRF-Token"
"""Header of the CSRF token (cookie-authenticated API calls from a script)."""
CSRF_SIGN_IN_ROUTES: Final[frozenset[str]] = frozenset({SIGN_IN_PAGE})
"""Public form routes whose POST needs the pre-session CSRF token (kept in the signed ``lg_flow`` cookie)."""
UNSAFE_METHODS: Final[frozenset[str]] = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Principal:
    """Who is calling.

    Attributes:
        kind: ``api_key`` or ``session`` (a signed-in staff member).
        name: the key's name or the staff member's email.
        role: the key's or staff member's role.
        key_prefix: the key's lookup prefix; None otherwise.
        permissions: what the caller may do (``leadgate.governance.roles``).
        subject: stable id of the caller for audit records and ownership: ``key:<prefix>`` or
            ``user:<id>``.
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
    """The bearer token of the ``Authorization`` header; 401 when it is not a bearer token."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("missing credentials: send Authorization: Bearer <API key>")
    return token


def _key_principal(request: Request) -> Principal:
    token = _bearer(request)
    lg: AppState = request.app.state.lg
    key = None
    if api_keys.looks_like_key(token):
        with lg.engine.connect() as conn:
            key = api_keys.verify_key(conn, token)
    if key is None:
        raise _unauthorized("unknown, expired or revoked API key")
    if api_keys.needs_touch(key):
        with write_lock(lg.engine), lg.engine.begin() as conn:
            api_keys.touch_key(conn, key.id)
    return Principal(
        "api_key",
        key.name,
        key.role,
        key.prefix,
        permissions(key.role),
        subject=f"key:{key.prefix}",
        rep_id=key.rep_id,
    )


def session_token(request: Request) -> str | None:
    """The session token of the request's ``lg_session`` cookie when its signature is good, else None."""
    value = request.cookies.get(staff_sessions.COOKIE_NAME)
    if not value:
        return None
    lg: AppState = request.app.state.lg
    return lg.session_cookie.load(value)


def _session_principal(request: Request) -> Principal | None:
    """The signed-in staff member of the session cookie, or None (no cookie, or no live session)."""
    token = session_token(request)
    if token is None:
        return None
    lg: AppState = request.app.state.lg
    now = lg.clock()
    with lg.engine.connect() as conn:
        session = staff_sessions.find_session(conn, token, lg.session_limits, now)
    if session is None:
        return None
    if staff_sessions.needs_touch(session, now):
        with write_lock(lg.engine), lg.engine.begin() as conn:
            staff_sessions.touch_session(conn, session.id, now)
    request.state.staff_session = session
    user = session.user
    return Principal(
        "session",
        user.email,
        user.role,
        None,
        permissions(user.role),
        subject=user.subject,
        rep_id=user.rep_id,
    )


def is_staff_page(path: str | None) -> bool:
    """True for the browser pages under ``/staff`` (they redirect an anonymous caller to sign in)."""
    return path is not None and (path == STAFF_PAGES or path.startswith(STAFF_PAGES + "/"))


def _to_sign_in(request: Request) -> HTTPException:
    target = request.url.path if request.method == "GET" else STAFF_PAGES + "/handoffs"
    return HTTPException(303, "sign in first", headers={"Location": f"{SIGN_IN_PAGE}?next={quote(target)}"})


def authenticate(request: Request) -> Principal | None:
    """App-wide dependency: the caller, or None on a public route (no credentials needed there).

    A bearer API key when an ``Authorization`` header is sent, else the staff session cookie. The
    principal is also kept in ``request.state.principal`` (and the session in
    ``request.state.staff_session``) for ``require``, ``check_csrf`` and the error handlers.

    Raises:
        HTTPException: 401 for missing, malformed, unknown, expired or revoked credentials (303 to the
            sign-in page instead on a staff page); 403 when the route's permission (``ROUTE_PERMISSIONS``)
            is not the caller's, or the route has none.
    """
    path = route_path(request)
    if is_public(path):
        return None
    if request.headers.get("authorization"):
        principal: Principal | None = _key_principal(request)
    else:
        principal = _session_principal(request)
    if principal is None:
        if is_staff_page(path):
            raise _to_sign_in(request)
        raise _unauthorized("missing or wrong credentials: send Authorization: Bearer <API key>")
    request.state.principal = principal
    needed = route_permission(request.method, path)
    if needed is None:
        raise HTTPException(
            403,
            f"{request.method} {path or request.url.path} has no entry in the permission table "
            "(leadgate.governance.roles.ROUTE_PERMISSIONS): denied to every caller",
        )
    if needed not in principal.permissions:
        raise _forbidden(principal, needed)
    return principal


def _forbidden(principal: Principal, permission: Permission) -> HTTPException:
    return HTTPException(403, f"role {principal.role!r} may not do this (needs {permission!r})")


def _same(expected: str | None, sent: str | None) -> bool:
    return bool(expected) and bool(sent) and hmac.compare_digest(str(expected).encode(), str(sent).encode())


async def check_csrf(request: Request) -> None:
    """App-wide dependency after ``authenticate``: unsafe requests riding on a cookie carry its CSRF token.

    Checked: every POST, PUT, PATCH or DELETE authenticated by the session cookie (the token of its
    session), and the sign-in form (the pre-session token of the signed ``lg_flow`` cookie, against login
    CSRF). The token comes in the ``X-CSRF-Token`` header or the ``csrf_token`` form field. Requests with a
    bearer API key, and the visitor chat (its own token header, no cookie), need none: a browser never
    adds those credentials on its own. Source: OWASP CSRF Prevention Cheat Sheet (synchronizer token).

    Raises:
        HTTPException: 403 when the token is missing or wrong.
    """
    if request.method not in UNSAFE_METHODS:
        return
    session = getattr(request.state, "staff_session", None)
    if session is not None:
        expected: str | None = session.csrf_token
    elif route_path(request) in CSRF_SIGN_IN_ROUTES:
        expected = request.session.get("csrf")
    else:
        return
    sent = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if sent is None and content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        field = form.get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if not _same(expected, sent):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


async def reject_anonymous(request: Request) -> JSONResponse | None:
    """The 401 (or 303) a protected route answers an unauthenticated caller; None if public or authenticated.

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
            raise _forbidden(principal, permission)

    return Depends(check)
