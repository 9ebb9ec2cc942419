"""``leadgate privacy``: erase a person, export what is held about them, purge by retention period.

Each command writes its access-log entry (``leadgate.audit.access``). See ``leadgate.privacy`` and
docs/security.md, "Personal data". ``leadgate.cli`` registers ``privacy_app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from leadgate.cli_common import DbUrl, _engine, console, friendly

privacy_app = typer.Typer(
    help="Personal data: erasure, export (Art. 15) and retention.", no_args_is_help=True
)

Email = Annotated[str, typer.Option("--email", help="The person's email address.")]


@privacy_app.command("erase")
@friendly
def privacy_erase(
    email: Email,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (e.g. a ticket number).")] = None,
    database_url: DbUrl = None,
) -> None:
    """Remove the person's personal data everywhere and write a tombstone (who asked, when, counts)."""
    from leadgate.audit.access import record_access, whoami
    from leadgate.privacy.erase import erase_person

    actor = whoami()

    def record(conn, tombstone_id, counts):  # type: ignore[no-untyped-def]
        record_access(
            conn,
            actor=actor,
            role=None,
            action="erase",
            route="privacy erase",
            object_type="tombstone",
            object_ids=[tombstone_id],
            detail={"counts": counts},
        )

    engine = _engine(database_url)
    try:
        summary = erase_person(engine, email, requested_by=actor, reason=reason, record=record)
    finally:
        engine.dispose()
    counts = ", ".join(f"{table} {n}" for table, n in summary.counts.items())
    console.print(f"erased ({counts}); tombstone {summary.tombstone_id}", highlight=False)


@privacy_app.command("export")
@friendly
def privacy_export(
    email: Email,
    out: Annotated[
        Path | None, typer.Option("--out", dir_okay=False, help="Write the JSON here (default: stdout).")
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """Print (or write) everything held about the person as JSON (GDPR Art. 15)."""
    from leadgate.audit.access import log_access, whoami
    from leadgate.privacy.export import export_person

    engine = _engine(database_url)
    try:
        doc, found = export_person(engine, email)
        log_access(
            engine,
            actor=whoami(),
            role=None,
            action="export",
            route="privacy export",
            object_type="lead",
            object_ids=found.lead_ids,
            detail={
                "conversations": len(found.conversation_ids),
                "bookings": len(found.booking_ids),
                "dead_letters": len(found.dead_letter_ids),
            },
        )
    finally:
        engine.dispose()
    text = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
    if out is None:
        typer.echo(text.decode())
    else:
        out.write_bytes(text + b"\n")
        console.print(f"wrote {out} ({len(doc['leads'])} leads)", highlight=False)


@privacy_app.command("purge")
@friendly
def privacy_purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be purged.")] = False,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Rows per transaction.")] = 1000,
    database_url: DbUrl = None,
) -> None:
    """Apply the retention periods (LEADGATE_RETENTION_<KIND>_DAYS); safe to run from cron."""
    from leadgate.audit.access import log_access, whoami
    from leadgate.config import get_settings
    from leadgate.db.store import utcnow
    from leadgate.privacy.retention import purge

    engine = _engine(database_url)
    try:
        counts = purge(
            engine, get_settings(), now=utcnow(), dry_run=dry_run, batch=batch, requested_by=whoami()
        )
        if not dry_run and any(counts.values()):
            log_access(
                engine,
                actor=whoami(),
                role=None,
                action="purge",
                route="privacy purge",
                object_type="retention",
                detail={k: v for k, v in counts.items() if v},
            )
    finally:
        engine.dispose()
    verb = "would purge" if dry_run else "purged"
    for kind, n in counts.items():
        shown = "kept (no retention period)" if n is None else f"{verb} {n}"
        console.print(f"{kind}: {shown}", highlight=False)
