"""Application factory: settings, database engine, the loaded qualifier, routers and error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from leadgate import __version__
from leadgate.api.deps import (
    FLOW_COOKIE,
    authenticate,
    check_csrf,
    document_security,
    index_routes,
    reject_anonymous,
)
from leadgate.api.docs_pages import add_docs_pages
from leadgate.api.errors import check_request_values, document_errors
from leadgate.api.limits import BodySizeLimit
from leadgate.api.middleware import REQUEST_ID_HEADER, RequestLog, SecurityHeaders
from leadgate.api.ratelimit import RateLimited, caller_id, rate_limited_response
from leadgate.api.state import AppState, ChatFactory, no_chat
from leadgate.config import Settings, get_settings
from leadgate.contracts.errors import _SCALAR_REASON, _SCALAR_UNION_TAGS


def field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI validation errors as ``[{path, reason, type}]`` with dotted paths (``body.attributes.x``)."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        reason = err.get("msg", "")
        if len(loc) >= 2 and loc[-1] in _SCALAR_UNION_TAGS:
            # the message of the first union member ("should be a valid boolean") would mislead
            loc, reason = loc[:-1], _SCALAR_REASON
        out.append({"path": ".".join(loc), "reason": reason, "type": err.get("type", "")})
    # one entry per path: union members each report the same path
    seen: dict[str, dict[str, Any]] = {}
    for e in out:
        seen.setdefault(e["path"], e)
    return list(seen.values())


def create_app(
    settings: Settings | None = None, state: AppState | None = None, chat_factory: ChatFactory = no_chat
) -> FastAPI:
    """Build the leadgate API.

    Args:
        settings: defaults to ``get_settings()``.
        state: an already-built ``AppState`` (tests, the benchmark); else built at startup from settings.
        chat_factory: builds the chat service when ``state`` is built at startup (default: no chat; the
            chat endpoints then answer 503).
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = state is None
        app.state.lg = state or AppState.from_settings(settings, chat_factory)
        from leadgate.api.forms import load_app_forms

        load_app_forms(app)  # an invalid forms file stops the server at startup, not at the first post
        try:
            yield
        finally:
            if own:
                app.state.lg.close()

    app = FastAPI(
        title="leadgate",
        version=__version__,
        description="Qualify leads: validate, store, score, decide and explain. Every decision is audited.",
        lifespan=lifespan,
        # the docs pages are served by api/docs_pages.py, with their own Content-Security-Policy
        docs_url=None,
        redoc_url=None,
        # deny by default: every route needs credentials unless listed in deps.PUBLIC_ROUTES; then the
        # CSRF token of every unsafe request that rides on a cookie; then no NUL or unpaired surrogate in
        # a path, query or header value, no unknown query parameter (422)
        dependencies=[Depends(authenticate), Depends(check_csrf), Depends(check_request_values)],
    )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # a body that is not JSON fails before the dependencies run: answer as the route would (401)
        refused = await reject_anonymous(request)
        if refused is not None:
            return refused
        errors = field_errors(exc)
        lg: AppState = request.app.state.lg
        # Keep the body exactly as sent (parsed JSON would turn NaN or Infinity into null).
        raw = await request.body()
        body = {"body_text": raw.decode("utf-8", errors="replace")}
        try:
            await run_in_threadpool(lg.dead_letter, request.url.path, body, errors, caller_id(request))
        except RateLimited as limited:  # the caller's dead-letter quota is used up: nothing stored
            return await rate_limited_response(request, limited)
        return JSONResponse(status_code=422, content={"detail": errors})

    app.add_exception_handler(RateLimited, rate_limited_response)

    from leadgate.api import bookings, consent, conversations, crm_webhooks, handoffs, health, leads, privacy
    from leadgate.api import forms as web_forms
    from leadgate.web import routes as web_routes
    from leadgate.web import staff, staff_handoffs, staff_inbox, staff_review

    app.include_router(health.router)
    app.include_router(leads.router)
    app.include_router(consent.router)
    app.include_router(privacy.router)
    app.include_router(conversations.router)
    app.include_router(handoffs.router)
    app.include_router(bookings.router)
    app.include_router(crm_webhooks.router)
    app.include_router(web_forms.router)
    app.include_router(web_forms.asset_router)
    app.include_router(web_routes.router)
    app.include_router(staff.router)
    app.include_router(staff_handoffs.router)
    app.include_router(staff_review.router)
    app.include_router(staff_inbox.router)
    add_docs_pages(app)
    # which route is which path: the auth dependency decides public or protected by it (deps.PUBLIC_ROUTES)
    app.state.route_paths = index_routes(app)
    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(document_security(generate_openapi()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # the short-lived signed cookie of the sign-in form's CSRF token and of the SSO state and nonce
    # (Authlib keeps them in request.session); the staff session itself is lg_session (deps, web.staff)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=FLOW_COOKIE,
        max_age=3600,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    # Added last, so outermost: errors of the inner layers (413, 429) carry the CORS headers too.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=[
            "Content-Type",
            "X-Conversation-Token",
            "Authorization",
            "Last-Event-ID",
            REQUEST_ID_HEADER,
        ],
        expose_headers=["Retry-After", REQUEST_ID_HEADER],
        max_age=600,
    )
    # the client address behind a reverse proxy: X-Forwarded-For only from LEADGATE_TRUSTED_PROXIES (none
    # by default), so a client cannot pick its address (and its rate limit) with a forged header
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    app.add_middleware(SecurityHeaders)
    # outermost: every answer (413, 429, a CORS preflight) has a request id and one access log record
    app.add_middleware(RequestLog)
    return app
