"""Declarative qualification flows and the dialogue engine of the chat assistant (pure; no database).

Typical use::

    from leadgate.chat.flows import Assistant, load_default_flow

    assistant = Assistant(load_default_flow(), kb=kb)
    first = assistant.start(conversation_id="c1", now=now, visitor_tz="Europe/Berlin")
    turn = assistant.handle(first.state, "I'm Dana, CTO at Acme, 400 people", now=now)
    turn.replies, turn.events, turn.commands  # the service carries out the commands (chat.commands)

The flow format and the engine's behavior are described in ``docs/chat-flows.md``.
"""

from leadgate.chat.flows.engine import HANDOFF_OPTION, OFFERS_SHOWN, QUESTION_INTENTS, Assistant, faithful
from leadgate.chat.flows.loader import (
    DEFAULT_FLOW_RESOURCE,
    FlowError,
    FlowIssue,
    check_flow_file,
    check_flow_text,
    default_flow_text,
    load_default_flow,
    load_flow,
    load_flow_text,
)
from leadgate.chat.flows.model import HANDOFF_REASONS, Flow, SlotSpec
from leadgate.chat.flows.picking import pick_offer
from leadgate.chat.flows.sentiment import compound_sentiment
from leadgate.chat.flows.state import STATE_SCHEMA, ChatEvent, ConversationState, SlotValue, TurnResult
from leadgate.chat.flows.validators import ValidationContext, Verdict

__all__ = [
    "DEFAULT_FLOW_RESOURCE",
    "HANDOFF_OPTION",
    "HANDOFF_REASONS",
    "OFFERS_SHOWN",
    "QUESTION_INTENTS",
    "STATE_SCHEMA",
    "Assistant",
    "ChatEvent",
    "ConversationState",
    "Flow",
    "FlowError",
    "FlowIssue",
    "SlotSpec",
    "SlotValue",
    "TurnResult",
    "ValidationContext",
    "Verdict",
    "check_flow_file",
    "check_flow_text",
    "compound_sentiment",
    "default_flow_text",
    "faithful",
    "load_default_flow",
    "load_flow",
    "load_flow_text",
    "pick_offer",
]
