"""The dialogue engine: a flow, a state and a message in; the next state, replies, events, commands out.

The engine is pure: no database, no scheduler, no qualifier. What must happen in the outside world comes
back as **commands** (``Qualify``, ``OfferSlots``, ``Book``, ``NotifyPerson`` in ``leadgate.chat.ports``)
that ``ChatService`` carries out after the turn, outside any conversation lock; each result goes back
through :meth:`Assistant.resume`, which may return more commands (Qualify -> decision -> OfferSlots ->
offers -> replies). The knowledge base is in-memory retrieval over the company's documents (pure, no I/O
after loading) and stays a port the engine calls (``KnowledgeAnswerer``); the optional language model
(``LanguageModel``) is called while the engine runs, which is why the service runs the engine with no
lock held. Visitor text is only data: it fills slots and picks intents, never changes what the assistant
is told to do, and no reply echoes the flow's configuration.

One turn (``Assistant.handle``), in order:

1. A conversation a person has (``handoff``) gets no reply; the engine only records ``held_for_person``.
2. The message is understood (``understand.py``): NLU intent and entities (with the pending question's
   entity type as a hint), the language model's slots, VADER sentiment.
3. Spam and job-seeker messages end the flow (``outcome``); such a conversation is never qualified.
4. Every slot value in the message is taken (``filling.py``): entities for every open slot they fit, the
   language model's values, an answer read in the pending slot's context, explicit changes ("change
   company to X"). "skip", "I'd rather not say" and "later" work; a slot asked twice without success moves
   to the end and is asked once more there. A statement that answers no slot is kept as context.
5. A request for a person, a clearly negative message, or too many consecutive misunderstandings hand the
   conversation to a person.
6. Questions are answered from the knowledge base (or honestly not), then the pending slot is asked again.
7. The last question comes with a summary of what was collected (fix anything, or answer). When every slot
   is in: consent declined ends the flow without qualifying; otherwise ``Qualify``; the reply follows the
   decision (demo slots via ``OfferSlots``, resources, review, polite close). A high-value lead is offered
   slots too, and a person is told (``NotifyPerson``). A picked slot is booked with ``Book``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from leadgate.chat.flows.filling import FillingPart
from leadgate.chat.flows.model import Flow
from leadgate.chat.flows.outcomes import OFFERS_SHOWN, OutcomesPart
from leadgate.chat.flows.phrasing import faithful
from leadgate.chat.flows.picking import pick_offer
from leadgate.chat.flows.state import ConversationState, TurnResult
from leadgate.chat.flows.turn import HANDOFF_OPTION, Turn, aware, phrase_list, zone
from leadgate.chat.flows.understand import GREETING, QUESTION_INTENTS, WORD, Understanding
from leadgate.chat.nlu import NLU, default_nlu
from leadgate.chat.ports import (
    Book,
    BookingResult,
    ChatDecision,
    Command,
    CommandResult,
    KnowledgeAnswerer,
    LanguageModel,
    NotifyPerson,
    OfferSlots,
    Qualify,
)

__all__ = ["HANDOFF_OPTION", "OFFERS_SHOWN", "QUESTION_INTENTS", "Assistant", "faithful"]


class Assistant(OutcomesPart, FillingPart):
    """The website chat assistant for one flow.

    Args:
        flow: the qualification flow.
        kb: answers product, pricing and support questions (``grounded=False`` means "I don't know");
            in-memory retrieval, no I/O per question.
        nlu: the NLU; None means ``default_nlu()`` (loaded from its prebuilt artifact; its warm-up runs in
            the background, so a server starts without waiting for it).
        llm: an optional language model: extracts slots (validated like NLU values) and rephrases plain
            replies; a None answer falls back to the NLU and the flow's own text.
        region: ISO 3166-1 alpha-2 default region for phone numbers and numeric dates.

    Raises:
        ValueError: if ``region`` is unknown to the NLU.
    """

    def __init__(
        self,
        flow: Flow,
        *,
        kb: KnowledgeAnswerer,
        nlu: NLU | None = None,
        llm: LanguageModel | None = None,
        region: str = "US",
    ) -> None:
        self.flow = flow
        self.kb = kb
        self.nlu = nlu if nlu is not None else default_nlu(warm_up="background")
        self.llm = llm
        self.region = region
        self._slots = flow.ordered_slots()
        self._person = flow.slot_of_type("person_name")
        self._email = flow.slot_of_type("work_email")
        self._company = flow.slot_of_type("company_name")
        self._consent = flow.slot_of_type("consent")
        self._cue = phrase_list(flow.correction_cues)
        self._skip = phrase_list(flow.skip_phrases)
        self._later = phrase_list(flow.later_phrases)
        self.nlu.extractor.extract("warm up", datetime(2026, 1, 1), region=region)

    # ------------------------------------------------------------------ public

    def start(self, *, conversation_id: str, now: datetime, visitor_tz: str) -> TurnResult:
        """Open a conversation: the greeting and the first question.

        Args:
            conversation_id: the conversation's id.
            now: the current time (aware).
            visitor_tz: the visitor's IANA time zone (e.g. ``Europe/Berlin``).

        Returns:
            The first state (turn 0), the greeting and the first ``ask``, and a ``flow_started`` event.

        Raises:
            ValueError: if ``now`` is naive or ``visitor_tz`` is unknown.
        """
        aware(now)
        zone(visitor_tz)
        state = ConversationState(conversation_id=conversation_id, flow=self.flow.ref, visitor_tz=visitor_tz)
        turn = Turn(state)
        turn.event("flow_started", flow=self.flow.ref)
        turn.say(self.flow.greeting_for(conversation_id))
        self._ask(turn, self._slots[0], explain=False)
        return self._result(turn)

    def handle(
        self, state: ConversationState, text: str, *, now: datetime, option_id: str | None = None
    ) -> TurnResult:
        """Handle one visitor message (or a click on a quick reply).

        Args:
            state: the conversation's current state; it is not changed.
            text: the visitor's message (for a click, the option's label).
            now: the current time (aware).
            option_id: the id of a quick reply the visitor clicked: an offer id, or ``handoff``.

        Returns:
            The new state, the replies (none while a person has the conversation), the events and the
            commands the caller must carry out (feeding each result to :meth:`resume`).

        Raises:
            ValueError: if ``now`` is naive, the state belongs to another flow, or the message is empty
                (without an option) or too long for the NLU.
            Exception: whatever the knowledge base or language model raise.
        """
        aware(now)
        self._check_flow(state)
        st = state.model_copy(deep=True)
        st.turn += 1
        turn = Turn(st)
        if st.status == "handoff":
            turn.event("held_for_person", option_id=option_id)
            return self._result(turn)
        if option_id == HANDOFF_OPTION:
            self._handoff(turn, "visitor_request")
            return self._result(turn)
        if option_id is not None:
            chosen = next((o for o in st.offers if o.offer_id == option_id), None)
            if chosen is not None and st.outcome is None:
                self._book(turn, chosen)
                return self._result(turn)
        if not text or not text.strip():
            raise ValueError("cannot handle an empty message")
        local_now = now.astimezone(zone(st.visitor_tz)).replace(tzinfo=None)
        pending = self.flow.slot(st.pending) if st.pending is not None and not st.offers else None
        u = self._understand(text, now, local_now, pending)
        turn.event(
            "intent",
            name=u.intent,
            top=u.top_intent,
            confidence=round(u.confidence, 4),
            source=u.intent_source,
            sentiment=round(u.sentiment, 4),
        )
        if st.outcome is not None or st.status == "closed":
            self._completed_turn(turn, u, now, local_now)
        elif st.offers:
            self._offer_turn(turn, u, now, local_now)
        else:
            self._collect_turn(turn, u, now, local_now)
        return self._result(turn)

    def resume(
        self, state: ConversationState, command: Command, result: CommandResult, *, now: datetime
    ) -> TurnResult:
        """Continue a turn with the result of one of its commands.

        Args:
            state: the state the command's turn returned (not changed).
            command: the command carried out.
            result: ``Qualify``: the ``ChatDecision`` (None: no qualifier); ``OfferSlots``: the offers
                (empty: none); ``Book``: the ``BookingResult``; ``NotifyPerson``: ignored (None).
            now: the current time (aware).

        Returns:
            The new state, more replies and events, and possibly more commands.

        Raises:
            ValueError: if ``now`` is naive, the state belongs to another flow, or ``result`` does not fit
                ``command``.
        """
        aware(now)
        self._check_flow(state)
        turn = Turn(state.model_copy(deep=True))
        if isinstance(command, Qualify):
            if result is not None and not isinstance(result, ChatDecision):
                raise ValueError(f"Qualify needs a ChatDecision or None, not {type(result).__name__}")
            self._on_decision(turn, result, now)
        elif isinstance(command, OfferSlots):
            if not isinstance(result, list):
                raise ValueError(f"OfferSlots needs a list of offers, not {type(result).__name__}")
            self._on_offers(turn, command, result)
        elif isinstance(command, Book):
            if not isinstance(result, BookingResult):
                raise ValueError(f"Book needs a BookingResult, not {type(result).__name__}")
            self._on_booking(turn, result, now)
        elif not isinstance(command, NotifyPerson):  # pragma: no cover - exhaustive
            raise ValueError(f"unknown command {command!r}")
        return self._result(turn)

    def _check_flow(self, state: ConversationState) -> None:
        if state.flow != self.flow.ref:
            raise ValueError(f"state is for flow {state.flow!r}; this assistant runs {self.flow.ref!r}")

    # ------------------------------------------------------------------ turns

    def _collect_turn(self, turn: Turn, u: Understanding, now: datetime, local_now: datetime) -> None:
        st = turn.state
        if self._gate_non_buyer(turn, u):
            return
        asked_before = st.pending
        u = self._as_free_text_answer(st, u)
        self._collect(turn, u, local_now, exclude=frozenset())
        if turn.explicit:
            u = replace(u, question=None, intent="inform")
        if self._is_statement(u) and u.intent in QUESTION_INTENTS | {"out_of_scope"}:
            u = replace(u, intent="inform", question=None)
        self._note_context(turn, u)
        self._summarize(turn)
        if self._policy_handoff(turn, u):
            return
        explain = bool(turn.refused)
        understood = turn.touched
        greeted = st.greeted
        if u.intent == "greet" or GREETING.match(u.text):
            st.greeted = True
        if u.question is not None:
            self._answer(turn, u.question)
            understood = True
        elif u.intent == "demo_request":
            turn.say(self.flow.texts.demo_first)
            understood = True
        elif u.intent == "greet" and not understood:
            turn.say(
                self.flow.greeting_for(st.conversation_id, again=True)
                if greeted
                else self.flow.texts.greet_back
            )
            understood = True
        elif u.intent == "goodbye" and not understood:
            turn.say(self.flow.texts.goodbye)
            st.misunderstandings = 0
            return
        elif u.intent in ("affirm", "deny") and not understood:
            understood, explain = True, True
        elif (
            not understood
            and len(WORD.findall(u.text)) >= 2
            and self._missed(turn, asked_before, refused=False)
        ):
            understood = True  # moving on beats a dead end (no misunderstanding counted)
        elif not understood:
            text = self.flow.texts.out_of_scope if u.intent == "out_of_scope" else None
            if self._misunderstood(turn, text):
                return
            explain = True
        if turn.refused and asked_before in {n for n, _ in turn.refused}:
            self._missed(turn, asked_before, refused=True)
        if understood:
            st.misunderstandings = 0
        self._advance(turn, now, explain=explain, asked_before=asked_before)

    def _offer_turn(self, turn: Turn, u: Understanding, now: datetime, local_now: datetime) -> None:
        st = turn.state
        if self._gate_non_buyer(turn, u):
            self._show_offers(turn, self.flow.texts.pick_again, st.offers)
            return
        self._collect(turn, u, local_now, exclude=frozenset({"timeline"}))
        if turn.explicit:
            u = replace(u, question=None, intent="inform")
        self._summarize(turn)
        if self._policy_handoff(turn, u):
            return
        days = [
            date.fromisoformat(str(e.normalized["start"]))
            for e in u.entities
            if e.entity == "timeline" and e.normalized.get("grain") == "day"
        ]
        chosen = pick_offer(u.text, st.offers, st.visitor_tz, day=days[0] if len(days) == 1 else None)
        if chosen is not None:
            st.misunderstandings = 0
            self._book(turn, chosen)
            return
        if u.question is not None:
            st.misunderstandings = 0
            self._answer(turn, u.question)
            self._show_offers(turn, self.flow.texts.pick_again, st.offers)
            return
        if u.intent == "deny":
            st.misunderstandings = 0
            latest = max(o.end for o in st.offers)
            turn.command(OfferSlots(after=latest, visitor_tz=st.visitor_tz, n=OFFERS_SHOWN, purpose="more"))
            return
        if turn.touched:
            st.misunderstandings = 0
        elif self._misunderstood(turn):
            return
        self._show_offers(turn, self.flow.texts.pick_again, st.offers)

    def _completed_turn(self, turn: Turn, u: Understanding, now: datetime, local_now: datetime) -> None:
        """After the flow ended: answer questions, take corrections, let a declined consent be given."""
        st = turn.state
        texts = self.flow.texts
        if st.non_buyer is not None:
            if u.question is not None:
                self._answer(turn, u.question)
            else:
                turn.say(texts.spam if st.non_buyer == "spam" else texts.job_seeker, kind="close")
            return
        self._collect(turn, u, local_now, exclude=frozenset())
        if turn.explicit:  # "can you change the company to X?" is a change, not a question
            u = replace(u, question=None)
        self._summarize(turn)
        if self._policy_handoff(turn, u):
            return
        assert self._consent is not None
        consent = st.slots.get(self._consent.name)
        if (
            st.outcome == "consent_declined"
            and consent is not None
            and consent.value is True
            and st.decision is None
        ):
            st.outcome = None
            self._advance(turn, now, explain=False, asked_before=None)
            return
        if u.question is not None:
            self._answer(turn, u.question)
        elif u.intent == "goodbye":
            turn.say(texts.goodbye, kind="close")
        elif not turn.touched:
            turn.say(texts.closed, kind="close")

    # ------------------------------------------------------------------ result

    def _result(self, turn: Turn) -> TurnResult:
        replies = [self._phrase(m) for m in turn.replies]
        return TurnResult(state=turn.state, replies=replies, events=turn.events, commands=turn.commands)
