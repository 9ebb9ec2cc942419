"""``leadgate keys`` on a temporary SQLite database: create (printed once), list (never the key), rotate
with a grace period, revoke; one-line errors; the quickstart's first admin key."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.cli_support import run, wide_console  # noqa: F401 (fixture)

from leadgate.cli_serve import _first_admin_key
from leadgate.db import make_engine
from leadgate.db.store import utcnow
from leadgate.governance import api_keys

KEY = re.compile(r"\blg_[a-z2-7]{52}\b")


@pytest.mark.usefixtures("wide_console")
def test_create_list_rotate_revoke(tmp_path: Path) -> None:
    db = ["--database-url", f"sqlite:///{tmp_path / 'k.db'}"]
    out = run("keys", "create", "--role", "integration", "--name", "crm-sync", "--expires", "90d",
              "--created-by", "anna", *db)  # fmt: skip
    (key,) = KEY.findall(out)
    prefix = api_keys.key_prefix(key)
    engine = make_engine(db[1])
    try:
        with engine.connect() as conn:
            row = conn.execute(select(api_keys.API_KEYS)).one()
            found = api_keys.verify_key(conn, key)
        # only the hash and the prefix are stored
        assert key not in repr(tuple(row)) and row.key_hash == api_keys.hash_key(key)
        assert found is not None and (found.role, found.name, found.created_by) == (
            "integration",
            "crm-sync",
            "anna",
        )
        assert found.expires_at is not None
        assert timedelta(days=89) < found.expires_at - found.created_at <= timedelta(days=90)

        listed = run("keys", "list", *db)
        assert prefix in listed and "crm-sync" in listed and "integration" in listed and "active" in listed
        assert not KEY.search(listed)

        rotated = run("keys", "rotate", prefix, "--grace", "1h", *db)
        (new_key,) = KEY.findall(rotated)
        assert new_key != key and f"old key {prefix} stays valid until" in rotated
        with engine.connect() as conn:
            old, new = api_keys.verify_key(conn, key), api_keys.verify_key(conn, new_key)
        assert old is not None and new is not None and new.rotated_from == old.id
        assert old.expires_at is not None and old.expires_at <= utcnow() + timedelta(hours=1)
        assert new.expires_at is not None and new.expires_at - new.created_at == timedelta(days=90)
        # after the grace period only the new key is valid
        with engine.connect() as conn:
            assert api_keys.verify_key(conn, key, utcnow() + timedelta(hours=2)) is None

        assert f"revoked key {prefix}" in run("keys", "revoke", prefix, *db)
        assert "revoked already" in run("keys", "revoke", f"lg_{prefix}", *db)
        with engine.connect() as conn:
            assert api_keys.verify_key(conn, key) is None
            assert api_keys.verify_key(conn, new_key) is not None
        listed = run("keys", "list", *db)
        assert "revoked" in listed and not KEY.search(listed)
        # a revoked key cannot be rotated
        assert "is revoked" in run("keys", "rotate", prefix, *db, code=1)
    finally:
        engine.dispose()


@pytest.mark.usefixtures("wide_console")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--role", "boss", "--name", "x"), "unknown role 'boss'"),
        (("create", "--role", "admin", "--name", "x", "--expires", "soon"), "bad duration 'soon'"),
        (("create", "--role", "admin", "--name", " "), "key name must be 1 to 128 characters"),
        (("rotate", "nosuchpx"), "no API key with prefix 'nosuchpx'"),
        (("revoke", "nosuchpx"), "no API key with prefix 'nosuchpx'"),
        (("rotate", "nosuchpx", "--grace", "0d"), "bad duration '0d'"),
    ],
)
def test_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    out = run("keys", *args, "--database-url", f"sqlite:///{tmp_path / 'k.db'}", code=1)
    assert message in out and len(out.strip().splitlines()) == 1, out


@pytest.mark.usefixtures("wide_console")
def test_quickstart_prints_an_admin_key_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    _first_admin_key(url)
    first = capsys.readouterr().out
    (key,) = KEY.findall(first)
    assert f"export LEADGATE_KEY={key}" in first
    _first_admin_key(url)
    again = capsys.readouterr().out
    assert not KEY.search(again) and "has some already" in again
    engine = make_engine(url)
    with engine.connect() as conn:
        found = api_keys.verify_key(conn, key)
        assert found is not None and found.role == "admin" and api_keys.count_keys(conn) == 1
    engine.dispose()
