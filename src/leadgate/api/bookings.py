"""``/v1/bookings``: the ICS invite of a booked demo.

The invite URL carries a short-lived signed ticket of the booking (``leadgate.api.tickets``), which the
visitor's widget gets with its conversation token: the booking id alone opens nothing, and no long-lived
secret travels in a URL. The router reads the database through ``request.app.state.lg.engine``.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from sqlalchemy import Engine

from leadgate.api.tickets import TicketError, check_ticket
from leadgate.chat.booking.store import get_booking

router = APIRouter(prefix="/v1/bookings", tags=["bookings"])

ICS_MEDIA_TYPE = "text/calendar; charset=utf-8"
"""Media type of ICS files (RFC 5545 section 8.1)."""


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.lg.engine
    return engine


@router.get(
    "/{booking_id}.ics",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}},
        403: {"description": "wrong or expired ticket"},
        404: {"description": "no such booking"},
    },
    summary="The ICS invite of a booking",
)
def get_booking_ics(
    booking_id: str,
    request: Request,
    ticket: Annotated[str, Query(min_length=1, max_length=512, description="an ICS ticket of this booking")],
) -> Response:
    """The booking's current invite as ``text/calendar``.

    The invite is ``METHOD:REQUEST``, or ``METHOD:CANCEL`` once cancelled. The URL carries a short-lived
    ICS ticket for this booking (``POST /v1/conversations/{id}/tickets``, valid 10 minutes), never a
    long-lived secret: 403 for a wrong or expired ticket, 404 for an unknown (or malformed) booking id.
    """
    try:
        canonical = str(uuid.UUID(booking_id))
    except ValueError:
        raise HTTPException(404, f"booking {booking_id!r} not found") from None
    try:
        check_ticket(request.app.state.lg.settings.secret_key, "ics", canonical, ticket)
    except TicketError as exc:
        raise HTTPException(403, str(exc)) from exc
    booking = get_booking(_engine(request), canonical)
    if booking is None:
        raise HTTPException(404, f"booking {booking_id!r} not found")
    return Response(
        content=booking.ics,
        media_type=ICS_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="demo-{canonical}.ics"',
            "Cache-Control": "no-store",
        },
    )
