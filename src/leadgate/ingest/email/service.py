r"""Take enquiry mails into the store: each message once per mailbox, as a qualified lead or a dead letter.

    raw bytes --parse_eml--> EmailLead --build_email_lead--> Lead --qualify_leads_flagged--> stored + decided
                    \\__________ any failure: dead letter (reason, raw message encrypted) ___________/

A message is identified by its ``message_key`` (the sha256 of its Message-ID, else of its bytes); the
``email_messages`` table remembers every key taken per mailbox, so importing or polling the same message
again makes nothing new (``duplicate``). A message is recorded as taken only after its lead (or dead
letter) is committed, so a crash in between never loses it: the next run takes it again and makes the
same lead (same ``lead_id``, same content: ``store.write_leads`` keeps one row).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, Engine, select

from leadgate.actions.planning import Routes
from leadgate.batches import qualify_leads_flagged
from leadgate.chat.nlu.interpreter import NLU
from leadgate.contracts.decision import Decision
from leadgate.contracts.errors import ContractError
from leadgate.db import store
from leadgate.db.channel_models import EMAIL_MESSAGES
from leadgate.db.engine import write_lock
from leadgate.ingest.email.lead import PERSONAL_ATTRIBUTES, build_email_lead, email_lead_id, message_key
from leadgate.ingest.email.parse import EmailLead, EmailParseError, parse_eml
from leadgate.qualifier import Qualifier
from leadgate.routing import Router

log = logging.getLogger(__name__)

DEAD_LETTER_SOURCE = "email"
"""``dead_letters.source`` of a refused message."""

IMPORT_MAILBOX = "import"
"""The ``mailbox`` of messages taken by ``leadgate email import`` (files)."""

MAX_RAW_BYTES = 10 * 1024 * 1024
"""Largest raw message kept whole in a dead letter (10 MiB, a common mail size limit); a longer one keeps
its first 10 MiB, its size and its sha256 (``truncated``)."""

Status = Literal["lead", "duplicate", "dead_letter"]


@dataclass(frozen=True)
class EmailOutcome:
    """What became of one message.

    Attributes:
        message_key: the sha256 identifying it (``lead.message_key``).
        status: ``lead`` (stored and qualified), ``duplicate`` (taken before from this mailbox: nothing
            done) or ``dead_letter`` (refused; ``reason`` says why, the raw message is kept encrypted).
        lead_id: the lead made (also for a duplicate that made one), else None.
        decision: the decision of a new lead, else None.
        reason: why a message was refused.
    """

    message_key: str
    status: Status
    lead_id: str | None = None
    decision: Decision | None = None
    reason: str | None = None


def first_line(exc: BaseException) -> str:
    """The first line of an error's message, at most 300 characters.

    A database error's later lines repeat the statement and its parameters: they do not belong in a reason.
    """
    text = str(exc).strip()
    return (text.splitlines()[0] if text else "")[:300]


def _header_message_id(raw: bytes) -> str | None:
    """The Message-ID of a raw message, read from its headers only (works for a message that fails later)."""
    try:
        value = message_from_bytes(raw, policy=policy.compat32).get("Message-ID")
    except Exception:  # any unreadable header block simply has no usable id
        return None
    if not value:
        return None
    text = str(value).strip().strip("<>").strip()
    return text or None


def _seen(conn: Connection, mailbox: str, key: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(EMAIL_MESSAGES.c.status, EMAIL_MESSAGES.c.lead_id).where(
            EMAIL_MESSAGES.c.mailbox == mailbox, EMAIL_MESSAGES.c.message_key == key
        )
    ).first()
    return None if row is None else dict(row._mapping)


def _seen_row(
    mailbox: str,
    key: str,
    status: str,
    now: datetime,
    *,
    lead_id: str | None,
    reason: str | None,
    uid: int | None,
    uidvalidity: int | None,
) -> dict[str, Any]:
    return {
        "mailbox": mailbox,
        "message_key": key,
        "uidvalidity": uidvalidity,
        "uid": uid,
        "status": status,
        "lead_id": lead_id,
        "reason": reason,
        "processed_at": now,
    }


def dead_letter_row(
    mailbox: str,
    key: str,
    raw: bytes,
    reason: str,
    errors: list[dict[str, str]],
    now: datetime,
    uid: int | None = None,
) -> dict[str, Any]:
    """The ``dead_letters`` row of a refused message, with the raw message in it.

    ``record`` holds the raw message base64-encoded (encrypted by ``store.write_dead_letters``), with its
    mailbox, UID and key; ``reason`` and ``errors`` say why; ``caller`` is the mailbox.
    """
    kept = raw[:MAX_RAW_BYTES]
    record = orjson.dumps(
        {"mailbox": mailbox, "uid": uid, "message_key": key, "raw_base64": base64.b64encode(kept).decode()},
        option=orjson.OPT_SORT_KEYS,
    ).decode()
    return {
        "source": DEAD_LETTER_SOURCE,
        "dedupe_key": hashlib.sha256(f"email|{mailbox}|{key}".encode()).hexdigest(),
        "import_run_id": None,
        "row_number": None,
        "record": record,
        "reason": reason,
        "errors": orjson.dumps(errors).decode(),
        "created_at": now,
        "caller": mailbox[:160],
        "truncated": len(raw) > MAX_RAW_BYTES,
        "original_bytes": len(raw),
        "original_sha256": hashlib.sha256(raw).hexdigest(),
    }


def ingest_message(
    engine: Engine,
    qualifier: Qualifier,
    nlu: NLU,
    raw: bytes,
    *,
    mailbox: str,
    now: datetime,
    uid: int | None = None,
    uidvalidity: int | None = None,
    region: str = "US",
    router: Router | None = None,
    routes: Routes | None = None,
) -> EmailOutcome:
    """Take one message: parse it, make and qualify its lead, or keep it as a dead letter.

    Args:
        engine: the store.
        qualifier: decides the lead (the chat qualifier, ``chat.qualify.load_chat_qualifier``: an email lead
            carries the chat's BANT attributes).
        nlu: the chat NLU.
        raw: the whole message (RFC 5322 bytes).
        mailbox: where it was found (``imap://user@host:port/INBOX`` or ``import``): dedupe is per mailbox.
        now: arrival time (aware UTC).
        uid: its IMAP UID, when polled.
        uidvalidity: the mailbox's UIDVALIDITY, when polled.
        region: default region for phone numbers and numeric dates.
        router: routes the lead to a rep in its decision's transaction (``batches.qualify_leads_routed``);
            None routes nothing.
        routes: action kind -> destinations: the lead's actions are written to the outbox in that
            transaction; None writes none.

    Returns:
        The ``EmailOutcome``. Never raises for a bad message (it becomes a dead letter); a failure while
        qualifying also ends in a dead letter, with the raw message, so nothing is lost.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the store itself cannot be written (then nothing is recorded and the
            message is taken again next time).
    """
    key = message_key(_header_message_id(raw), raw)
    with engine.connect() as conn:
        seen = _seen(conn, mailbox, key)
    if seen is not None:
        return EmailOutcome(key, "duplicate", lead_id=seen["lead_id"])
    errors: list[dict[str, str]]
    mail = None
    try:
        mail = parse_eml(raw)
        lead = build_email_lead(mail, key, nlu, now, region)
    except EmailParseError as exc:
        errors = [{"path": "message", "reason": str(exc)}]
        return _dead(engine, mailbox, key, raw, errors, now, uid, uidvalidity)
    except ContractError as exc:
        errors = [{"path": e.path, "reason": _without_sender(e.reason, mail)} for e in exc.errors]
        return _dead(engine, mailbox, key, raw, errors, now, uid, uidvalidity)
    except ValueError as exc:  # the NLU refused the text
        errors = [{"path": "body", "reason": str(exc)}]
        return _dead(engine, mailbox, key, raw, errors, now, uid, uidvalidity)
    assert lead.lead_id == email_lead_id(key)
    try:
        decisions, _ = qualify_leads_flagged(
            engine,
            qualifier,
            [lead],
            explain="all",
            personal_attributes=PERSONAL_ATTRIBUTES,
            router=router,
            routes=routes,
        )
    except Exception as exc:  # never lose the message: keep it with the reason
        log.exception("qualifying an email lead failed")
        errors = [
            {"path": "qualify", "reason": f"qualifying failed: {type(exc).__name__}: {first_line(exc)}"}
        ]
        return _dead(engine, mailbox, key, raw, errors, now, uid, uidvalidity)
    with write_lock(engine), engine.begin() as conn:
        row = _seen_row(
            mailbox, key, "lead", now, lead_id=lead.lead_id, reason=None, uid=uid, uidvalidity=uidvalidity
        )
        conn.execute(store.insert_ignore(conn, EMAIL_MESSAGES, ["mailbox", "message_key"]), [row])
    log.info("email lead qualified", extra={"tier": decisions[0].tier, "action": decisions[0].action})
    return EmailOutcome(key, "lead", lead_id=lead.lead_id, decision=decisions[0])


def _without_sender(reason: str, mail: EmailLead | None) -> str:
    """``reason`` with the sender's address and name replaced by ``<sender>``.

    Reasons are stored in plain text (the raw message itself is encrypted): they must not repeat personal data.
    """
    if mail is None:
        return reason
    for text in (mail.sender_email, mail.sender_name):
        if text:
            reason = reason.replace(text, "<sender>")
    return reason


def _dead(
    engine: Engine,
    mailbox: str,
    key: str,
    raw: bytes,
    errors: list[dict[str, str]],
    now: datetime,
    uid: int | None,
    uidvalidity: int | None,
) -> EmailOutcome:
    reason = "; ".join(f"{e['path']}: {e['reason']}" for e in errors)
    with write_lock(engine), engine.begin() as conn:
        store.write_dead_letters(conn, [dead_letter_row(mailbox, key, raw, reason, errors, now, uid)])
        row = _seen_row(
            mailbox, key, "dead_letter", now, lead_id=None, reason=reason, uid=uid, uidvalidity=uidvalidity
        )
        conn.execute(store.insert_ignore(conn, EMAIL_MESSAGES, ["mailbox", "message_key"]), [row])
    log.info("email refused: %s", errors[0]["path"])
    return EmailOutcome(key, "dead_letter", reason=reason)
