"""Short-lived signed tickets: what a URL carries instead of a token (issue 8, item 11).

A browser cannot send headers with ``EventSource`` or a plain link, so the visitor's long-lived
conversation token would have to travel in the URL, where it lands in server logs, proxies and browser
history. Instead the widget asks ``POST /v1/conversations/{id}/tickets`` (with its
``X-Conversation-Token`` header) for a ticket: an itsdangerous ``URLSafeTimedSerializer`` signature
(HMAC-SHA1 over the payload and a timestamp, keyed by ``LEADGATE_SECRET_KEY`` with a per-purpose salt)
of one object id, valid for ``TTL_S[purpose]`` seconds and only for that purpose and object:

* ``events``: opens ``GET /v1/conversations/{id}/events?ticket=...`` within 60 s (an open stream runs on
  until its own timeout; a reconnect needs a new ticket);
* ``ics``: downloads ``GET /v1/bookings/{booking_id}.ics?ticket=...`` within 10 minutes.

https://itsdangerous.palletsprojects.com/en/stable/url_safe/ ; https://itsdangerous.palletsprojects.com/en/stable/timed/
"""

from __future__ import annotations

from typing import Final, Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from leadgate.errors import LeadgateError

Purpose = Literal["events", "ics"]

TTL_S: Final[dict[str, int]] = {"events": 60, "ics": 600}
"""Seconds a ticket stays valid, per purpose: a stream opens at once; a download link waits for a click."""


class TicketError(LeadgateError, ValueError):
    """A ticket that is malformed, signed for another purpose or object, or expired."""


def _serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=f"leadgate-ticket/{purpose}")


def issue_ticket(secret_key: str, purpose: Purpose, object_id: str) -> str:
    """A ticket for ``object_id`` (a conversation or booking id) and ``purpose``, URL-safe text."""
    return _serializer(secret_key, purpose).dumps(object_id)


def check_ticket(secret_key: str, purpose: Purpose, object_id: str, ticket: str) -> None:
    """Accept ``ticket`` only if signed with ``secret_key`` for ``purpose`` and ``object_id``, within ``TTL_S``.

    Raises:
        TicketError: a bad signature, another purpose or object, or expired.
    """
    try:
        signed_for = _serializer(secret_key, purpose).loads(ticket, max_age=TTL_S[purpose])
    except SignatureExpired as exc:
        raise TicketError(f"the {purpose} ticket has expired; ask for a new one") from exc
    except BadSignature as exc:
        raise TicketError(f"not a valid {purpose} ticket") from exc
    if signed_for != object_id:
        raise TicketError(f"the {purpose} ticket is for another object")
