"""``leadgate outbox``: look at and replay the delivery outbox; check a destinations file.

``list`` prints rows (newest first) filtered by ``--status`` and ``--lead``; ``show`` one row with its
payload and last error; ``replay`` sends dead (or skipped, or delivered) rows again with the same
idempotency key (attempts reset, work event ``delivery_replayed`` by ``cli:<os user>``); ``check`` validates
a destinations file and loads its plugins, printing every issue with its line. ``leadgate.cli`` registers
``outbox_app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from leadgate.cli_common import DbUrl, _engine, _fail, console, err_console, friendly

outbox_app = typer.Typer(help="The delivery outbox: list, show, replay; check a destinations file.")


def _when(ts: object) -> str:
    return "-" if ts is None else f"{ts:%Y-%m-%d %H:%M:%S}"


@outbox_app.command("list")
@friendly
def outbox_list(
    status: Annotated[
        str | None, typer.Option("--status", help="pending, delivered, dead or skipped (default: all).")
    ] = None,
    lead: Annotated[str | None, typer.Option("--lead", help="Only this lead's rows.")] = None,
    destination: Annotated[str | None, typer.Option("--destination", help="Only this destination.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most rows shown.")] = 100,
    database_url: DbUrl = None,
) -> None:
    """Outbox rows, newest first, with a count per status."""
    from leadgate.actions.outbox import STATUSES, list_items, status_counts

    if status is not None and status not in STATUSES:
        raise _fail(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            items = list_items(conn, status=status, lead_id=lead, destination=destination, limit=limit)
            counts = status_counts(conn)
    finally:
        engine.dispose()
    table = Table(title="outbox")
    for col in ("id", "status", "kind", "destination", "lead", "attempts", "next attempt", "last error"):
        table.add_column(col)
    for i in items:
        table.add_row(
            str(i.id),
            i.status,
            i.action.kind,
            i.action.destination,
            i.action.lead_id,
            str(i.attempts),
            _when(i.next_attempt_at) if i.status == "pending" else "-",
            (i.last_error or "")[:80],
        )
    console.print(table)
    console.print(", ".join(f"{k}: {v}" for k, v in counts.items()), highlight=False)


@outbox_app.command("show")
@friendly
def outbox_show(
    ref: Annotated[str, typer.Argument(help="Row id or action id.")], database_url: DbUrl = None
) -> None:
    """One outbox row: its action, payload, attempts, lease and last error."""
    from leadgate.actions.outbox import get_item

    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            item = get_item(conn, ref)
    finally:
        engine.dispose()
    a = item.action
    facts = {
        "id": item.id,
        "action_id": a.action_id,
        "status": item.status,
        "kind": a.kind,
        "destination": a.destination,
        "lead_id": a.lead_id,
        "decision_id": a.decision_id,
        "idempotency_key": a.idempotency_key,
        "attempts": item.attempts,
        "created_at": _when(a.created_at),
        "next_attempt_at": _when(item.next_attempt_at),
        "claimed_by": item.claimed_by or "-",
        "claimed_until": _when(item.claimed_until),
        "delivered_at": _when(item.delivered_at),
        "external_id": item.external_id or "-",
        "last_error": item.last_error or "-",
    }
    for key, value in facts.items():
        console.print(f"{key}: {value}", highlight=False)
    console.print("payload: " + orjson.dumps(a.payload, option=orjson.OPT_INDENT_2).decode(), highlight=False)


@outbox_app.command("replay")
@friendly
def outbox_replay(
    ids: Annotated[list[int] | None, typer.Argument(help="Row ids to send again.")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Replay every dead row.")] = False,
    database_url: DbUrl = None,
) -> None:
    """Send rows again with the same idempotency key (the destination keeps one effect)."""
    from leadgate.actions.outbox import replay
    from leadgate.audit.access import whoami
    from leadgate.db import write_lock
    from leadgate.db.store import utcnow

    if not ids and not all_dead:
        raise _fail("name the row ids to replay, or --all-dead")
    engine = _engine(database_url)
    try:
        with write_lock(engine), engine.begin() as conn:
            done = replay(conn, ids=ids or [], all_dead=all_dead, now=utcnow(), actor=whoami())
    finally:
        engine.dispose()
    console.print(f"replayed {len(done)} row(s): {', '.join(map(str, done)) or '-'}", highlight=False)


@outbox_app.command("check")
@friendly
def outbox_check(
    path: Annotated[
        Path | None,
        typer.Argument(help="Destinations file (default: LEADGATE_DESTINATIONS_FILE, else the project's)."),
    ] = None,
) -> None:
    """Validate a destinations file and load its plugins; every issue with its line."""
    from leadgate.actions.destinations import check_destinations_text, destinations_path, load_destinations
    from leadgate.config import get_settings

    target = path or destinations_path(get_settings())
    loaded = load_destinations(None) if target is None else None
    if target is not None:
        loaded, issues = check_destinations_text(target.read_text(encoding="utf-8"))
        for issue in issues:
            err_console.print(f"{target}:{issue}", highlight=False, markup=False)
    if loaded is None:
        raise typer.Exit(1)
    console.print(f"{target or '<default>'}: ok", highlight=False)
    for kind, names in sorted(loaded.routes.items()):
        console.print(f"  {kind} -> {', '.join(names) or '(none)'}", highlight=False)
