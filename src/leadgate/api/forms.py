"""``/v1/forms/{form_id}``: web-form submissions, server to server (signed) or from the embeddable form.

Two ways in, per form (``leadgate.ingest.forms``, ``LEADGATE_FORMS_FILE``):

* **Signed** (a website backend, a form service): the body is signed with the form's Standard Webhooks
  secret (``LEADGATE_FORM_SECRETS``; headers ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``,
  verified by the ``standardwebhooks`` package: HMAC-SHA256, timestamp within 5 minutes either way). A bad
  or missing signature, or a stale timestamp, answers 401 and stores nothing.
* **Browser** (the embeddable form): the page first asks ``POST /v1/forms/{form_id}/tickets`` for a ticket
  (an itsdangerous signature of the form id and the time, keyed by ``LEADGATE_SECRET_KEY``, valid
  ``FORM_TICKET_TTL_S``) and sends it with the submission. Refused (422, kept as a dead letter): a missing,
  forged or expired ticket, a submission sooner than the form's ``min_fill_seconds`` after the ticket, a
  filled honeypot field. The request must come from an allowed ``Origin`` (``LEADGATE_CORS_ORIGINS``,
  also the CORS allowlist) and counts against the per-IP limit of the public endpoints.

Idempotent on the submission id (``submission_id`` in the body, else the ``webhook-id``, else the
ticket): a form submitted twice makes one lead, and the second answer is ``200`` with the same lead id
and ``duplicate: true`` (the first is ``201``). Every submission goes through the ``lead/v1`` contract and
the served mapping's value checks like ``POST /v1/leads`` (422 with ``{path, reason}`` and a dead letter
for bad input) and is qualified by ``batches.qualify_leads_flagged``. A ticked consent checkbox records
consent (``governance.consent.record_consent``, source ``form``, the submission id as evidence).
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.concurrency import run_in_threadpool

from leadgate.api.errors import error_responses
from leadgate.api.leads import value_errors
from leadgate.api.ratelimit import client_ip, ingest_guard
from leadgate.api.state import AppState
from leadgate.batches import qualify_leads_flagged
from leadgate.contracts.decision import Decision
from leadgate.contracts.errors import ContractError
from leadgate.contracts.lead import Storable
from leadgate.db import store
from leadgate.db.channel_models import FORM_SUBMISSIONS
from leadgate.db.engine import write_lock
from leadgate.defaults import default_path
from leadgate.governance.consent import ConsentIn, record_consent
from leadgate.ingest.email.service import first_line
from leadgate.ingest.forms import FormsFile, FormSpec, load_forms, map_submission, submission_key
from leadgate.logs import bind_lead
from leadgate.pipeline import latest_decision

log = logging.getLogger(__name__)

FORM_TICKET_TTL_S = 7200
"""Seconds a form ticket stays valid: two hours, time enough to fill in a form left open in a tab."""

_TICKET_SALT = "leadgate-ticket/form"
ROUTE = "/v1/forms/{form_id}/submissions"

router = APIRouter(prefix="/v1/forms", tags=["forms"])
asset_router = APIRouter(include_in_schema=False)
"""``GET /forms.js``: the embeddable form script (``web/static/forms.js``)."""

_forms_lock = threading.Lock()


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.lg
    return state


def load_app_forms(app: Any) -> FormsFile:
    """Load the forms of this process into ``app.state`` (called at startup by ``create_app``).

    Raises:
        FormsError: the forms file is invalid (one ``file:line:col`` line per problem).
        FileNotFoundError: ``LEADGATE_FORMS_FILE`` names no file.
    """
    settings = app.state.lg.settings
    forms = load_forms(settings.forms_file or default_path("forms.yaml"))
    app.state.lg_forms = forms
    return forms


def served_forms(request: Request) -> FormsFile:
    """The forms of this process (``LEADGATE_FORMS_FILE``, else ``defaults/forms.yaml``), loaded once."""
    app_state = request.app.state
    forms: FormsFile | None = getattr(app_state, "lg_forms", None)
    if forms is None:
        with _forms_lock:
            forms = getattr(app_state, "lg_forms", None)
            if forms is None:
                forms = load_app_forms(request.app)
    return forms


def _form(request: Request, form_id: str) -> FormSpec:
    form = served_forms(request).forms.get(form_id)
    if form is None:
        raise HTTPException(404, f"no form {form_id!r}")
    return form


class SubmissionIn(BaseModel):
    """A form submission.

    Attributes:
        submission_id: the client's id of this submission (a UUID made when the form is shown); a
            resubmission with the same id makes no second lead. Optional: signed posts fall back to the
            ``webhook-id``, browser posts to the ticket.
        fields: form field name -> value as the form has it (text, number, true/false, or null).
        ticket: the browser form's ticket (``POST /v1/forms/{form_id}/tickets``); not used by signed posts.
    """

    model_config = ConfigDict(extra="forbid")
    submission_id: Annotated[str, Field(min_length=1, max_length=200), Storable] | None = None
    fields: dict[
        Annotated[str, Field(min_length=1, max_length=128), Storable],
        Annotated[str, Field(max_length=10_000), Storable] | bool | int | float | None,
    ] = Field(max_length=200)
    ticket: Annotated[str, Field(max_length=500)] | None = None


class SubmissionOut(BaseModel):
    """The answer to a submission.

    Attributes:
        lead_id: the lead it made (the same for every resubmission).
        submission_id: the id it was deduplicated by.
        duplicate: true when this submission was already taken (nothing new was stored).
        decision: the lead's decision (for a duplicate, the latest one; null while the first is still being
            qualified).
        ignored_fields: submitted fields the form does not declare (not stored).
        consents: the consent purposes recorded from ticked checkboxes.
    """

    lead_id: str
    submission_id: str
    duplicate: bool
    decision: Decision | None = None
    ignored_fields: list[str] = Field(default_factory=list)
    consents: list[str] = Field(default_factory=list)


class TicketOut(BaseModel):
    """A browser form's ticket: send it back with the submission, at least ``min_fill_seconds`` later."""

    ticket: str
    expires_in: int
    min_fill_seconds: float


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_TICKET_SALT)


