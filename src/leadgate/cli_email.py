"""``leadgate email``: take enquiry mails in, from ``.eml`` files (``import``) or an IMAP mailbox (``poll``).

Each message becomes a lead qualified like a chat lead (the body goes through the chat NLU for intent and
BANT facts, the sender through the ``lead/v1`` contract), or a dead letter with its reason and the raw
message (encrypted). A message is taken once per mailbox (by Message-ID). ``leadgate.cli`` registers
``email_app``. See ``docs/channels.md``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from leadgate.cli_common import DbUrl, _engine, _fail, console, friendly

if TYPE_CHECKING:
    from leadgate.ingest.email import EmailOutcome

email_app = typer.Typer(help="Enquiry mails: import .eml files, poll an IMAP mailbox.", no_args_is_help=True)


def _table(title: str, rows: list[tuple[str, EmailOutcome]]) -> Table:
    table = Table(title=title)
    for col in ("message", "status", "lead", "tier", "reason"):
        table.add_column(col)
    for name, outcome in rows:
        table.add_row(
            name,
            outcome.status,
            outcome.lead_id or "-",
            outcome.decision.tier if outcome.decision else "-",
            outcome.reason or "",
        )
    return table


def _acting() -> tuple[Any, Any]:
    """The router and the outbox routes email leads get: those of chat leads (``chat.runtime.chat_router``)."""
    from leadgate.actions.destinations import destinations_path, load_routes
    from leadgate.chat.runtime import chat_router
    from leadgate.config import get_settings

    settings = get_settings()
    return chat_router(settings), load_routes(destinations_path(settings))


@email_app.command("import")
@friendly
def email_import(
    files: Annotated[list[Path], typer.Argument(help="RFC 5322 message files (.eml).", exists=True)],
    region: Annotated[
        str, typer.Option(help="Default region (ISO 3166-1 alpha-2) for phone numbers.")
    ] = "US",
    database_url: DbUrl = None,
) -> None:
    """Take each FILE in: a qualified lead, or a dead letter with its reason (exit code 0 either way)."""
    from leadgate.chat.nlu.interpreter import default_nlu
    from leadgate.chat.qualify import load_chat_qualifier
    from leadgate.db.store import utcnow
    from leadgate.ingest.email import IMPORT_MAILBOX, ingest_message

    router, routes = _acting()
    engine = _engine(database_url)
    try:
        qualifier = load_chat_qualifier()
        nlu = default_nlu()
        rows = []
        for path in files:
            outcome = ingest_message(
                engine,
                qualifier,
                nlu,
                path.read_bytes(),
                mailbox=IMPORT_MAILBOX,
                now=utcnow(),
                region=region,
                router=router,
                routes=routes,
            )
            rows.append((path.name, outcome))
    finally:
        engine.dispose()
    console.print(_table("email import", rows))
    counts = {s: sum(1 for _, o in rows if o.status == s) for s in ("lead", "duplicate", "dead_letter")}
    console.print(
        f"{counts['lead']} leads, {counts['duplicate']} already taken, {counts['dead_letter']} dead letters",
        highlight=False,
    )


@email_app.command("poll")
@friendly
def email_poll(
    host: Annotated[str, typer.Option(help="IMAP server host.")],
    user: Annotated[str, typer.Option(help="IMAP login.")],
    password_env: Annotated[
        str, typer.Option("--password-env", help="Name of the environment variable holding the password.")
    ],
    port: Annotated[int | None, typer.Option(help="IMAP port (default 993 with --ssl, else 143).")] = None,
    mailbox: Annotated[str, typer.Option(help="Folder to read.")] = "INBOX",
    ssl: Annotated[bool, typer.Option("--ssl/--no-ssl", help="Implicit TLS.")] = False,
    move_to: Annotated[
        str | None, typer.Option("--move-to", help="Move taken messages to this folder (else flag \\Seen).")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Poll once and exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between polls.", min=1)] = 60.0,
    database_url: DbUrl = None,
) -> None:
    """Poll an IMAP mailbox: every message not taken yet becomes a lead or a dead letter, then is flagged."""
    from leadgate.chat.nlu.interpreter import default_nlu
    from leadgate.chat.qualify import load_chat_qualifier
    from leadgate.db.store import utcnow
    from leadgate.ingest.email import ImapConfig, PollSummary, poll

    password = os.environ.get(password_env)
    if password is None:
        raise _fail(f"environment variable {password_env} (--password-env) is not set")
    config = ImapConfig(
        host=host,
        port=port or (993 if ssl else 143),
        user=user,
        password=password,
        mailbox=mailbox,
        ssl=ssl,
        move_to=move_to,
    )

    def report(summary: PollSummary) -> None:
        console.print(
            f"{config.key}: {summary.leads} leads, {summary.duplicates} already taken, "
            f"{summary.dead_letters} dead letters"
            + (" (UIDVALIDITY changed: rescanned)" if summary.uidvalidity_changed else ""),
            highlight=False,
        )

    router, routes = _acting()
    engine = _engine(database_url)
    try:
        poll(
            config,
            engine,
            load_chat_qualifier(),
            default_nlu(),
            utcnow,
            interval_s=interval,
            once=once,
            on_poll=report,
            router=router,
            routes=routes,
        )
    finally:
        engine.dispose()
