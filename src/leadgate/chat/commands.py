"""Carrying out the dialogue engine's commands: qualify, offer slots, book, notify a person.

The engine (``chat.flows.Assistant``) returns commands; :func:`carry_out` runs them with a
:class:`CommandRunner` and feeds each result back through ``assistant.resume`` in a bounded loop, so one
visitor message gives one combined turn. ``ChatService`` calls it with no conversation lock held: the
qualifier writes the lead, decision and outbox in its own transaction, and a booking is atomic in the
booking store (``chat/booking/store.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Engine, select

from leadgate.actions.outbox import enqueue
from leadgate.actions.planning import Routes, plan_action
from leadgate.chat.booking import store as booking_store
from leadgate.chat.booking.scheduler import ICS_PATH
from leadgate.chat.ports import (
    Book,
    BookingResult,
    BotMessage,
    Command,
    CommandResult,
    LeadQualifier,
    NotifyPerson,
    OfferSlots,
    PersonNotifier,
    Qualify,
    Scheduler,
)
from leadgate.chat.transactions import write_transaction
from leadgate.db.store import new_id
from leadgate.errors import LeadgateError

log = logging.getLogger(__name__)

MAX_COMMANDS = 8
"""Commands carried out for one visitor message at most (Qualify, NotifyPerson, OfferSlots, Book and a
retry need five); more means an engine loop, raised as :class:`CommandLoopError`."""


class CommandLoopError(LeadgateError):
    """The engine asked for more than :data:`MAX_COMMANDS` commands in one turn."""


class _Turn(Protocol):
    @property
    def state(self) -> Any: ...
    @property
    def replies(self) -> Sequence[BotMessage]: ...
    @property
    def events(self) -> Sequence[Any]: ...


S = TypeVar("S")


@dataclass
class CarriedTurn(Generic[S]):
    """One visitor message's whole turn: the last state, all replies, events and the commands run."""

    state: S
    replies: list[BotMessage] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)


@dataclass
class CommandRunner:
    """Carries out commands with the real collaborators.

    Args:
        qualifier: decides leads; None answers ``Qualify`` with None (the engine closes with "a colleague
            will review").
        scheduler: offers and books slots; None answers ``OfferSlots`` with no offers.
        notifier: tells a person; None only logs ``NotifyPerson`` (the engine's ``person_notified``
            event is stored with the turn either way).
        bookings: the database of the bookings, to make ``Book`` idempotent: when this conversation
            already holds this slot (a turn that failed after booking, carried out again), the stored
            booking is returned instead of a "taken" refusal. None: always ask the scheduler.
    """

    qualifier: LeadQualifier | None = None
    scheduler: Scheduler | None = None
    notifier: PersonNotifier | None = None
    bookings: Engine | None = None

    def run(self, command: Command, *, now: datetime) -> CommandResult:
        """Carry out ``command``; returns its result (see the command's docstring).

        Raises:
            Exception: whatever the qualifier, scheduler or notifier raise.
        """
        if isinstance(command, Qualify):
            if self.qualifier is None:
                return None
            return self.qualifier.qualify(
                conversation_id=command.conversation_id, slots=command.slots, now=now, notes=command.notes
            )
        if isinstance(command, OfferSlots):
            if self.scheduler is None:
                return []
            return self.scheduler.offer_slots(now=command.after, visitor_tz=command.visitor_tz, n=command.n)
        if isinstance(command, Book):
            if self.scheduler is None:
                return BookingResult(booked=False, offer=command.offer, reason="no scheduler")
            held = already_booked(self.bookings, command) if self.bookings is not None else None
            if held is not None:
                return held
            return self.scheduler.book(
                command.offer,
                conversation_id=command.conversation_id,
                attendee_name=command.attendee_name,
                attendee_email=command.attendee_email,
                visitor_tz=command.visitor_tz,
            )
        if self.notifier is not None:
            self.notifier.notify_person(command, now=now)
        else:
            log.info("person to notify", extra={"reason": command.reason, "lead_id": command.lead_id})
        return None


def already_booked(engine: Engine, command: Book) -> BookingResult | None:
    """The live booking of ``command``'s slot by its own conversation, or None."""
    t = booking_store.bookings
    with engine.connect() as conn:
        booking_id = conn.execute(
            select(t.c.booking_id).where(
                t.c.conversation_id == command.conversation_id,
                t.c.rep_id == command.offer.rep_id,
                t.c.start_at == command.offer.start.astimezone(UTC),
                t.c.status == "booked",
            )
        ).scalar_one_or_none()
    if booking_id is None:
        return None
    return BookingResult(
        booked=True,
        offer=command.offer,
        booking_id=booking_id,
        ics_path=ICS_PATH.format(booking_id=booking_id),
    )


def carry_out(assistant: Any, first: Any, runner: CommandRunner, *, now: datetime) -> CarriedTurn[Any]:
    """Run ``first``'s commands (and those their results lead to) and combine everything into one turn.

    Args:
        assistant: has ``resume(state, command, result, now=)`` (``chat.flows.Assistant``).
        first: the result of ``handle`` (its ``commands`` attribute may be missing: no commands).
        runner: carries the commands out.
        now: the turn's time (aware).

    Returns:
        The final state, the replies and events of every step in order, and the commands run.

    Raises:
        CommandLoopError: more than :data:`MAX_COMMANDS` commands.
        Exception: whatever the runner or the assistant raise.
    """
    combined: CarriedTurn[Any] = CarriedTurn(first.state, list(first.replies), list(first.events))
    queue: list[Command] = list(getattr(first, "commands", ()) or ())
    while queue:
        command = queue.pop(0)
        if len(combined.commands) >= MAX_COMMANDS:
            raise CommandLoopError(f"more than {MAX_COMMANDS} commands in one turn (last: {command.kind})")
        combined.commands.append(command)
        result = runner.run(command, now=now)
        if isinstance(command, NotifyPerson):
            continue
        step = assistant.resume(combined.state, command, result, now=now)
        combined.state = step.state
        combined.replies.extend(step.replies)
        combined.events.extend(step.events)
        queue.extend(getattr(step, "commands", ()) or ())
    return combined


@dataclass
class OutboxNotifier:
    """``PersonNotifier`` through the outbox: a ``notify_rep`` action per destination routed for it.

    The action's payload carries ids and the reason only (no personal data: the person reads the
    conversation in the handoff view). Idempotent per conversation and reason (the outbox's key).

    Args:
        engine: the database of the outbox.
        routes: action kind -> destinations (``leadgate.actions.destinations.load_routes``); no
            ``notify_rep`` destination means nothing is enqueued.
    """

    engine: Engine
    routes: Routes

    def notify_person(self, command: NotifyPerson, *, now: datetime) -> None:
        """Enqueue the ``notify_rep`` actions of ``command`` (nothing without a lead or a destination)."""
        if command.lead_id is None or not self.routes.get("notify_rep"):
            return
        actions = plan_action(
            "notify_rep",
            lead_id=command.lead_id,
            reference=f"{command.reason}:{command.conversation_id}",
            routes=self.routes,
            now=now,
            new_id=new_id,
            decision_id=command.decision_id,
            payload={
                "lead_id": command.lead_id,
                "decision_id": command.decision_id,
                "reason": command.reason,
                "conversation_id": command.conversation_id,
            },
        )
        with write_transaction(self.engine) as conn:
            enqueue(conn, actions)
