"""Meeting invites: the ICS of a booked demo, e-mailed to the visitor and the rep (destination ``invite``).

For an action of kind ``invite`` (payload ``booking_id``), ``IcsInvite`` reads the booking (its stored
invite, written by ``leadgate.chat.booking.ics.build_invite``: ``METHOD:REQUEST``, ``UID`` stable from the
booking id, ``ORGANIZER`` the rep from the calendars file, the visitor an ``ATTENDEE``) and mails it to
the visitor and the organizing rep. The message follows iMIP (RFC 6047): a ``multipart/mixed`` whose
first part is ``multipart/alternative`` (a short text, and the calendar as ``text/calendar;
method=REQUEST``), and the same calendar attached as ``invite.ics`` (``application/ics``) for clients that
only read attachments.

Sending goes through ``leadgate.adapters.email.SmtpSender`` (the one SMTP code: same configuration,
reply classes, ``Message-ID`` from the idempotency key and sent-marker; the same at-least-once caveat).
The consent gate (``leadgate.actions.gate``) lets an invite through only for a booking that is still
booked, to a lead who has not objected to sales e-mail.
"""

from __future__ import annotations

from datetime import UTC
from typing import ClassVar

from icalendar import Calendar
from pydantic import BaseModel
from sqlalchemy import Engine

from leadgate.actions.ports import Delivered, Delivery, DestinationContext, PermanentDeliveryError
from leadgate.adapters.email import EmailConfigError, SmtpConfig, SmtpSender, templates
from leadgate.contracts.action import ActionKind


class InviteConfig(SmtpConfig):
    """Configuration of the ``invite`` destination: the SMTP settings (``adapters.email.SmtpConfig``)."""


def _address(value: object) -> tuple[str, str]:
    """``(CN, e-mail)`` of an ``ORGANIZER`` / ``ATTENDEE`` property (``mailto:`` removed)."""
    text = str(value)
    email = text[7:] if text.lower().startswith("mailto:") else text
    params = getattr(value, "params", {})
    return str(params.get("CN", "")), email


class IcsInvite:
    """Destination ``invite``: e-mails the booked demo's ICS to the visitor and the rep.

    Args:
        config: validated ``IcsInvite.Config``.
        context: the worker's context (its engine holds the bookings and the sent-markers).

    Raises:
        EmailConfigError: the AUTH password variable is not set, or the context has no engine.
    """

    name: ClassVar[str] = "invite"
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({"invite"})
    Config: ClassVar[type[BaseModel]] = InviteConfig

    def __init__(self, config: InviteConfig, context: DestinationContext) -> None:
        if context.engine is None:
            raise EmailConfigError(
                "invite: the destination reads the bookings, so it needs the leadgate database"
            )
        self.config = config
        self.engine: Engine = context.engine
        self.sender = SmtpSender(self.name, config, context)

    def deliver(self, delivery: Delivery) -> Delivered:
        """Send the invite of ``payload.booking_id`` once where possible.

        Raises:
            PermanentDeliveryError: no ``booking_id``, an unknown booking, an invite that is not a calendar
                with one event; SMTP 5yz.
            RetryableDeliveryError: SMTP 4yz, the server not reachable.
        """
        from leadgate.chat.booking.store import read_booking

        action = delivery.action
        booking_id = action.payload.get("booking_id")
        if not isinstance(booking_id, str) or not booking_id:
            raise PermanentDeliveryError("invite: the action has no payload.booking_id")
        with self.engine.connect() as conn:
            booking = read_booking(conn, booking_id)
        if booking is None:
            raise PermanentDeliveryError(f"invite: booking {booking_id} does not exist")
        try:
            calendar = Calendar.from_ical(booking.ics)
            (event,) = calendar.events
        except ValueError as exc:
            raise PermanentDeliveryError(
                f"invite: booking {booking_id} has no single-event ICS: {exc}"
            ) from exc
        method = str(calendar.get("METHOD", "REQUEST"))
        organizer_name, organizer_email = _address(event.get("ORGANIZER"))
        start = booking.start.astimezone(UTC)
        summary = str(event.get("SUMMARY", "Demo"))
        recipients = [(booking.attendee_name, booking.attendee_email), (organizer_name, organizer_email)]
        message = self.sender.new_message(action.idempotency_key, summary, recipients)
        text = (
            templates()
            .get_template("invite.txt")
            .render(
                attendee_name=booking.attendee_name,
                company=delivery.lead.get("company"),
                organizer_name=organizer_name,
                organizer_email=organizer_email,
                summary=summary,
                when=f"{start:%a %d %b %Y, %H:%M} UTC ({booking.attendee_tz} and the rep's zone are in the invite)",
                booking_id=booking_id,
            )
        )
        message.set_content(text)
        message.add_alternative(booking.ics, subtype="calendar", params={"method": method})
        message.add_attachment(
            booking.ics.encode("utf-8"), maintype="application", subtype="ics", filename="invite.ics"
        )
        return self.sender.send_once(action.idempotency_key, message)

    def close(self) -> None:
        """Nothing to release: each send opens and closes its own SMTP connection."""
