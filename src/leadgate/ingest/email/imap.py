r"""Poll an IMAP mailbox (imapclient) and take every new message in with ``service.ingest_message``.

Per mailbox the store keeps its UIDVALIDITY and the highest UID taken (``email_mailboxes``); a poll fetches
``UID last+1:*`` with ``BODY.PEEK[]`` (reading does not set ``\\Seen``), takes each message, then flags it
``\\Seen`` (or moves it to ``move_to``). When the server reports another UIDVALIDITY (the mailbox was
recreated: RFC 3501 section 2.3.1.1 says earlier UIDs mean nothing then), the scan starts again at UID 1
and the Message-ID keys of ``email_messages`` stop any message from being taken twice. Relying on the UID
watermark rather than on ``UNSEEN`` means a person reading the mailbox in a mail client loses nothing.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from imapclient import IMAPClient
from imapclient.imapclient import SEEN
from sqlalchemy import Engine, select, update

from leadgate.actions.planning import Routes
from leadgate.chat.nlu.interpreter import NLU
from leadgate.db import store
from leadgate.db.channel_models import EMAIL_MAILBOXES
from leadgate.db.engine import write_lock
from leadgate.errors import LeadgateError
from leadgate.ingest.email.service import EmailOutcome, ingest_message
from leadgate.qualifier import Qualifier
from leadgate.routing import Router

log = logging.getLogger(__name__)


class MailboxError(LeadgateError, RuntimeError):
    """The IMAP server cannot be reached, refuses the login, or has no such mailbox."""


@dataclass(frozen=True)
class ImapConfig:
    r"""Where to poll.

    Attributes:
        host, port: the IMAP server (993 with ``ssl``, else usually 143).
        user, password: the login (the CLI reads the password from an environment variable).
        mailbox: the folder to read (``INBOX``).
        ssl: connect with implicit TLS.
        move_to: a folder to move taken messages to instead of only flagging them ``\\Seen``.
        timeout: socket timeout in seconds.
    """

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    mailbox: str = "INBOX"
    ssl: bool = False
    move_to: str | None = None
    timeout: float = 30.0

    @property
    def key(self) -> str:
        """The mailbox's name in the store: ``imap://user@host:port/mailbox``."""
        return f"imap://{self.user}@{self.host}:{self.port}/{self.mailbox}"[:255]


@dataclass
class PollSummary:
    """Counts of one poll: messages taken as leads, duplicates skipped, dead letters, and the outcomes."""

    leads: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    uidvalidity_changed: bool = False
    outcomes: list[EmailOutcome] = field(default_factory=list)


def _watermark(engine: Engine, mailbox: str, uidvalidity: int, now: datetime) -> tuple[int, bool]:
    """``(last UID taken, uidvalidity changed)``; records the mailbox on first sight."""
    with write_lock(engine), engine.begin() as conn:
        row = conn.execute(
            select(EMAIL_MAILBOXES.c.uidvalidity, EMAIL_MAILBOXES.c.last_uid).where(
                EMAIL_MAILBOXES.c.mailbox == mailbox
            )
        ).first()
        if row is None:
            conn.execute(
                store.insert_ignore(conn, EMAIL_MAILBOXES, ["mailbox"]),
                [{"mailbox": mailbox, "uidvalidity": uidvalidity, "last_uid": 0, "polled_at": now}],
            )
            return 0, False
        if int(row.uidvalidity) != uidvalidity:
            conn.execute(
                update(EMAIL_MAILBOXES)
                .where(EMAIL_MAILBOXES.c.mailbox == mailbox)
                .values(uidvalidity=uidvalidity, last_uid=0, polled_at=now)
            )
            return 0, True
        return int(row.last_uid), False


