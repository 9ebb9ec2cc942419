"""The chat transcripts of a lead, for the staff review page (decrypted; the caller logs the read).

A lead that came from the website chat has a conversation whose ``lead_id`` is it
(``leadgate.chat.qualify``); its messages are stored encrypted and read through the chat store, as the
handoff pages read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from leadgate.chat.service import ChatMessage
from leadgate.chat.store import CONVERSATIONS, MESSAGE_KINDS, ConversationStore


@dataclass(frozen=True)
class LeadTranscript:
    """One conversation of a lead: its id, status and messages (staff view), oldest first."""

    conversation_id: str
    status: str
    messages: list[ChatMessage]


def lead_transcripts(conn: Connection, lead_id: str) -> list[LeadTranscript]:
    """The conversations that produced ``lead_id``, oldest first, with their decrypted messages."""
    chat = ConversationStore()
    ids = conn.execute(
        select(CONVERSATIONS.c.conversation_id, CONVERSATIONS.c.status)
        .where(CONVERSATIONS.c.lead_id == lead_id)
        .order_by(CONVERSATIONS.c.id)
    ).all()
    out = []
    for conversation_id, status in ids:
        events = chat.events(conn, conversation_id, kinds=MESSAGE_KINDS)
        messages = [ChatMessage.from_event(e, staff_view=True) for e in events]
        out.append(LeadTranscript(conversation_id, status, messages))
    return out
