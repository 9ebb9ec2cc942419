"""Polling a real Dovecot IMAP server (started by the ``dovecot`` fixture) into SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from imapclient import IMAPClient
from sqlalchemy import Engine, func, select
from tests.cli_support import run, wide_console  # noqa: F401 - fixture
from tests.ingest.email.conftest import Dovecot

from leadgate.chat.nlu.interpreter import default_nlu
from leadgate.chat.qualify import load_chat_qualifier
from leadgate.db import store
from leadgate.db.channel_models import EMAIL_MAILBOXES
from leadgate.ingest.email import ImapConfig, MailboxError, poll_once

DATA = Path(__file__).resolve().parents[1] / "data" / "email"
FILES = sorted(DATA.glob("*.eml"))


def _clock() -> datetime:
    return datetime.now(UTC)


def _append(server: Dovecot, names: list[str], folder: str = "INBOX") -> None:
    with IMAPClient(server.host, port=server.port, ssl=False) as client:
        client.login(server.user, server.password)
        for name in names:
            client.append(folder, (DATA / name).read_bytes())


def _flags(server: Dovecot, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
    with IMAPClient(server.host, port=server.port, ssl=False) as client:
        client.login(server.user, server.password)
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        return {uid: tuple(data[b"FLAGS"]) for uid, data in client.fetch(uids, ["FLAGS"]).items()}


def _config(server: Dovecot, **kwargs: object) -> ImapConfig:
    return ImapConfig(
        host=server.host, port=server.port, user=server.user, password=server.password, **kwargs
    )  # type: ignore[arg-type]


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_poll_takes_each_message_once_and_flags_it_seen(dovecot: Dovecot, engine: Engine) -> None:
    _append(dovecot, [p.name for p in FILES])
    qualifier, nlu = load_chat_qualifier(), default_nlu()
    summary = poll_once(_config(dovecot), engine, qualifier, nlu, _clock)
    assert (summary.leads, summary.duplicates, summary.dead_letters) == (6, 0, 1)
    assert all(b"\\Seen" in flags for flags in _flags(dovecot).values())
    assert _count(engine, store.LEADS) == 6
    assert _count(engine, store.DEAD) == 1
    # nothing new: the next poll takes nothing
    again = poll_once(_config(dovecot), engine, qualifier, nlu, _clock)
    assert (again.leads, again.duplicates, again.dead_letters) == (0, 0, 0)
    # a message that arrives later is taken, and a re-delivered copy of a taken one is a duplicate
    _append(dovecot, ["gmail_plain.eml"])
    later = poll_once(_config(dovecot), engine, qualifier, nlu, _clock)
    assert (later.leads, later.duplicates) == (0, 1)
    assert _count(engine, store.LEADS) == 6
    assert _count(engine, store.DECISIONS) == 6


def test_messages_read_in_a_mail_client_are_not_missed(dovecot: Dovecot, engine: Engine) -> None:
    _append(dovecot, ["apple_mail.eml", "reply_thread.eml"])
    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False) as client:  # a rep opens them in Thunderbird
        client.login(dovecot.user, dovecot.password)
        client.select_folder("INBOX")
        client.add_flags(client.search(["ALL"]), [b"\\Seen"])
    summary = poll_once(_config(dovecot), engine, load_chat_qualifier(), default_nlu(), _clock)
    assert summary.leads == 2


def test_uidvalidity_change_rescans_without_doubles(dovecot: Dovecot, engine: Engine) -> None:
    _append(dovecot, ["apple_mail.eml", "forwarded.eml"])
    qualifier, nlu = load_chat_qualifier(), default_nlu()
    assert poll_once(_config(dovecot), engine, qualifier, nlu, _clock).leads == 2
    with engine.begin() as conn:  # as if the mailbox had been recreated with a new UIDVALIDITY
        conn.execute(EMAIL_MAILBOXES.update().values(uidvalidity=1, last_uid=999))
    summary = poll_once(_config(dovecot), engine, qualifier, nlu, _clock)
    assert summary.uidvalidity_changed
    assert (summary.leads, summary.duplicates) == (0, 2)
    assert _count(engine, store.LEADS) == 2


def test_move_to_folder(dovecot: Dovecot, engine: Engine) -> None:
    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False) as client:
        client.login(dovecot.user, dovecot.password)
        client.create_folder("Processed")
    _append(dovecot, ["outlook_html.eml"])
    summary = poll_once(
        _config(dovecot, move_to="Processed"), engine, load_chat_qualifier(), default_nlu(), _clock
    )
    assert summary.leads == 1
    assert _flags(dovecot) == {}
    assert len(_flags(dovecot, "Processed")) == 1


def test_wrong_password_is_a_mailbox_error(dovecot: Dovecot, engine: Engine) -> None:
    config = ImapConfig(host=dovecot.host, port=dovecot.port, user=dovecot.user, password="wrong")
    with pytest.raises(MailboxError, match=dovecot.user):
        poll_once(config, engine, load_chat_qualifier(), default_nlu(), _clock)


@pytest.mark.usefixtures("wide_console")
def test_cli_email_poll_once(dovecot: Dovecot, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _append(dovecot, ["gmail_plain.eml", "spam_no_sender.eml"])
    monkeypatch.setenv("LG_TEST_IMAP_PASSWORD", dovecot.password)
    args = ["email", "poll", "--host", dovecot.host, "--port", str(dovecot.port), "--user", dovecot.user]
    out = run(*args, "--password-env", "LG_TEST_IMAP_PASSWORD", "--once", "--database-url", db_url)
    assert "1 leads, 0 already taken, 1 dead letters" in out
    missing = run(*args, "--password-env", "LG_TEST_UNSET_VAR", "--once", "--database-url", db_url, code=1)
    assert "LG_TEST_UNSET_VAR" in missing
