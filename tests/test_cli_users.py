"""``leadgate users`` on SQLite and PostgreSQL: create (password from stdin or a hidden prompt asked twice,
or SSO-only), list (never a hash), disable and set-password (sessions end), one-line errors, the access
log, and the quickstart's demo admin sign-in."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from tests.cli_support import wide_console  # noqa: F401 (fixture)
from typer.testing import CliRunner

from leadgate import cli
from leadgate.audit.access import iter_access
from leadgate.cli_serve import DEMO_ADMIN_EMAIL, _first_admin_user
from leadgate.db import make_engine, write_lock
from leadgate.governance import staff_sessions, users

PASSWORD = "correct horse battery staple"
LIMITS = staff_sessions.SessionLimits(idle=timedelta(minutes=30), absolute=timedelta(hours=12))


def run(*args: str, input: str | None = None, code: int = 0) -> str:
    """Run ``leadgate ARGS`` with ``input`` on stdin; assert the exit code and no traceback."""
    result = CliRunner().invoke(cli.app, list(args), input=input)
    assert result.exit_code == code, (args, result.output, result.exception)
    if code:
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
    return result.output


@pytest.mark.usefixtures("wide_console")
def test_create_list_disable_set_password(db_url: str) -> None:
    db = ["--database-url", db_url]
    out = run("users", "create", "--email", "Rita@Example.com", "--role", "sales_rep", "--name", "Rita",
              "--rep-id", "rep-3", "--password-stdin", *db, input=PASSWORD + "\n")  # fmt: skip
    assert "created user 1 Rita@example.com (role sales_rep, password)" in out
    out = run(
        "users",
        "create",
        "--email",
        "boss@example.com",
        "--role",
        "admin",
        *db,
        input=f"{PASSWORD}!\n{PASSWORD}!\n",
    )  # fmt: skip  (the hidden prompt, twice)
    assert "created user 2 boss@example.com (role admin, password)" in out
    assert "(role analyst, single sign-on only)" in run(
        "users", "create", "--email", "sso@example.com", "--role", "analyst", "--sso-only", *db
    )
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            hashes = (
                conn.execute(select(users.USERS.c.password_hash).order_by(users.USERS.c.id)).scalars().all()
            )
            assert users.check_password(conn, "rita@example.com", PASSWORD).user is not None
            assert users.check_password(conn, "boss@example.com", PASSWORD + "!").user is not None
        assert [h is not None and h.startswith("$argon2id$") for h in hashes] == [True, True, False]

        listed = run("users", "list", *db)
        for text in (
            "Rita@example.com",
            "Rita",
            "sales_rep",
            "rep-3",
            "boss@example.com",
            "sso (not linked yet)",
        ):
            assert text in listed, text
        assert "argon2" not in listed and PASSWORD not in listed

        with write_lock(engine), engine.begin() as conn:
            token, _ = staff_sessions.start_session(conn, 1, LIMITS, method="password")
        new = "another long passphrase"
        out = run(
            "users", "set-password", "--email", "RITA@example.com", "--password-stdin", *db, input=new + "\n"
        )
        assert "their sessions have ended" in out
        with engine.connect() as conn:
            assert staff_sessions.find_session(conn, token, LIMITS) is None
            assert users.check_password(conn, "rita@example.com", new).user is not None

        with write_lock(engine), engine.begin() as conn:
            token, _ = staff_sessions.start_session(conn, 1, LIMITS, method="password")
        assert "disabled user 1 Rita@example.com" in run(
            "users", "disable", "--email", "rita@example.com", *db
        )
        assert "was disabled already" in run("users", "disable", "--email", "rita@example.com", *db)
        with engine.connect() as conn:
            assert staff_sessions.find_session(conn, token, LIMITS) is None
            assert users.check_password(conn, "rita@example.com", new).user is None
            events = list(iter_access(conn))
        assert [(e["action"], e["route"], e["object_ids"]) for e in events] == [
            ("user_create", "users create", ["1"]),
            ("user_create", "users create", ["2"]),
            ("user_create", "users create", ["3"]),
            ("user_update", "users set-password", ["1"]),
            ("user_disable", "users disable", ["1"]),
        ]
        assert all(e["actor"].startswith("cli:") for e in events)
        assert "disabled" in run("users", "list", *db)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("create", "--email", "a@example.com", "--role", "admin", "--password-stdin"), "short\n",
         "password too short: use at least 15 characters"),
        (("create", "--email", "a@example.com", "--role", "admin"), f"{PASSWORD}\n{PASSWORD}x\n",
         "the two passwords differ"),
        (("create", "--email", "a@example.com", "--role", "admin", "--password-stdin"), "",
         "no password on standard input"),
        (("create", "--email", "not-an-email", "--role", "admin", "--sso-only"), None, "not a valid email"),
        (("create", "--email", "a@example.com", "--role", "integration", "--sso-only"), None, "API keys only"),
        (("create", "--email", "a@example.com", "--role", "boss", "--sso-only"), None, "unknown role 'boss'"),
        (("create", "--email", "taken@example.com", "--role", "admin", "--sso-only"), None, "exists already"),
        (("disable", "--email", "nobody@example.com"), None, "no user with email"),
        (("set-password", "--email", "nobody@example.com", "--password-stdin"), PASSWORD, "no user with email"),
    ],
)  # fmt: skip
def test_errors_are_one_line(db_url: str, args: tuple[str, ...], stdin: str | None, message: str) -> None:
    db = ["--database-url", db_url]
    run("users", "create", "--email", "Taken@example.com", "--role", "admin", "--sso-only", *db)
    out = run("users", *args, *db, input=stdin, code=1)
    last = out.strip().splitlines()[-1]  # the prompts come first when the password is asked
    assert message in last, out
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert users.count_users(conn) == 1
    engine.dispose()


@pytest.mark.usefixtures("wide_console")
def test_quickstart_prints_a_demo_admin_sign_in_once(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _first_admin_user(db_url)
    first = capsys.readouterr().out
    assert "http://127.0.0.1:8000/staff/sign-in" in first and f"email:    {DEMO_ADMIN_EMAIL}" in first
    (password,) = re.findall(r"password: (\S+)", first)
    assert len(password) >= users.MIN_PASSWORD_CHARS
    _first_admin_user(db_url)
    again = capsys.readouterr().out
    assert "has some already" in again and password not in again
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            admin = users.check_password(conn, DEMO_ADMIN_EMAIL, password).user
            assert admin is not None and admin.role == "admin" and users.count_users(conn) == 1
            (event,) = iter_access(conn, action="user_create")
        assert event["route"] == "quickstart" and event["detail"] == {"demo": True, "role": "admin"}
    finally:
        engine.dispose()
