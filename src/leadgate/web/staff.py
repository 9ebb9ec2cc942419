"""Staff sign-in and sign-out: the password form, single sign-on (OpenID Connect), the session cookie.

Routes (``leadgate.api.deps`` lists the sign-in and SSO routes and the stylesheet as public; every other
``/staff`` page sends an anonymous browser here with 303):

* ``GET /staff/sign-in``: the form (email, password; a single sign-on button when SSO is configured).
* ``POST /staff/sign-in``: checks the pre-session CSRF token (``deps.check_csrf``), the failed sign-in
  limits (429 with ``Retry-After``), then the password; on success starts a server-side session, sets
  ``lg_session`` and redirects (303) to ``next`` (a ``/staff`` path only). A wrong email and a wrong
  password get the same answer (401, "wrong email or password") after the same work (one argon2
  verification).
* ``POST /staff/sign-out``: ends the session (CSRF checked) and clears the cookie.
* ``GET /staff/sso/login`` and ``GET /staff/sso/callback``: the OpenID Connect authorization code flow
  (``leadgate.web.sso``); 404 when SSO is not configured.
* ``GET /staff/static/{name}``: the staff stylesheet.

The session cookie ``lg_session`` is signed with ``LEADGATE_SECRET_KEY`` (itsdangerous), ``HttpOnly``,
``SameSite=Lax``, ``Secure`` unless ``LEADGATE_ENV=dev`` (``LEADGATE_COOKIE_SECURE`` overrides), and lives
no longer than the session's absolute limit. Every sign-in, failed sign-in and sign-out is written to the
access log (``leadgate.audit.access``); a failed one names the email by its sha256 only.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from leadgate.api.deps import SIGN_IN_PAGE, session_token
from leadgate.api.ratelimit import RateLimited, client_ip
from leadgate.api.state import AppState
from leadgate.audit.access import log_access, record_access, subject_digest
from leadgate.audit.checkpoint import record_access_head
from leadgate.db.engine import write_lock
from leadgate.governance import staff_sessions, users
from leadgate.web.sso import SsoRefused, build_oauth, resolve_sso_user, sso_enabled
from leadgate.web.templating import page

router = APIRouter(prefix="/staff", include_in_schema=False)

HOME = "/staff/handoffs"
"""Where a signed-in staff member lands by default."""
_STATIC = {"staff.css": "text/css; charset=utf-8"}
_FAILED = "wrong email or password"


def _lg(request: Request) -> AppState:
    lg: AppState = request.app.state.lg
    return lg


def safe_next(value: str | None) -> str:
    """``value`` when it is a path under ``/staff/`` on this server (no open redirect), else ``HOME``."""
    if (
        value
        and value.startswith("/staff/")
        and not value.startswith("//")
        and "\\" not in value
        and not any(ord(c) < 0x20 for c in value)
        and not value.startswith(SIGN_IN_PAGE)
    ):
        return value
    return HOME


def _pre_session_csrf(request: Request) -> str:
    """The sign-in form's CSRF token, kept in the signed ``lg_flow`` cookie (made on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(staff_sessions.TOKEN_BYTES)
        request.session["csrf"] = token
    return token


def _sign_in_page(
    request: Request, *, status_code: int = 200, headers: Mapping[str, str] | None = None, **context: Any
) -> Response:
    context.setdefault("next", safe_next(request.query_params.get("next")))
    return page(
        request,
        "sign_in.html",
        status_code=status_code,
        headers=dict(headers or {}),
        csrf_token=_pre_session_csrf(request),
        sso=sso_enabled(_lg(request).settings),
        principal=None,
        **context,
    )