def _limit_ip(request: Request) -> None:
    _state(request).rate_limits.hit_ip(client_ip(request))


def _check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    allowed = _state(request).settings.cors_origins
    if origin is None or origin not in allowed:
        raise HTTPException(
            403 if origin is not None else 400,
            f"browser form posts must come from an allowed Origin (LEADGATE_CORS_ORIGINS), got {origin!r}",
        )


@router.post(
    "/{form_id}/tickets",
    response_model=TicketOut,
    summary="A ticket for the embeddable form (send it with the submission)",
    dependencies=[Depends(_limit_ip)],
    responses=error_responses(400, 403, 404),
)
def create_form_ticket(form_id: str, request: Request) -> TicketOut:
    """Issue a ticket for ``form_id`` when the page shows the form (404 for an unknown or signed-only form)."""
    form = _form(request, form_id)
    if not form.browser:
        raise HTTPException(404, f"form {form_id!r} takes signed server-to-server posts only")
    _check_origin(request)
    ticket = _serializer(_state(request).settings.secret_key).dumps(form_id)
    return TicketOut(ticket=ticket, expires_in=FORM_TICKET_TTL_S, min_fill_seconds=form.min_fill_seconds)


def _refuse(
    lg: AppState, request: Request, body: Any, errors: list[dict[str, Any]], caller: str
) -> HTTPException:
    lg.dead_letter(request.url.path, body, errors, caller)
    return HTTPException(422, errors)


