"""The access log (issue 8, item 8): keyed hash chain, checkpoints, and the tampering `audit verify` catches.

Each kind of tampering is done the way someone with write access to the database would do it (SQL on
the tables), on SQLite and PostgreSQL; `leadgate audit verify --checkpoints` must then exit 1 naming the
access log, and must pass on the untouched log.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine, delete, func, select, update
from typer.testing import CliRunner

from leadgate.audit.access import (
    ACCESS,
    ACCESS_HEAD,
    AccessLogError,
    access_key,
    iter_access,
    log_access,
    record_access,
    verify_access_log,
)
from leadgate.audit.chain import GENESIS_HASH
from leadgate.audit.checkpoint import audit_key, read_checkpoints
from leadgate.cli import app
from leadgate.config import get_settings
from leadgate.db import write_lock

KEY = "access-log-test-key-0123456789abcdef"


@pytest.fixture
def audit_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An audit key and checkpoint file in the environment (the settings are re-read)."""
    path = tmp_path / "checkpoints.jsonl"
    monkeypatch.setenv("LEADGATE_AUDIT_KEY", KEY)
    monkeypatch.setenv("LEADGATE_AUDIT_CHECKPOINTS", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def _events(engine: Engine, n: int = 6) -> None:
    """n events as a running service writes them: reads by staff, a sign-in, a key creation."""
    for i in range(n):
        log_access(
            engine,
            actor=f"user:{i % 3 + 1}",
            role="sales_rep" if i % 2 else "admin",
            action="read_pii" if i % 3 else "sign_in",
            route="/v1/leads/{lead_id}" if i % 3 else "/staff/sign-in",
            object_type="lead" if i % 3 else None,
            object_ids=[f"lead-{i}"] if i % 3 else [],
            detail={"n": i},
        )


def _verify(db_url: str, checkpoints: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["audit", "verify", "--database-url", db_url, "--checkpoints", str(checkpoints)]
    )
    return result.exit_code, result.output


def test_events_are_chained_listed_and_verified(engine: Engine, db_url: str, audit_env: Path) -> None:
    _events(engine)
    with engine.connect() as conn:
        rows = list(iter_access(conn))
        assert [r["action"] for r in rows] == ["sign_in", "read_pii", "read_pii"] * 2
        assert rows[0]["prev_hash"] == GENESIS_HASH
        assert all(b["prev_hash"] == a["record_hash"] for a, b in itertools.pairwise(rows))
        assert [r["object_ids"] for r in iter_access(conn, object_id="lead-4")] == [["lead-4"]]
        assert len(list(iter_access(conn, actor="user:1"))) == 2
        assert verify_access_log(conn)[1] is None
    lines, problem = read_checkpoints(audit_env, KEY.encode())
    assert problem is None
    assert [c.fields["count"] for c in lines if c.fields.get("kind") == "access"] == [1, 2, 3, 4, 5, 6]
    code, out = _verify(db_url, audit_env)
    assert code == 0, out
    assert "access log intact: 6 events" in out


def test_unknown_action_is_refused(engine: Engine) -> None:
    with (
        write_lock(engine),
        engine.begin() as conn,
        pytest.raises(AccessLogError, match="unknown access-log"),
    ):
        record_access(conn, actor="user:1", role="admin", action="read_everything")


def test_record_access_rolls_back_with_its_transaction(engine: Engine) -> None:
    with pytest.raises(RuntimeError), write_lock(engine), engine.begin() as conn:
        record_access(conn, actor="cli:ops", role=None, action="erase", object_type="lead", object_ids=["x"])
        raise RuntimeError("the erasure failed")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ACCESS)).scalar_one() == 0
        assert verify_access_log(conn) == (0, None)


