"""``leadgate users``: staff accounts (create, list, disable, set-password).

A staff account signs in to the staff pages (``/staff/sign-in``) with its email and password, or by
single sign-on (``--sso-only``: no password). Passwords are read from a hidden prompt (asked twice) or,
for scripts, from standard input (``--password-stdin``, the first line); never from the command line,
where they would stay in the shell history and the process list. Every change is written to the access
log (``user_create``, ``user_update``, ``user_disable``) with the actor ``cli:<os user>``. See
``leadgate.governance.users`` and ``docs/security.md``. ``leadgate.cli`` registers ``users_app``.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from leadgate.cli_common import DbUrl, _engine, console, friendly
from leadgate.errors import LeadgateError

users_app = typer.Typer(help="Staff accounts (sign-in to the staff pages).", no_args_is_help=True)

_ROLE_HELP = "Role: admin, revops, sales_manager, sales_rep, reviewer or analyst."


class PasswordInputError(LeadgateError, ValueError):
    """The password could not be read (the two entries differ, standard input is empty)."""


def _when(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M UTC") if ts is not None else "-"


def read_password(from_stdin: bool) -> str:
    """The new password: the first line of standard input, or a hidden prompt asked twice.

    Raises:
        PasswordInputError: standard input is empty, or the two prompted entries differ.
    """
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise PasswordInputError("no password on standard input (--password-stdin reads its first line)")
        return line
    first = typer.prompt("Password", hide_input=True)
    second = typer.prompt("Repeat the password", hide_input=True)
    if first != second:
        raise PasswordInputError("the two passwords differ: nothing was changed")
    return str(first)


@users_app.command("create")
@friendly
def users_create(
    email: Annotated[str, typer.Option("--email", help="Sign-in email (unique, any case).")],
    role: Annotated[str, typer.Option("--role", help=_ROLE_HELP)],
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    rep_id: Annotated[
        str | None, typer.Option("--rep-id", help="The sales rep id this person is (leads.owner values).")
    ] = None,
    sso_only: Annotated[
        bool, typer.Option("--sso-only", help="No password: signs in by single sign-on only.")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input's first line.")
    ] = False,
    database_url: DbUrl = None,
) -> None:
    """Create a staff account (the password is asked twice, hidden, unless --sso-only)."""
    from leadgate.audit.access import record_access, whoami
    from leadgate.db import write_lock
    from leadgate.governance.users import check_password_policy, create_user, normalize_email

    normalize_email(email)  # a bad email fails before the password is asked
    if sso_only and password_stdin:
        raise PasswordInputError("--sso-only and --password-stdin exclude each other")
    password = None if sso_only else check_password_policy(read_password(password_stdin))
    actor = whoami()
    engine = _engine(database_url)
    try:
        with write_lock(engine), engine.begin() as conn:
            user = create_user(
                conn,
                email=email,
                role=role,
                created_by=actor,
                password=password,
                display_name=name,
                rep_id=rep_id,
            )
            record_access(
                conn,
                actor=actor,
                role=None,
                action="user_create",
                route="users create",
                object_type="user",
                object_ids=[str(user.id)],
                detail={"role": user.role, "sso_only": sso_only},
            )
    finally:
        engine.dispose()
    how = "single sign-on only" if sso_only else "password"
    console.print(f"created user {user.id} {user.email} (role {user.role}, {how})", highlight=False)


@users_app.command("list")
@friendly
def users_list(database_url: DbUrl = None) -> None:
    """List staff accounts (never a password or its hash)."""
    from leadgate.governance.users import list_users

    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            rows = list_users(conn)
    finally:
        engine.dispose()
    table = Table(title="Staff accounts")
    for col in ("id", "email", "name", "role", "rep", "sign-in", "status", "created", "by", "last sign-in"):
        table.add_column(col, no_wrap=col in ("id", "role", "status"))
    for u in rows:
        how = "+".join(
            p for p, on in (("password", u.has_password), ("sso", u.oidc_subject is not None)) if on
        )
        table.add_row(
            str(u.id),
            u.email,
            u.display_name or "-",
            u.role,
            u.rep_id or "-",
            how or "sso (not linked yet)",
            "active" if u.active else "disabled",
            _when(u.created_at),
            u.created_by,
            _when(u.last_sign_in_at),
        )
    console.print(table)


@users_app.command("disable")
@friendly
def users_disable(
    email: Annotated[str, typer.Option("--email", help="The account's email.")],
    database_url: DbUrl = None,
) -> None:
    """Disable an account: no more sign-ins, and its open sessions end at once."""
    from leadgate.audit.access import record_access, whoami
    from leadgate.db import write_lock
    from leadgate.governance.users import disable_user

    engine = _engine(database_url)
    try:
        with write_lock(engine), engine.begin() as conn:
            user, changed = disable_user(conn, email)
            if changed:
                record_access(
                    conn,
                    actor=whoami(),
                    role=None,
                    action="user_disable",
                    route="users disable",
                    object_type="user",
                    object_ids=[str(user.id)],
                )
    finally:
        engine.dispose()
    if changed:
        console.print(f"disabled user {user.id} {user.email}; their sessions have ended", highlight=False)
    else:
        console.print(f"user {user.id} {user.email} was disabled already", highlight=False)


@users_app.command("set-password")
@friendly
def users_set_password(
    email: Annotated[str, typer.Option("--email", help="The account's email.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input's first line.")
    ] = False,
    database_url: DbUrl = None,
) -> None:
    """Set a new password (asked twice, hidden); the account's open sessions end."""
    from leadgate.audit.access import record_access, whoami
    from leadgate.db import write_lock
    from leadgate.governance.users import check_password_policy, find_user, set_password

    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            find_user(conn, email)  # an unknown email fails before the password is asked
        password = check_password_policy(read_password(password_stdin))
        with write_lock(engine), engine.begin() as conn:
            user = set_password(conn, email, password)
            record_access(
                conn,
                actor=whoami(),
                role=None,
                action="user_update",
                route="users set-password",
                object_type="user",
                object_ids=[str(user.id)],
                detail={"changed": "password"},
            )
    finally:
        engine.dispose()
    console.print(
        f"new password set for user {user.id} {user.email}; their sessions have ended", highlight=False
    )