def _advance(engine: Engine, mailbox: str, uid: int, now: datetime) -> None:
    with write_lock(engine), engine.begin() as conn:
        conn.execute(
            update(EMAIL_MAILBOXES)
            .where(EMAIL_MAILBOXES.c.mailbox == mailbox, EMAIL_MAILBOXES.c.last_uid < uid)
            .values(last_uid=uid, polled_at=now)
        )


def poll_once(
    config: ImapConfig,
    engine: Engine,
    qualifier: Qualifier,
    nlu: NLU,
    clock: Callable[[], datetime],
    region: str = "US",
    *,
    router: Router | None = None,
    routes: Routes | None = None,
) -> PollSummary:
    r"""Take every message of the mailbox not taken yet, then flag it ``\\Seen`` (or move it).

    Args:
        config: the server, login and mailbox.
        engine: the store.
        qualifier: decides email leads (``chat.qualify.load_chat_qualifier``).
        nlu: the chat NLU.
        clock: the current UTC time (each message's arrival time).
        region: default region for phone numbers and numeric dates.
        router: passed to ``ingest_message`` (routing).
        routes: passed to ``ingest_message`` (the outbox).

    Returns:
        The counts and each message's ``EmailOutcome``, in UID order.

    Raises:
        MailboxError: the server cannot be reached, the login fails, or the mailbox does not exist.
    """
    summary = PollSummary()
    try:
        client = IMAPClient(config.host, port=config.port, ssl=config.ssl, timeout=config.timeout)
    except OSError as exc:
        raise MailboxError(f"cannot reach IMAP server {config.host}:{config.port}: {exc}") from exc
    try:
        try:
            client.login(config.user, config.password)
            selected = client.select_folder(config.mailbox)
        except (IMAPClient.Error, OSError) as exc:
            raise MailboxError(f"{config.key}: {exc}") from exc
        uidvalidity = int(selected[b"UIDVALIDITY"])
        last_uid, changed = _watermark(engine, config.key, uidvalidity, clock())
        summary.uidvalidity_changed = changed
        if changed:
            log.warning("UIDVALIDITY of %s changed: scanning it again from UID 1", config.mailbox)
        uids = sorted(uid for uid in client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)
        for uid in uids:
            fetched = client.fetch([uid], ["BODY.PEEK[]"]).get(uid)
            if fetched is None:  # expunged meanwhile
                continue
            raw = fetched[b"BODY[]"]
            outcome = ingest_message(
                engine,
                qualifier,
                nlu,
                raw,
                mailbox=config.key,
                now=clock(),
                uid=uid,
                uidvalidity=uidvalidity,
                region=region,
                router=router,
                routes=routes,
            )
            summary.outcomes.append(outcome)
            if outcome.status == "lead":
                summary.leads += 1
            elif outcome.status == "duplicate":
                summary.duplicates += 1
            else:
                summary.dead_letters += 1
            if config.move_to:
                client.move([uid], config.move_to)
            else:
                client.add_flags([uid], [SEEN])
            _advance(engine, config.key, uid, clock())
    finally:
        with contextlib.suppress(IMAPClient.Error, OSError):
            client.logout()
    return summary


def poll(
    config: ImapConfig,
    engine: Engine,
    qualifier: Qualifier,
    nlu: NLU,
    clock: Callable[[], datetime],
    *,
    interval_s: float = 60.0,
    once: bool = False,
    on_poll: Callable[[PollSummary], None] | None = None,
    router: Router | None = None,
    routes: Routes | None = None,
) -> None:
    """Poll every ``interval_s`` seconds (once with ``once``), reporting each poll to ``on_poll``.

    A poll that fails to reach the server is logged and retried at the next interval (except with
    ``once``, where ``MailboxError`` is raised).
    """
    while True:
        try:
            summary = poll_once(config, engine, qualifier, nlu, clock, router=router, routes=routes)
        except MailboxError:
            if once:
                raise
            log.exception("polling %s failed", config.key)
        else:
            if on_poll is not None:
                on_poll(summary)
        if once:
            return
        time.sleep(interval_s)