def test_key_commands_are_recorded(engine: Engine, db_url: str, audit_env: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(
        app, ["keys", "create", "--role", "integration", "--name", "crm", "--database-url", db_url]
    )
    assert created.exit_code == 0, created.output
    prefix = created.output.split("created key ", 1)[1].split(" ", 1)[0]
    assert runner.invoke(app, ["keys", "rotate", prefix, "--database-url", db_url]).exit_code == 0
    assert runner.invoke(app, ["keys", "revoke", prefix, "--database-url", db_url]).exit_code == 0
    with engine.connect() as conn:
        rows = list(iter_access(conn))
    assert [r["action"] for r in rows] == ["key_create", "key_rotate", "key_revoke"]
    assert rows[0]["object_ids"] == [prefix] and rows[0]["detail"] == {"role": "integration"}
    assert rows[1]["detail"]["replaces"] == prefix
    assert all(r["actor"].startswith("cli:") for r in rows)
    # the key itself is never in the log
    assert "lg_" not in orjson.dumps(rows, default=str).decode()


def _edit_action(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(ACCESS).where(ACCESS.c.id == 2).values(action="sign_in"))


def _edit_object(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(ACCESS).where(ACCESS.c.id == 3).values(object_ids='["lead-99"]'))


def _edit_actor(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(ACCESS).where(ACCESS.c.id == 5).values(actor="user:9"))


def _delete_middle(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(ACCESS).where(ACCESS.c.id == 3))


def _swap(engine: Engine) -> None:
    with engine.begin() as conn:
        a = conn.execute(select(ACCESS).where(ACCESS.c.id == 2)).mappings().one()
        b = conn.execute(select(ACCESS).where(ACCESS.c.id == 3)).mappings().one()
        for target, source in ((2, b), (3, a)):
            values = {k: v for k, v in source.items() if k != "id"}
            conn.execute(update(ACCESS).where(ACCESS.c.id == target).values(**values))


def _truncate_and_move_head(engine: Engine) -> None:
    with engine.begin() as conn:
        keep = conn.execute(select(ACCESS.c.record_hash).where(ACCESS.c.id == 4)).scalar_one()
        conn.execute(delete(ACCESS).where(ACCESS.c.id > 4))
        conn.execute(update(ACCESS_HEAD).values(last_hash=keep, count=4))


def _reset_to_genesis(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(ACCESS))
        conn.execute(update(ACCESS_HEAD).values(last_hash=GENESIS_HASH, count=0))


def _rehash_without_key(engine: Engine) -> None:
    """Edit an event and recompute every hash as an unkeyed sha256 chain would (the key is not in the DB)."""
    with engine.begin() as conn:
        conn.execute(update(ACCESS).where(ACCESS.c.id == 2).values(actor="user:9"))
        rows = conn.execute(select(ACCESS).order_by(ACCESS.c.id)).mappings().all()
        prev = GENESIS_HASH
        for r in rows:
            fields = {
                k: r[k]
                for k in ("action", "actor", "at", "detail", "object_ids", "object_type", "role", "route")
            }
            h = hashlib.sha256(prev.encode() + orjson.dumps(fields)).hexdigest()
            conn.execute(update(ACCESS).where(ACCESS.c.id == r["id"]).values(prev_hash=prev, record_hash=h))
            prev = h
        conn.execute(update(ACCESS_HEAD).values(last_hash=prev))


def _forged_append(engine: Engine) -> None:
    """Insert an event linked to the head with a guessed (unkeyed) hash and move the head."""
    with engine.begin() as conn:
        head, count = conn.execute(select(ACCESS_HEAD.c.last_hash, ACCESS_HEAD.c.count)).one()
        row = {
            "at": "2026-12-02T00:00:00.000000Z",
            "actor": "user:1",
            "role": "admin",
            "action": "sign_in",
            "route": "/staff/sign-in",
            "object_type": None,
            "object_ids": "[]",
            "detail": "{}",
        }
        forged = hashlib.sha256(head.encode() + orjson.dumps(dict(sorted(row.items())))).hexdigest()
        conn.execute(ACCESS.insert().values(**row, prev_hash=head, record_hash=forged))
        conn.execute(update(ACCESS_HEAD).values(last_hash=forged, count=count + 1))


def _delete_last_keep_head(engine: Engine) -> None:
    with engine.begin() as conn:
        last = conn.execute(select(func.max(ACCESS.c.id))).scalar_one()
        conn.execute(delete(ACCESS).where(ACCESS.c.id == last))


TAMPERING: dict[str, Callable[[Engine], None]] = {
    "edit action": _edit_action,
    "edit object ids": _edit_object,
    "edit actor": _edit_actor,
    "delete an event": _delete_middle,
    "swap two events": _swap,
    "truncate and move the head back": _truncate_and_move_head,
    "reset to genesis": _reset_to_genesis,
    "re-hash after an edit without the key": _rehash_without_key,
    "forged append": _forged_append,
    "delete the newest event": _delete_last_keep_head,
}


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_tampering_is_detected(kind: str, engine: Engine, db_url: str, audit_env: Path) -> None:
    _events(engine)
    assert _verify(db_url, audit_env)[0] == 0
    TAMPERING[kind](engine)
    code, out = _verify(db_url, audit_env)
    assert code == 1, out
    assert "access log" in out


def test_a_different_key_does_not_verify(
    engine: Engine, audit_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _events(engine, 2)
    key = access_key()
    assert key != hashlib.sha256(KEY.encode()).digest()  # derived, not the audit key itself
    assert audit_key(get_settings()) == KEY.encode()
    monkeypatch.setenv("LEADGATE_AUDIT_KEY", KEY + "-other")
    get_settings.cache_clear()
    with engine.connect() as conn:
        checked, problem = verify_access_log(conn)
    assert checked == 1 and problem is not None and "without the key" in problem


def test_audit_access_lists_newest_first(engine: Engine, db_url: str) -> None:
    _events(engine, 4)  # sign_in, read_pii lead-1, read_pii lead-2, sign_in
    out = CliRunner().invoke(
        app,
        ["audit", "access", "--action", "read_pii", "--database-url", db_url, "--limit", "5"],
        env={"COLUMNS": "200"},
    )
    assert out.exit_code == 0, out.output
    assert "2 events" in out.output and "sign_in" not in out.output
    assert out.output.index("lead-2") < out.output.index("lead-1")