def _set_session_cookie(request: Request, response: Response, token: str) -> None:
    lg = _lg(request)
    response.set_cookie(
        staff_sessions.COOKIE_NAME,
        lg.session_cookie.dump(token),
        max_age=int(lg.session_limits.absolute.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=lg.settings.secure_cookies,
    )


def _start(request: Request, user_id: int, method: str, rehash: str | None = None, **audit: Any) -> str:
    """Start a session for ``user_id`` (storing a rehashed password and the access record); its token.

    A session the browser still holds ends here: a sign-in always gets a new session id (OWASP Session
    Management Cheat Sheet, "Renew the Session ID After Any Privilege Level Change").
    """
    lg = _lg(request)
    now = lg.clock()
    previous = session_token(request)
    with write_lock(lg.engine), lg.engine.begin() as conn:
        if previous is not None:
            staff_sessions.end_session(conn, previous, reason="replaced", now=now)
        if rehash is not None:
            users.store_rehash(conn, user_id, rehash)
        users.record_sign_in(conn, user_id, now)
        token, _ = staff_sessions.start_session(conn, user_id, lg.session_limits, method=method, now=now)
        user = users.get_user(conn, user_id)
        appended = record_access(
            conn,
            actor=user.subject,
            role=user.role,
            action="sign_in",
            route=request.url.path,
            object_type="user",
            object_ids=[str(user.id)],
            detail={"method": method, **audit},
        )
    record_access_head(lg.engine, appended.count, appended.head)  # a signed checkpoint, as log_access does
    return token


def _signed_in(
    request: Request, user_id: int, method: str, next_url: str, rehash: str | None = None, **audit: Any
) -> Response:
    token = _start(request, user_id, method, rehash, **audit)
    request.session.pop("csrf", None)  # a new pre-session token for the next sign-in (no fixation)
    response = RedirectResponse(safe_next(next_url), status_code=303)
    _set_session_cookie(request, response, token)
    return response


@router.get("/sign-in", name="staff_sign_in")
def sign_in_form(request: Request) -> Response:
    """The sign-in form (``?next=/staff/...``: where to go after)."""
    notice = "You are signed out." if request.query_params.get("signed_out") else None
    return _sign_in_page(request, notice=notice)


def _check_password(lg: AppState, email: str, password: str) -> users.PasswordCheck:
    with lg.engine.connect() as conn:
        return users.check_password(conn, email, password)


def _record_failure(request: Request, digest: str, reason: str) -> None:
    """A ``sign_in_failed`` access record: the email only as its sha256 (``subject_digest``)."""
    log_access(
        _lg(request).engine,
        actor="anonymous",
        role=None,
        action="sign_in_failed",
        route=request.url.path,
        object_type="email",
        object_ids=[digest],
        detail={"reason": reason},
    )


@router.post("/sign-in")
async def sign_in(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next_url: Annotated[str, Form(alias="next")] = "",
) -> Response:
    """Check the email and password; 303 to ``next`` with a session cookie, 401 or 429 with the form.

    The fields have no declared bounds on purpose: a request that fails validation is dead-lettered with
    its body, and this body holds a password. Over-long values simply fail (``users.check_password``).
    """
    lg = _lg(request)
    digest = subject_digest(email)
    ip = client_ip(request)
    try:
        lg.rate_limits.check_sign_in(digest, ip)
    except RateLimited as exc:
        await run_in_threadpool(_record_failure, request, digest, "throttled")
        return _sign_in_page(
            request,
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
            error=f"Too many failed sign-ins. Try again in {exc.retry_after} seconds.",
            email=email,
            next=safe_next(next_url),
        )
    check = await run_in_threadpool(_check_password, lg, email, password)
    if check.user is None:
        lg.rate_limits.fail_sign_in(digest, ip)
        await run_in_threadpool(_record_failure, request, digest, "wrong_credentials")
        return _sign_in_page(request, status_code=401, error=_FAILED, email=email, next=safe_next(next_url))
    return await run_in_threadpool(_signed_in, request, check.user.id, "password", next_url, check.new_hash)


def _end(request: Request) -> None:
    lg = _lg(request)
    token = session_token(request)
    principal = getattr(request.state, "principal", None)
    if token is None or principal is None:
        return
    with write_lock(lg.engine), lg.engine.begin() as conn:
        staff_sessions.end_session(conn, token, now=lg.clock())
        record_access(
            conn, actor=principal.subject, role=principal.role, action="sign_out", route=request.url.path
        )


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """End the session (CSRF checked by ``deps.check_csrf``) and clear the cookie; 303 to the sign-in page."""
    await run_in_threadpool(_end, request)
    response = RedirectResponse(f"{SIGN_IN_PAGE}?signed_out=1", status_code=303)
    response.delete_cookie(staff_sessions.COOKIE_NAME, path="/", httponly=True, samesite="lax")
    return response


@router.get("", include_in_schema=False)
def staff_home() -> RedirectResponse:
    """``/staff``: the handoff queue."""
    return RedirectResponse(HOME, status_code=303)


def _oidc(request: Request) -> Any:
    settings = _lg(request).settings
    if not sso_enabled(settings):
        raise HTTPException(404, "single sign-on is not configured (LEADGATE_OIDC_ISSUER)")
    client = getattr(request.app.state, "oidc_client", None)
    if client is None:
        client = build_oauth(settings)
        request.app.state.oidc_client = client
    return client


@router.get("/sso/login", name="staff_sso_login")
async def sso_login(request: Request) -> Response:
    """Send the browser to the OpenID provider (authorization code flow with state and nonce)."""
    client = _oidc(request)
    request.session["sso_next"] = safe_next(request.query_params.get("next"))
    redirect_uri = str(request.url_for("staff_sso_callback"))
    response: Response = await client.authorize_redirect(request, redirect_uri)
    return response


def _sso_sign_in(request: Request, claims: dict[str, Any], next_url: str) -> Response:
    lg = _lg(request)
    with write_lock(lg.engine), lg.engine.begin() as conn:
        result = resolve_sso_user(conn, claims, default_role=lg.settings.oidc_default_role)
        if result.created:
            record_access(
                conn,
                actor="sso",
                role=None,
                action="user_create",
                route=request.url.path,
                object_type="user",
                object_ids=[str(result.user.id)],
                detail={"role": result.user.role, "issuer": claims.get("iss")},
            )
    return _signed_in(
        request, result.user.id, "sso", next_url, issuer=str(claims.get("iss")), linked=result.linked
    )


@router.get("/sso/callback", name="staff_sso_callback")
async def sso_callback(request: Request) -> Response:
    """Finish the SSO flow: check the ID token (Authlib), find the user, start a session (303)."""
    client = _oidc(request)  # imports Authlib (build_oauth)
    from authlib.integrations.base_client import OAuthError

    next_url = request.session.pop("sso_next", HOME)
    try:
        token = await client.authorize_access_token(request)
    except OAuthError as exc:
        return _sign_in_page(request, status_code=400, error=f"Single sign-on failed: {exc.error}")
    claims = dict(token.get("userinfo") or {})
    try:
        return await run_in_threadpool(_sso_sign_in, request, claims, next_url)
    except SsoRefused as exc:
        iss = str(claims.get("iss") or "")
        digest = subject_digest(str(claims.get("email") or f"{iss}#{claims.get('sub')}"))
        await run_in_threadpool(_record_failure, request, digest, "sso_refused")
        return _sign_in_page(request, status_code=403, error=f"Single sign-on refused: {exc}")


@router.get("/static/{name}", name="staff_static")
def static(name: str) -> Response:
    """The staff stylesheet (``staff.css``); 404 for any other name."""
    media_type = _STATIC.get(name)
    if media_type is None:
        raise HTTPException(404, "not found")
    body = files("leadgate.web").joinpath("static", name).read_bytes()
    return Response(body, media_type=media_type, headers={"Cache-Control": "public, max-age=600"})
