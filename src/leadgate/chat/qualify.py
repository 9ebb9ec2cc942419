"""Qualify a chat conversation's lead in real time: slots -> ``Lead`` -> the qualification pipeline.

The dialogue engine calls ``ChatLeadQualifier.qualify(conversation_id=..., slots=..., now=...)`` once the
required slots are filled. The slots become a ``Lead`` (``lead/v1``, ``lead_id = "chat-" +
conversation_id``, ``source = "chat"``) whose attributes are the BANT and ICP facts the visitor stated
(all pre-decision: nothing sales records later exists for a chat lead). The lead and its decision are
stored by the existing pipeline (``pipeline.qualify_leads``): the same leads table, the same hash-chained
decision log, the explanation stored inline.

There is no trained model for chat leads (no labelled chat conversations): the chat ``Qualifier`` scores
with the rule fallback over the BANT fit points of ``defaults/chat_fit.yaml``, and every decision records
``scorer = rule_fallback`` and its reason. ``defaults/chat_policy.yaml`` turns the points into a tier and
an action. The slot -> attribute mapping, the points and the policy are explained in
``docs/chat-qualification.md``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine

from leadgate.actions.outbox import enqueue
from leadgate.actions.planning import Routes, plan_action
from leadgate.chat.booking.store import Booking
from leadgate.chat.ports import ChatDecision
from leadgate.contracts.decision import Decision
from leadgate.db import store, write_lock
from leadgate.db.store import utcnow
from leadgate.defaults import default_path
from leadgate.features import load_feature_set
from leadgate.ingest.chat import (  # noqa: F401  (re-exported: the builder moved to ingest)
    BANDED_CURRENCIES,
    CHAT_ATTRIBUTES,
    LEAD_ID_PREFIX,
    PERIOD_FACTORS,
    SOURCE,
    SlotError,
    build_chat_lead,
    lead_from_chat_slots,
)
from leadgate.pipeline import Qualifier, latest_decision, lead_row, qualify_leads
from leadgate.policy import Policy, load_policy
from leadgate.routing import Router, assign_booking
from leadgate.scoring import FitScorer, RuleFallbackScorer
from leadgate.scoring.rules import load_fit_rules

if TYPE_CHECKING:
    from leadgate.config import Settings

FEATURES_FILE = "chat_features.yaml"
FIT_RULES_FILE = "chat_fit.yaml"
POLICY_FILE = "chat_policy.yaml"

# --------------------------------------------------------------------------- the qualifier


def load_chat_qualifier(policy: Policy | None = None) -> Qualifier:
    """The ``Qualifier`` for chat leads: no model, the chat feature set, fit rules and policy.

    Args:
        policy: the chat policy; None loads the shipped ``defaults/chat_policy.yaml``.

    Returns:
        ``Qualifier(model=None, ...)``: every lead is scored by ``RuleFallbackScorer`` over
        ``defaults/chat_fit.yaml`` (probability = the band of its fit points, confidence 0.2) and decided by
        ``policy``.

    Raises:
        LeakageError: the chat feature set reads an attribute a chat lead does not carry.
        ValueError: the policy reads an attribute a chat lead does not carry (a typo would never match).
        PolicyError, ContractError: an invalid shipped file or policy.
    """
    feature_set = load_feature_set(default_path(FEATURES_FILE))
    feature_set.check_sources(CHAT_ATTRIBUTES)
    if policy is None:
        policy = load_policy(default_path(POLICY_FILE))
    unknown = sorted(policy.attribute_names() - CHAT_ATTRIBUTES.keys())
    if unknown:
        raise ValueError(
            f"policy {policy.ref} reads attributes chat leads do not have: {', '.join(unknown)} "
            f"(chat attributes: {', '.join(sorted(CHAT_ATTRIBUTES))})"
        )
    rules = load_fit_rules(default_path(FIT_RULES_FILE))
    return Qualifier(None, policy, FitScorer(rules).fit(), RuleFallbackScorer(rules).fit(), feature_set)


def chat_decision(decision: Decision) -> ChatDecision:
    """The assistant's view (``ChatDecision``) of a stored ``Decision``."""
    return ChatDecision(
        lead_id=decision.lead_id,
        decision_id=decision.decision_id,
        tier=decision.tier,
        action=decision.action,
        probability=decision.score.probability,
        review_required=decision.review_required,
        reasons=list(decision.reasons),
    )