def _verify_signature(lg: AppState, form_id: str, raw: bytes, request: Request) -> str:
    """The ``webhook-id`` of a correctly signed post; 401 otherwise."""
    secret = lg.settings.form_secrets.get(form_id)
    if not secret:
        raise HTTPException(401, f"form {form_id!r} has no signing secret (LEADGATE_FORM_SECRETS)")
    headers = {
        k: request.headers[k]
        for k in ("webhook-id", "webhook-timestamp", "webhook-signature")
        if k in request.headers
    }
    try:
        Webhook(secret).verify(raw, headers, json_parse=False)
    except (WebhookVerificationError, ValueError) as exc:
        raise HTTPException(401, f"signature not accepted: {exc}") from None
    return headers["webhook-id"]


def _browser_checks(
    lg: AppState, form_id: str, form: FormSpec, body: SubmissionIn, request: Request
) -> list[dict[str, str]]:
    """The reasons to refuse a browser submission (empty when it passes)."""
    if form.honeypot and body.fields.get(form.honeypot) not in (None, "", False):
        return [{"path": f"body.fields.{form.honeypot}", "reason": "honeypot field filled: looks like a bot"}]
    if not body.ticket:
        return [{"path": "body.ticket", "reason": f"required: ask POST /v1/forms/{form_id}/tickets first"}]
    try:
        signed_for, issued = _serializer(lg.settings.secret_key).loads(
            body.ticket, max_age=FORM_TICKET_TTL_S, return_timestamp=True
        )
    except SignatureExpired:
        return [{"path": "body.ticket", "reason": "expired: reload the form"}]
    except BadSignature:
        return [{"path": "body.ticket", "reason": "not a valid ticket"}]
    if signed_for != form_id:
        return [{"path": "body.ticket", "reason": "the ticket is for another form"}]
    age = (lg.clock() - issued).total_seconds()
    if age < form.min_fill_seconds:
        return [
            {
                "path": "body.ticket",
                "reason": f"submitted {age:.1f} s after the form was shown, sooner than the "
                f"{form.min_fill_seconds:g} s a person needs: looks like a bot",
            }
        ]
    return []


