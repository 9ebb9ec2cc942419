"""``POST /v1/webhooks/crm/{source}``: a CRM tells leadgate what happened to a lead (issue 9, item 6).

The route is public for the API-key check (``leadgate.api.deps.PUBLIC_ROUTES``): it is authenticated by
the request's signature with the source's secret instead (``leadgate.ingest.crm_events``: HubSpot's
``X-HubSpot-Signature-v3`` for ``hubspot``, Standard Webhooks for any other source). Answers:

* 200 ``{"status": "recorded" | "duplicate" | "ignored" | "batch", "results": [...]}``: every event was
  stored, or had been (a replay answers ``duplicate`` and changes nothing), or carries no outcome;
* 202 the same shape, when an event names no known lead: it is kept as a dead letter with the reason
  (``status: dead``) and is not retried by the sender;
* 401 the signature, timestamp (older than 5 minutes) or headers do not verify: nothing is stored;
* 404 no secret is configured for ``source`` (``LEADGATE_CRM_WEBHOOK_SECRETS``); 500 its secret is not a
  Standard Webhooks secret;
* 422 the body is not a valid event (``errors`` name each problem); it is kept as a dead letter.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from leadgate.api.state import AppState
from leadgate.db.store import utcnow
from leadgate.ingest import crm_events, crm_outcomes

router = APIRouter(prefix="/v1/webhooks/crm", tags=["crm webhooks"])
log = logging.getLogger("leadgate.api.crm_webhooks")


def _uri(request: Request, base_url: str | None) -> str:
    """The URI HubSpot signed: the public base URL (when set) with the request's path and query."""
    if base_url is None:
        return str(request.url)
    query = request.url.query
    return base_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")


def _process(
    lg: AppState, source: str, method: str, uri: str, body: bytes, headers: dict[str, str]
) -> JSONResponse:
    secret = lg.settings.crm_webhook_secrets.get(source)
    if not secret:
        return JSONResponse({"detail": f"no CRM webhook source {source!r} is configured"}, status_code=404)
    now = utcnow()
    try:
        if crm_events.scheme_of(source) == "hubspot":
            crm_events.verify_hubspot(secret, method, uri, body, headers, now)
        else:
            event_id = crm_events.verify_standard(secret, body, headers)
    except crm_events.SignatureError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=401)
    except crm_events.CrmWebhookConfigError as exc:
        log.error("crm webhook %s: %s", source, exc)
        return JSONResponse({"detail": f"CRM webhook source {source!r} is misconfigured"}, status_code=500)
    try:
        if crm_events.scheme_of(source) == "hubspot":
            events = crm_events.parse_hubspot(body, now)
        else:
            events = [crm_events.parse_standard(event_id, body, now)]
    except crm_events.CrmEventError as exc:
        crm_outcomes.reject(lg.engine, source, body, exc, now)
        return JSONResponse({"detail": "invalid event", "errors": exc.errors}, status_code=422)
    results = crm_outcomes.record_events(lg.engine, source, events, body, now)
    out: dict[str, Any] = {
        "status": results[0].status if len(results) == 1 else "batch",
        "results": [r.as_dict() for r in results],
    }
    return JSONResponse(out, status_code=202 if any(r.status == "dead" for r in results) else 200)


@router.post(
    "/{source}",
    responses={
        202: {"description": "accepted; an event named no known lead and was dead-lettered"},
        401: {"description": "signature or timestamp did not verify"},
        404: {"description": "unknown source"},
        422: {"description": "invalid event (dead-lettered)"},
    },
)
async def crm_webhook(source: str, request: Request) -> JSONResponse:
    """Receive signed CRM events (meeting held, opportunity created, won, lost) and record their outcomes."""
    lg: AppState = request.app.state.lg
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    uri = _uri(request, lg.settings.crm_webhook_base_url)
    return await run_in_threadpool(_process, lg, source, request.method, uri, body, headers)
