"""``leadgate keys``: service API keys (create, list, rotate, revoke).

``create`` and ``rotate`` print the new key once (the database keeps only its sha256 and a lookup
prefix); ``list`` never prints a key. Keys are sent as ``Authorization: Bearer <key>``; see
``leadgate.governance.api_keys`` and ``docs/security.md``. ``leadgate.cli`` registers ``keys_app``.
"""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from leadgate.cli_common import DbUrl, _engine, console, friendly

keys_app = typer.Typer(help="Service API keys (sent as Authorization: Bearer).", no_args_is_help=True)

_ROLE_HELP = "Role: admin, revops, sales_manager, sales_rep, reviewer, analyst or integration."


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "cli"


def _when(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M UTC") if ts is not None else "-"


def _show_once(key: str) -> None:
    console.print(key, highlight=False, soft_wrap=True)
    console.print("store it now: it is not shown again (the database keeps only its hash)", highlight=False)


@keys_app.command("create")
@friendly
def keys_create(
    role: Annotated[str, typer.Option("--role", help=_ROLE_HELP)],
    name: Annotated[str, typer.Option("--name", help="What the key is for, e.g. crm-sync.")],
    expires: Annotated[
        str | None, typer.Option("--expires", help="Validity, e.g. 90d, 12h, 2w (default: no expiry).")
    ] = None,
    created_by: Annotated[
        str | None, typer.Option("--created-by", help="Who asks for it (default: your user name).")
    ] = None,
    rep_id: Annotated[
        str | None,
        typer.Option(
            "--rep-id", help="The sales rep the key acts as (a sales_rep key sees only that rep's leads)."
        ),
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """Create a key and print it once."""
    from leadgate.db import write_lock
    from leadgate.governance.api_keys import create_key, parse_duration
    from leadgate.governance.roles import check_role

    check_role(role)
    expires_in = parse_duration(expires) if expires is not None else None
    engine = _engine(database_url)
    try:
        with write_lock(engine), engine.begin() as conn:
            key, row = create_key(
                conn,
                name=name,
                role=role,
                created_by=created_by or _whoami(),
                expires_in=expires_in,
                rep_id=rep_id,
            )
    finally:
        engine.dispose()
    rep = f", rep {row.rep_id}" if row.rep_id else ""
    console.print(
        f"created key {row.prefix} ({row.name}, role {row.role}{rep}, expires {_when(row.expires_at)}):",
        highlight=False,
    )
    if row.role == "sales_rep" and row.rep_id is None:
        console.print("note: a sales_rep key without --rep-id sees no lead or conversation", highlight=False)
    _show_once(key)


@keys_app.command("list")
@friendly
def keys_list(database_url: DbUrl = None) -> None:
    """List keys (prefix, name, role, status and times); never the keys themselves."""
    from leadgate.governance.api_keys import list_keys

    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            rows = list_keys(conn)
    finally:
        engine.dispose()
    table = Table(title="API keys")
    for col in (
        "prefix",
        "name",
        "role",
        "rep",
        "status",
        "created",
        "by",
        "expires",
        "last used",
        "revoked",
    ):
        table.add_column(col, no_wrap=col in ("prefix", "role", "status"))
    for r in rows:
        table.add_row(
            r.prefix,
            r.name,
            r.role,
            r.rep_id or "-",
            r.status(),
            _when(r.created_at),
            r.created_by,
            _when(r.expires_at),
            _when(r.last_used_at),
            _when(r.revoked_at),
        )
    console.print(table)


@keys_app.command("rotate")
@friendly
def keys_rotate(
    prefix: Annotated[str, typer.Argument(help="The key's prefix (from `leadgate keys list`).")],
    grace: Annotated[
        str, typer.Option("--grace", help="How long the old key keeps working, e.g. 7d, 12h.")
    ] = "7d",
    expires: Annotated[
        str | None,
        typer.Option("--expires", help="The new key's validity (default: the old key's lifetime)."),
    ] = None,
    created_by: Annotated[
        str | None, typer.Option("--created-by", help="Who rotates (default: your user name).")
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """Create a successor key (printed once); the old key stays valid until the grace period ends."""
    from leadgate.db import write_lock
    from leadgate.governance.api_keys import parse_duration, rotate_key

    grace_for = parse_duration(grace)
    expires_in = parse_duration(expires) if expires is not None else None
    engine = _engine(database_url)
    try:
        with write_lock(engine), engine.begin() as conn:
            key, new, old = rotate_key(
                conn, prefix, grace=grace_for, created_by=created_by or _whoami(), expires_in=expires_in
            )
    finally:
        engine.dispose()
    console.print(f"old key {old.prefix} stays valid until {_when(old.expires_at)}", highlight=False)
    console.print(
        f"new key {new.prefix} ({new.name}, role {new.role}, expires {_when(new.expires_at)}):",
        highlight=False,
    )
    _show_once(key)


@keys_app.command("revoke")
@friendly
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix (from `leadgate keys list`).")],
    database_url: DbUrl = None,
) -> None:
    """Revoke a key at once: every later request with it gets 401."""
    from leadgate.db import write_lock
    from leadgate.governance.api_keys import revoke_key

    engine = _engine(database_url)
    try:
        with write_lock(engine), engine.begin() as conn:
            row, changed = revoke_key(conn, prefix)
    finally:
        engine.dispose()
    if changed:
        console.print(f"revoked key {row.prefix} ({row.name})", highlight=False)
    else:
        console.print(f"key {row.prefix} ({row.name}) was revoked already, at {_when(row.revoked_at)}")


@keys_app.command("new-kek")
@friendly
def keys_new_kek(
    key_id: Annotated[str, typer.Argument(help="The new key-encryption key's id, e.g. kek2.")],
) -> None:
    """Print a new key-encryption key entry (id:base64 of 32 random bytes) for LEADGATE_DATA_KEYS."""
    from leadgate.privacy.crypto import new_kek_entry

    console.print(new_kek_entry(key_id), highlight=False, soft_wrap=True)
    console.print(
        "put it FIRST in LEADGATE_DATA_KEYS (or the key file), keep the old entries after it, then run "
        "`leadgate keys rotate-kek`",
        highlight=False,
    )


@keys_app.command("data-keys")
@friendly
def keys_data_keys(database_url: DbUrl = None) -> None:
    """List the data-encryption keys and the index key: KEK, status, and rows using each."""
    from leadgate.privacy.rotate import key_usage

    engine = _engine(database_url)
    try:
        rows = key_usage(engine)
    finally:
        engine.dispose()
    table = Table(title="data keys")
    for col in ("id", "purpose", "kek", "status", "created", "retired", "rows"):
        table.add_column(col, no_wrap=True)
    for r in rows:
        table.add_row(
            r["key_id"],
            r["purpose"],
            r["kek_id"],
            r["status"],
            _when(r["created_at"]),
            _when(r["retired_at"]),
            "-" if r["rows"] is None else str(r["rows"]),
        )
    console.print(table)


@keys_app.command("rotate-data-key")
@friendly
def keys_rotate_data_key(
    batch: Annotated[int, typer.Option("--batch", min=1, help="Rows per transaction.")] = 1000,
    settle: Annotated[
        float,
        typer.Option("--settle", min=0, help="Seconds to wait for running processes before the last pass."),
    ] = 10.0,
    database_url: DbUrl = None,
) -> None:
    """New data key; re-encrypt every personal value with it in batches (the service keeps running).

    Resumable: run it again after an interruption. Also encrypts plaintext left from before encryption.
    """
    from leadgate.audit.access import record_access, whoami
    from leadgate.db import write_lock
    from leadgate.privacy.rotate import rotate_data_key

    engine = _engine(database_url)
    try:
        summary = rotate_data_key(engine, batch=batch, settle_s=settle)
        with write_lock(engine), engine.begin() as conn:
            record_access(
                conn,
                actor=whoami(),
                role=None,
                action="data_key_rotate",
                route="keys rotate-data-key",
                object_type="data_key",
                object_ids=[summary.key_id],
                detail={"rewritten": summary.rewritten, "retired": summary.retired},
            )
    finally:
        engine.dispose()
    verb = "resumed rotation to" if summary.resumed else "new data key"
    console.print(f"{verb} {summary.key_id}", highlight=False)
    for name, n in sorted(summary.rewritten.items()):
        console.print(f"  {name}: {n} values re-encrypted", highlight=False)
    if summary.retired:
        console.print(f"retired: {', '.join(summary.retired)}", highlight=False)
    if summary.still_in_use:
        left = ", ".join(f"{k} ({n} rows)" for k, n in summary.still_in_use.items())
        console.print(f"still in use, run again: {left}", highlight=False)
        raise typer.Exit(1)


@keys_app.command("rotate-kek")
@friendly
def keys_rotate_kek(database_url: DbUrl = None) -> None:
    """Re-wrap every data key with the active key-encryption key (the first of LEADGATE_DATA_KEYS)."""
    from leadgate.privacy.crypto import keyring
    from leadgate.privacy.rotate import rotate_kek

    engine = _engine(database_url)
    try:
        moved = rotate_kek(engine)
        active = keyring(engine).keks.active
    finally:
        engine.dispose()
    if not moved:
        console.print(f"every data key is already wrapped by {active}", highlight=False)
    for old, n in sorted(moved.items()):
        console.print(
            f"{n} keys re-wrapped from {old} to {active}; {old} may now be removed", highlight=False
        )