class ChatLeadQualifier:
    """``ports.LeadQualifier``: stores a conversation's lead and its audited decision.

    Idempotent per conversation: qualifying again with the same slots (same lead content) under the same
    policy, feature set and rules returns the stored decision and writes nothing. Changed slots update the
    lead row (one row per conversation) and append a new decision for it; the decision log is append-only,
    so earlier decisions stay, and ``pipeline.latest_decision`` returns the newest. Calls on one instance
    are serialized; two processes qualifying the same unchanged conversation at the same instant may both
    append a decision (the same outcome twice, both in the audit chain).

    The visitor's answer to the consent question is recorded as consent to (or refusal of) a rep's e-mail
    and call (``email_sales``, ``phone_sales``; source ``chat``, wording version ``consent_wording``) in
    ``leadgate.governance.consent`` whenever a new decision is stored.

    Args:
        engine: the store (SQLite or PostgreSQL, migrated).
        qualifier: scores and decides chat leads (``load_chat_qualifier()``).
        consent_wording: the version of the consent question's text (``build_assistant`` sets the flow's
            reference and a digest of the question).
        router: routes chat leads the way the leads API does (``leadgate.routing``: the main policy's
            routing section over the reps file), in the decision's transaction; None routes nothing.
        routes: action kind -> destinations (``leadgate.actions.destinations.load_routes``): the decision's
            actions, and the invite of a demo booked in chat, are written to the outbox in their
            transaction; None writes none.
    """

    def __init__(
        self,
        engine: Engine,
        qualifier: Qualifier,
        consent_wording: str = "chat",
        router: Router | None = None,
        routes: Routes | None = None,
    ):
        self.engine = engine
        self.qualifier = qualifier
        self.consent_wording = consent_wording
        self.router = router
        self.routes = routes
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, engine: Engine, settings: Settings) -> ChatLeadQualifier:
        """Build one from settings: ``settings.chat_policy_file``, or the shipped chat policy when None.

        Raises:
            FileNotFoundError, PolicyError, ValueError: see ``load_policy`` and ``load_chat_qualifier``.
        """
        policy = load_policy(settings.chat_policy_file) if settings.chat_policy_file is not None else None
        return cls(engine, load_chat_qualifier(policy))

    def qualify(
        self, *, conversation_id: str, slots: dict[str, Any], now: datetime, notes: Sequence[str] = ()
    ) -> ChatDecision:
        """Store the lead built from ``slots`` and its decision; return the decision.

        Args:
            conversation_id: the conversation (the lead is ``chat-<conversation_id>``).
            slots: slot name -> normalized value (see ``build_chat_lead``).
            now: time of qualification (``received_at``; the timeline's days are counted from it).
            notes: statements of the visitor that answered no slot, kept as the lead's ``visitor_notes``.

        Returns:
            The decision: tier, action (``route_to_sales`` for hot: offer demo slots; ``nurture``: offer
            resources; ``discard``: a polite close; ``human_review``: a person follows up), the band
            probability of the rule fallback, the review flag and the policy's reasons.

        Raises:
            SlotError: a slot value that cannot be read, naming the slot.
            ValueError, TypeError: see ``build_chat_lead``.
            sqlalchemy.exc.SQLAlchemyError: the store cannot be written (nothing is stored then).
        """
        lead = lead_from_chat_slots(conversation_id, slots, now, notes=notes)
        row = lead_row(lead, None)
        with self._lock:
            previous = self._unchanged_decision(lead.lead_id, row["content_hash"], row["input_hash"])
            if previous is not None:
                return chat_decision(previous)
            decision = qualify_leads(
                self.engine, self.qualifier, [lead], explain="all", router=self.router, routes=self.routes
            )[0]
            self._record_consent(conversation_id, lead.lead_id, slots.get("consent"), now)
        return chat_decision(decision)

    def booked(self, conn: Connection, booking: Booking) -> None:
        """Assign the conversation's lead to the rep whose calendar holds the booked demo (rule ``booking``).

        ``CalendarScheduler(on_booked=...)`` calls it inside the booking's transaction, so the booking and
        the assignment (with its ``assigned`` / ``reassigned`` work event) commit together, with the
        ``invite`` action (the ICS to the visitor and the rep) in the outbox when ``routes`` sends invites
        somewhere. Nothing happens for a booking outside a conversation; no assignment without a router or
        for a lead not decided yet.
        """
        if booking.conversation_id is None:
            return
        lead_id = LEAD_ID_PREFIX + booking.conversation_id
        if self.routes is not None and self.routes.get("invite"):
            enqueue(
                conn,
                plan_action(
                    "invite",
                    lead_id=lead_id,
                    reference=booking.booking_id,
                    routes=self.routes,
                    now=booking.created_at,
                    new_id=store.new_id,
                    payload={"booking_id": booking.booking_id, "rep_id": booking.rep_id},
                ),
            )
        if self.router is None:
            return
        assign_booking(
            conn,
            lead_id=lead_id,
            rep_id=booking.rep_id,
            booking_id=booking.booking_id,
            start=booking.start,
            now=booking.created_at,
            policy_ref=self.router.policy_ref,
            directory=self.router.directory,
        )

    def _record_consent(self, conversation_id: str, lead_id: str, answer: Any, now: datetime) -> None:
        """Record the consent question's answer (yes or no) for a rep's e-mail and call; nothing if unanswered."""
        from leadgate.governance.consent import ConsentIn, in_force, record_consent, statements

        if not isinstance(answer, bool):
            return
        with write_lock(self.engine), self.engine.begin() as conn:
            known = statements(conn, lead_id)
            purposes = [
                p
                for p in ("email_sales", "phone_sales")
                if (s := in_force(known, p)) is None or s.origin != "consents" or s.granted != answer
            ]
            items = [
                ConsentIn(
                    purpose=p,
                    granted=answer,
                    source="chat",
                    wording_version=self.consent_wording,
                    given_at=now,
                    evidence={"conversation_id": conversation_id},
                )
                for p in purposes
            ]
            record_consent(
                conn, lead_id, items, actor="chat", role=None, route="chat", now=max(now, utcnow())
            )

    def _unchanged_decision(self, lead_id: str, content_hash: str, input_hash: str) -> Decision | None:
        """The latest decision when the stored lead and the deciding versions are unchanged, else None."""
        with self.engine.connect() as conn:
            stored = store.existing_lead_hashes(conn, [lead_id]).get(lead_id)
        if stored != content_hash:
            return None
        previous = latest_decision(self.engine, self.qualifier, lead_id, explain=False)
        q = self.qualifier
        if previous is None or (
            previous.input_hash,
            previous.policy_version,
            previous.score.feature_set,
            previous.score.model_hash,
        ) != (input_hash, q.policy_ref, q.feature_set.ref, q.model_hash):
            return None
        return previous
