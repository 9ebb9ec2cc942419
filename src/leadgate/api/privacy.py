"""``/v1/privacy``: erasure (GDPR Art. 17) and export (Art. 15) of one person's data, by email.

``POST /v1/privacy/erasures`` needs ``privacy:erase`` (admin); ``GET /v1/privacy/exports?email=`` needs
``privacy:export`` (admin). Both find the person through the email's blind index and write an access-log
entry (``erase`` in the erasure's transaction; ``export`` after reading). See ``leadgate.privacy``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from leadgate.api.deps import Caller, require, route_path
from leadgate.api.state import AppState
from leadgate.audit.access import log_access, record_access
from leadgate.governance.roles import PRIVACY_ERASE, PRIVACY_EXPORT
from leadgate.privacy.erase import erase_person
from leadgate.privacy.export import export_person

router = APIRouter(prefix="/v1/privacy", tags=["privacy"])

EMAIL_PATTERN = r"^[^@]+@[^@]+$"
"""Any address with exactly one ``@`` (the pattern reads the same in JSON Schema and Python).

Erasure and export look the person up by what was stored, which need not be deliverable (a ``.test``
address, a typo kept from a form), so there is no stricter check.
"""

Email = Annotated[str, Field(min_length=3, max_length=320, pattern=EMAIL_PATTERN)]


class ErasureIn(BaseModel):
    """Whose data to erase (the email as it was given, see ``EMAIL_PATTERN``), and why."""

    email: Email
    reason: Annotated[str, Field(max_length=500)] | None = None


class ErasureOut(BaseModel):
    """The tombstone of the erasure and the rows erased or deleted per table."""

    tombstone_id: str
    counts: dict[str, int]


@router.post(
    "/erasures",
    status_code=201,
    response_model=ErasureOut,
    summary="Erase a person's personal data",
    dependencies=[require(PRIVACY_ERASE)],
)
async def post_erasure(request: Request, principal: Caller, body: Annotated[ErasureIn, Body()]) -> ErasureOut:
    """Erase everything held about ``email`` (leads, conversations, bookings, dead letters); 201 with counts."""
    lg: AppState = request.app.state.lg
    assert principal is not None
    actor = principal.subject or principal.name
    route = route_path(request)

    def record(conn: Any, tombstone_id: str, counts: dict[str, int]) -> None:
        record_access(
            conn,
            actor=actor,
            role=principal.role,
            action="erase",
            route=route,
            object_type="tombstone",
            object_ids=[tombstone_id],
            detail={"counts": counts},
        )

    summary = await run_in_threadpool(
        erase_person, lg.engine, str(body.email), requested_by=actor, reason=body.reason, record=record
    )
    return ErasureOut(tombstone_id=summary.tombstone_id, counts=summary.counts)


@router.get(
    "/exports",
    summary="Everything held about a person (JSON)",
    dependencies=[require(PRIVACY_EXPORT)],
)
async def get_export(
    request: Request,
    principal: Caller,
    email: Annotated[str, Query(min_length=3, max_length=320, pattern=EMAIL_PATTERN)],
) -> dict[str, Any]:
    """The ``privacy_export/v1`` document of ``email`` (``leadgate.privacy.export``); 422 for a non-address."""
    lg: AppState = request.app.state.lg
    assert principal is not None
    doc, found = await run_in_threadpool(export_person, lg.engine, email)
    await run_in_threadpool(
        lambda: log_access(
            lg.engine,
            actor=principal.subject or principal.name,
            role=principal.role,
            action="export",
            route=route_path(request),
            object_type="lead",
            object_ids=found.lead_ids,
            detail={
                "conversations": len(found.conversation_ids),
                "bookings": len(found.booking_ids),
                "dead_letters": len(found.dead_letter_ids),
            },
        )
    )
    return doc
