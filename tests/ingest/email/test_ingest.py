"""Enquiry mails into the store (SQLite and PostgreSQL): leads, dead letters with the raw message, no doubles."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from tests.cli_support import run, wide_console  # noqa: F401 - fixture

from leadgate.chat.nlu.interpreter import default_nlu
from leadgate.chat.qualify import load_chat_qualifier
from leadgate.db import store
from leadgate.db.channel_models import EMAIL_MESSAGES
from leadgate.ingest.email import IMPORT_MAILBOX, ingest_message
from leadgate.qualifier import Qualifier

DATA = Path(__file__).resolve().parents[1] / "data" / "email"
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
FILES = sorted(DATA.glob("*.eml"))


@pytest.fixture(scope="module")
def chat_qualifier() -> Qualifier:
    return load_chat_qualifier()


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_every_mail_becomes_a_lead_or_a_dead_letter_once(engine: Engine, chat_qualifier: Qualifier) -> None:
    nlu = default_nlu()
    outcomes = {
        p.name: ingest_message(engine, chat_qualifier, nlu, p.read_bytes(), mailbox=IMPORT_MAILBOX, now=NOW)
        for p in FILES
    }
    statuses = {name: o.status for name, o in outcomes.items()}
    assert statuses == {
        "apple_mail.eml": "lead",
        "forwarded.eml": "lead",
        "gmail_plain.eml": "lead",
        "outlook_html.eml": "lead",
        "outlook_reply_html.eml": "lead",
        "reply_thread.eml": "lead",
        "spam_no_sender.eml": "dead_letter",
    }
    assert _count(engine, store.LEADS) == 6
    assert _count(engine, store.DECISIONS) == 6
    assert _count(engine, store.DEAD) == 1
    # the same files again: nothing new
    again = [
        ingest_message(engine, chat_qualifier, nlu, p.read_bytes(), mailbox=IMPORT_MAILBOX, now=NOW)
        for p in FILES
    ]
    assert {o.status for o in again} == {"duplicate"}
    assert [o.lead_id for o in again] == [outcomes[p.name].lead_id for p in FILES]
    assert _count(engine, store.LEADS) == 6
    assert _count(engine, store.DECISIONS) == 6
    assert _count(engine, store.DEAD) == 1
    assert _count(engine, EMAIL_MESSAGES) == 7


def test_stored_lead_is_the_sender_and_its_words_are_encrypted(
    engine: Engine, chat_qualifier: Qualifier
) -> None:
    raw = (DATA / "outlook_html.eml").read_bytes()
    outcome = ingest_message(engine, chat_qualifier, default_nlu(), raw, mailbox=IMPORT_MAILBOX, now=NOW)
    assert outcome.status == "lead" and outcome.decision is not None
    assert outcome.decision.lead_id == outcome.lead_id
    with engine.connect() as conn:
        lead = store.get_lead(conn, str(outcome.lead_id))
        stored = conn.execute(
            select(store.LEADS.c.data, store.LEADS.c.pii).where(store.LEADS.c.lead_id == outcome.lead_id)
        ).one()
    assert lead is not None
    assert lead["source"] == "email"
    assert (lead["email"], lead["first_name"], lead["last_name"]) == (
        "sae@nordhavn-analytics.dk",
        "Søren",
        "Ægidius",
    )
    assert lead["attributes"]["company_size"] == 45
    assert lead["attributes"]["authority"] == "decision_maker"  # "the one who signs off"/"CTO"
    assert "trial sign-ups" in lead["attributes"]["need"]
    plain = str(stored.data) + str(stored.pii)
    assert "trial sign-ups" not in plain and "sae@" not in plain and "Søren" not in plain


def test_dead_letter_keeps_the_raw_message_and_the_reason(engine: Engine, chat_qualifier: Qualifier) -> None:
    raw = (DATA / "spam_no_sender.eml").read_bytes()
    outcome = ingest_message(
        engine, chat_qualifier, default_nlu(), raw, mailbox="imap://x@h:143/INBOX", now=NOW
    )
    assert outcome.status == "dead_letter"
    assert outcome.reason is not None and "no sender" in outcome.reason
    with engine.connect() as conn:
        row = dict(conn.execute(select(store.DEAD)).one()._mapping)
        assert "bulk-offers" not in row["record"]  # encrypted at rest
        dead = store.decrypt_dead_letter(conn, row)
    assert dead["source"] == "email"
    assert dead["caller"] == "imap://x@h:143/INBOX"
    assert "no sender" in dead["reason"]
    assert base64.b64decode(dead["record"]["raw_base64"]) == raw
    assert dead["original_bytes"] == len(raw) and not dead["truncated"]


def test_same_message_in_two_mailboxes_makes_one_lead(engine: Engine, chat_qualifier: Qualifier) -> None:
    raw = (DATA / "apple_mail.eml").read_bytes()
    nlu = default_nlu()
    first = ingest_message(engine, chat_qualifier, nlu, raw, mailbox="imap://a@h:143/INBOX", now=NOW)
    second = ingest_message(engine, chat_qualifier, nlu, raw, mailbox=IMPORT_MAILBOX, now=NOW)
    assert first.status == second.status == "lead"
    assert first.lead_id == second.lead_id
    assert _count(engine, store.LEADS) == 1


@pytest.mark.usefixtures("wide_console")
def test_cli_email_import(db_url: str) -> None:
    out = run("email", "import", *map(str, FILES), "--database-url", db_url)
    assert "6 leads, 0 already taken, 1 dead letters" in out
    assert "no sender" in out
    out = run("email", "import", str(DATA / "gmail_plain.eml"), "--database-url", db_url)
    assert "0 leads, 1 already taken, 0 dead letters" in out


def _refuse_email_leads(engine: Engine) -> None:
    """Make the database itself refuse email leads (a trigger), as a failing store would."""
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_email_leads BEFORE INSERT ON leads WHEN NEW.source = 'email' "
                "BEGIN SELECT RAISE(ABORT, 'leads table is read-only for maintenance'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_email_leads() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'leads table is read-only for maintenance'; END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_email_leads BEFORE INSERT ON leads FOR EACH ROW "
                "WHEN (NEW.source = 'email') EXECUTE FUNCTION refuse_email_leads()"
            )


def test_a_lead_the_store_refuses_becomes_a_dead_letter_with_the_message(
    engine: Engine, chat_qualifier: Qualifier
) -> None:
    _refuse_email_leads(engine)
    raw = (DATA / "reply_thread.eml").read_bytes()
    outcome = ingest_message(engine, chat_qualifier, default_nlu(), raw, mailbox=IMPORT_MAILBOX, now=NOW)
    assert outcome.status == "dead_letter"
    assert outcome.reason is not None and "qualifying failed" in outcome.reason
    assert "read-only for maintenance" in outcome.reason
    assert _count(engine, store.LEADS) == 0
    assert _count(engine, store.DECISIONS) == 0
    with engine.connect() as conn:
        dead = store.decrypt_dead_letter(conn, dict(conn.execute(select(store.DEAD)).one()._mapping))
    assert base64.b64decode(dead["record"]["raw_base64"]) == raw


def test_reason_of_a_bad_sender_does_not_repeat_the_address(
    engine: Engine, chat_qualifier: Qualifier
) -> None:
    raw = (
        b"From: Webinar Bot <webinar-bot@localhost>\r\nTo: sales@leadgate.example\r\n"
        b"Subject: New registration\r\nMessage-ID: <reg-4471@localhost>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nA new attendee registered for the webinar.\r\n"
    )
    outcome = ingest_message(engine, chat_qualifier, default_nlu(), raw, mailbox=IMPORT_MAILBOX, now=NOW)
    assert outcome.status == "dead_letter"
    assert outcome.reason is not None and outcome.reason.startswith("email: ")
    assert "webinar-bot@localhost" not in outcome.reason
    with engine.connect() as conn:
        reasons = [conn.execute(select(t.c.reason)).scalar_one() for t in (store.DEAD, EMAIL_MESSAGES)]
    assert all("webinar-bot@localhost" not in r for r in reasons)
