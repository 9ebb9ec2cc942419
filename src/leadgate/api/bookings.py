"""``/v1/bookings``: the ICS invite of a booked demo.

The booking id is a random UUID handed to the visitor with the booking, so the invite URL works as a
capability link (like the invite attachment of an email). The router reads the database through
``request.app.state.lg.engine``.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, Request, Response
from sqlalchemy import Engine

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
    responses={200: {"content": {"text/calendar": {}}}, 404: {"description": "no such booking"}},
    summary="The ICS invite of a booking",
)
def get_booking_ics(booking_id: str, request: Request) -> Response:
    """The booking's current invite as ``text/calendar``.

    The invite is ``METHOD:REQUEST``, or ``METHOD:CANCEL`` once cancelled; 404 for an unknown (or
    malformed) booking id.
    """
    try:
        canonical = str(uuid.UUID(booking_id))
    except ValueError:
        raise HTTPException(404, f"booking {booking_id!r} not found") from None
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