def _submit(
    lg: AppState, request: Request, form_id: str, raw: bytes, body: SubmissionIn, response: Response
) -> SubmissionOut:
    form = _form(request, form_id)
    signed = "webhook-signature" in request.headers
    caller = f"form:{form_id}" if signed else f"form:{form_id}:ip:{client_ip(request)}"
    if signed:
        if not form.signed:
            raise HTTPException(401, f"form {form_id!r} does not take signed posts")
        webhook_id: str | None = _verify_signature(lg, form_id, raw, request)
    else:
        if not form.browser:
            raise HTTPException(401, f"form {form_id!r} takes signed posts only (Standard Webhooks headers)")
        _check_origin(request)
        lg.rate_limits.hit_ip(client_ip(request))
        webhook_id = None
    document = body.model_dump(mode="json")
    if not signed:
        problems = _browser_checks(lg, form_id, form, body, request)
        if problems:
            log.info("browser form submission refused: %s", problems[0]["reason"].split(":")[0])
            raise _refuse(lg, request, document, problems, caller)
    submission_id = body.submission_id or webhook_id or f"ticket:{body.ticket}"
    now = lg.clock()
    try:
        mapped = map_submission(form_id, form, dict(body.fields), submission_id, now)
        unusable = value_errors(lg, mapped.lead)
        if unusable:
            raise ContractError("lead/v1", unusable)
    except ContractError as exc:
        errors = [{"path": f"body.{e.path}", "reason": e.reason} for e in exc.errors]
        raise _refuse(lg, request, document, errors, caller) from None
    lead = mapped.lead
    bind_lead(lead.lead_id)
    key = submission_key(submission_id)
    with write_lock(lg.engine), lg.engine.begin() as conn:
        claimed = (
            conn.execute(
                store.insert_ignore(conn, FORM_SUBMISSIONS, ["form_id", "submission_key"]).returning(
                    FORM_SUBMISSIONS.c.id
                ),
                {"form_id": form_id, "submission_key": key, "lead_id": lead.lead_id, "received_at": now},
            ).first()
            is not None
        )
    if not claimed:
        log.info("form submission already taken")
        return SubmissionOut(
            lead_id=lead.lead_id,
            submission_id=submission_id,
            duplicate=True,
            decision=latest_decision(lg.engine, lg.qualifier, lead.lead_id),
            ignored_fields=mapped.ignored_fields,
        )
    try:
        decisions, flags = qualify_leads_flagged(
            lg.engine,
            lg.qualifier,
            [lead],
            explain="all",
            personal_attributes=lg.personal_attributes | frozenset(form.personal),
            router=lg.router,
            routes=lg.routes,
        )
        if mapped.consents:
            with write_lock(lg.engine), lg.engine.begin() as conn:
                record_consent(
                    conn,
                    lead.lead_id,
                    [
                        ConsentIn(
                            purpose=c.purpose,
                            granted=True,
                            source="form",
                            wording_version=c.wording_version,
                            given_at=now,
                            evidence={"form_id": form_id, "form_submission_id": submission_id[:256]},
                        )
                        for c in mapped.consents
                    ],
                    actor=f"form:{form_id}",
                    role=None,
                    route=ROUTE,
                    now=now,
                )
    except Exception as exc:
        # give the submission back (a retry may take it) and keep it with the reason
        with write_lock(lg.engine), lg.engine.begin() as conn:
            conn.execute(
                delete(FORM_SUBMISSIONS).where(
                    FORM_SUBMISSIONS.c.form_id == form_id, FORM_SUBMISSIONS.c.submission_key == key
                )
            )
        errors = [{"path": "body", "reason": f"qualifying failed: {type(exc).__name__}: {first_line(exc)}"}]
        lg.dead_letter(request.url.path, document, errors, caller)
        log.exception("form submission could not be qualified")
        raise HTTPException(503, "the submission could not be qualified; it was kept, retry later") from exc
    lg.count_out_of_range(flags)
    response.status_code = 201
    log.info("form lead qualified", extra={"tier": decisions[0].tier, "action": decisions[0].action})
    return SubmissionOut(
        lead_id=lead.lead_id,
        submission_id=submission_id,
        duplicate=False,
        decision=decisions[0],
        ignored_fields=mapped.ignored_fields,
        consents=[c.purpose for c in mapped.consents],
    )


@router.post(
    "/{form_id}/submissions",
    response_model=SubmissionOut,
    summary="Submit a web form: one lead per submission id, qualified at once",
    dependencies=[Depends(ingest_guard)],
    responses=error_responses(400, 401, 403, 404, 503),
)
async def post_submission(
    form_id: str, body: Annotated[SubmissionIn, Body()], request: Request, response: Response
) -> SubmissionOut:
    """Validate, store and qualify one form submission (see the module docstring for the two ways in).

    Answers 201 with the lead and its decision; 200 with ``duplicate: true`` for a submission already
    taken; 401 for a bad signature or a stale timestamp (nothing stored); 404 for an unknown form; 422
    with ``{path, reason}`` per problem (kept as a dead letter) for bad input, a bad ticket, a honeypot or
    a too-fast submission.
    """
    raw = await request.body()  # the bytes as signed (FastAPI has parsed them into ``body``)
    lg = _state(request)
    return await run_in_threadpool(_submit, lg, request, form_id, raw, body, response)


@asset_router.get("/forms.js", name="forms_js")
def forms_js(request: Request) -> Response:
    """The embeddable form script; ``304`` when the browser's ``If-None-Match`` still matches."""
    from leadgate.web.routes import WIDGET_CACHE_CONTROL, _asset, _etag

    etag = _etag("static/forms.js")
    headers = {
        "Cache-Control": WIDGET_CACHE_CONTROL,
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",  # embeddable from any site
    }
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(
        _asset("static/forms.js"), media_type="application/javascript; charset=utf-8", headers=headers
    )
