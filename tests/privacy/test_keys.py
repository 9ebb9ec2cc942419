"""Keys: where KEKs come from, data-key rotation under concurrent writes, KEK rotation, old plaintext."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine, select, update
from tests.cli_support import run, wide_console  # noqa: F401 (fixture)
from tests.conftest import TEST_DATA_KEYS

from leadgate.config import Settings
from leadgate.contracts.lead import validate_lead
from leadgate.db import store, write_lock
from leadgate.db.models import Base
from leadgate.db.rows import lead_row
from leadgate.privacy.crypto import (
    TOKEN_PREFIX,
    DataKeyError,
    forget_keyring,
    keyring,
    load_keks,
    new_kek_entry,
    parse_keks,
)
from leadgate.privacy.fields import ENCRYPTED_COLUMNS
from leadgate.privacy.rotate import key_usage, rotate_data_key


def _lead(i: int, who: str = "w") -> dict[str, object]:
    return {
        "lead_id": f"{who}-{i}",
        "source": "api",
        "email": f"person{i}.{who}@example.org",
        "first_name": f"First{i}",
        "last_name": f"Last{i}",
        "phone": f"+49 30 1234 {i:04d}",
        "attributes": {"lead_origin": "API", "total_visits": i},
    }


def _write(engine: Engine, docs: list[dict[str, object]]) -> None:
    rows = [lead_row(validate_lead(d), None) for d in docs]
    with write_lock(engine), engine.begin() as conn:
        store.write_leads(conn, rows)


def _token_keys(engine: Engine) -> set[str]:
    """The DEK ids of every token in every encrypted column."""
    found: set[str] = set()
    with engine.connect() as conn:
        for col in ENCRYPTED_COLUMNS:
            table = Base.metadata.tables[col.table]
            for value in conn.execute(select(table.c[col.column])).scalars():
                if value is not None:
                    found.add(value[len(TOKEN_PREFIX) :].split(":", 1)[0])
    return found


def test_kek_entries_are_checked_and_outside_dev_a_key_is_required(tmp_path: Path) -> None:
    keks = parse_keks(f"{new_kek_entry('new')}, {new_kek_entry('old')}", "test")
    assert keks.active == "new" and set(keks.keys) == {"new", "old"}
    for bad, message in (
        ("", "no key"),
        ("k1", "not id:base64"),
        ("k1:not-base64!", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "has 5 bytes, needs 32"),
        (f"{new_kek_entry('k1')}\n{new_kek_entry('k1')}", "appears twice"),
    ):
        with pytest.raises(DataKeyError, match=message):
            parse_keks(bad, "test")
    for env in ("test", "prod"):
        settings = Settings(env=env, secret_key="s" * 32, data_keys=None, data_key_file=None)
        with pytest.raises(DataKeyError, match=f"LEADGATE_ENV={env} needs a data key"):
            load_keks(settings, f"sqlite:///{tmp_path / 'x.db'}")
    # dev without a key: a key file beside the SQLite database (never in it), reused afterwards
    url = f"sqlite:///{tmp_path / 'dev' / 'leadgate.db'}"
    first = load_keks(Settings(data_keys=None, data_key_file=None), url)
    key_file = tmp_path / "dev" / "leadgate-data.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert load_keks(Settings(data_keys=None, data_key_file=None), url).keys == first.keys
    assert load_keks(Settings(data_keys=None, data_key_file=key_file), url).keys == first.keys


def test_rotate_data_key_while_another_thread_writes_leads(engine: Engine) -> None:
    _write(engine, [_lead(i) for i in range(300)])
    (old,) = _token_keys(engine)
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        i = 0
        while not stop.is_set() or i < 60:
            _write(engine, [_lead(i, "c")])
            written.append(i)
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        summary = rotate_data_key(engine, batch=25, settle_s=0.2)
    finally:
        stop.set()
        thread.join()
    assert summary.key_id != old and summary.rewritten["leads.pii"] >= 300
    # every lead decrypts, to what was written
    with engine.connect() as conn:
        for who, n in (("w", 300), ("c", len(written))):
            for i in range(n):
                lead = store.get_lead(conn, f"{who}-{i}")
                assert lead is not None and lead["email"] == _lead(i, who)["email"], (who, i)
    # every row is under the new key, and the old one is retired (kept wrapped, unused)
    assert _token_keys(engine) == {summary.key_id}
    assert summary.retired == [old] and summary.still_in_use == {}
    status = {r["key_id"]: (r["status"], r["rows"]) for r in key_usage(engine) if r["purpose"] == "data"}
    assert status == {old: ("retired", 0), summary.key_id: ("active", 300 + len(written))}
    # and written after the rotation: the new key
    _write(engine, [_lead(1, "after")])
    assert _token_keys(engine) == {summary.key_id}


def test_an_interrupted_rotation_resumes(engine: Engine) -> None:
    _write(engine, [_lead(i) for i in range(40)])
    calls = []

    def fail_after_first_batch(name: str, n: int) -> None:
        calls.append(n)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rotate_data_key(engine, batch=10, settle_s=0, progress=fail_after_first_batch)
    assert len(_token_keys(engine)) == 2  # half way: old and new keys in use
    resumed = rotate_data_key(engine, batch=10, settle_s=0)
    assert resumed.resumed and resumed.rewritten["leads.pii"] == 30 and len(resumed.retired) == 1
    assert _token_keys(engine) == {resumed.key_id}


def test_rotate_kek_rewraps_the_data_keys(
    db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(engine, [_lead(i) for i in range(5)])
    two = f"{new_kek_entry('kek2')},{TEST_DATA_KEYS}"
    forget_keyring(engine)
    monkeypatch.setenv("LEADGATE_DATA_KEYS", two)
    from leadgate.config import get_settings

    get_settings.cache_clear()
    try:
        keyring(engine, Settings(data_keys=two))
        out = run("keys", "rotate-kek", "--database-url", db_url)
        assert "2 keys re-wrapped from test1 to kek2" in out  # the data key and the index key
        assert "already wrapped by kek2" in run("keys", "rotate-kek", "--database-url", db_url)
        # only the new KEK from now on: every lead still decrypts
        only_new = two.split(",")[0]
        forget_keyring(engine)
        keyring(engine, Settings(data_keys=only_new))
        with engine.connect() as conn:
            assert store.get_lead(conn, "w-3")["email"] == _lead(3)["email"]  # type: ignore[index]
        forget_keyring(engine)
        keyring(engine, Settings(data_keys=TEST_DATA_KEYS))  # the old KEK alone no longer unwraps
        with engine.connect() as conn, pytest.raises(DataKeyError, match="'kek2', which is not in"):
            store.get_lead(conn, "w-3")
    finally:
        forget_keyring(engine)
        get_settings.cache_clear()


def test_rotation_encrypts_plaintext_of_a_database_from_before(engine: Engine) -> None:
    _write(engine, [_lead(i) for i in range(3)])
    leads, dead = store.LEADS, store.DEAD
    doc = {**_lead(7), "received_at": "2026-05-14T08:00:00Z", "post_decision": {}, "outcome": None}
    with engine.begin() as conn:  # rows as a database from before 0009 holds them
        plain = orjson.dumps({**doc, "lead_id": "w-0"}).decode()
        conn.execute(
            update(leads).where(leads.c.lead_id == "w-0").values(pii=None, email_index=None, data=plain)
        )
        conn.execute(
            dead.insert().values(
                source="api",
                dedupe_key="k1",
                record=orjson.dumps({"email": "old.letter@example.org"}).decode(),
                reason="r",
                errors="[]",
                created_at=store.utcnow(),
            )
        )
    summary = rotate_data_key(engine, settle_s=0)
    assert summary.rewritten["leads.pii"] == 3 and summary.rewritten["dead_letters.record"] == 1
    ring = keyring(engine)
    with engine.connect() as conn:
        row = conn.execute(select(leads).where(leads.c.lead_id == "w-0")).mappings().one()
        assert row["pii"].startswith(TOKEN_PREFIX) and "person7" not in row["data"]
        assert row["email_index"] == ring.blind_index(_lead(7)["email"])  # type: ignore[arg-type]
        assert store.get_lead(conn, "w-0")["email"] == _lead(7)["email"]  # type: ignore[index]
        letter = conn.execute(select(dead)).mappings().one()
        assert letter["email_index"] == ring.blind_index("old.letter@example.org")
        assert store.decrypt_dead_letter(conn, dict(letter))["record"] == {"email": "old.letter@example.org"}
    assert rotate_data_key(engine, settle_s=0).rewritten["leads.pii"] == 3  # all of them, once more


def test_db_upgrade_refuses_to_run_outside_dev_without_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadgate.config import get_settings

    monkeypatch.setenv("LEADGATE_ENV", "prod")
    monkeypatch.setenv("LEADGATE_SECRET_KEY", "s" * 40)
    monkeypatch.delenv("LEADGATE_DATA_KEYS")
    get_settings.cache_clear()
    try:
        out = run("db", "upgrade", "--database-url", f"sqlite:///{tmp_path / 'p.db'}", code=1)
        assert "LEADGATE_ENV=prod needs a data key" in out
    finally:
        get_settings.cache_clear()


@pytest.mark.usefixtures("wide_console")
def test_the_rotate_data_key_command(db_url: str, engine: Engine) -> None:
    from leadgate.audit.access import iter_access

    _write(engine, [_lead(i) for i in range(5)])
    (old,) = _token_keys(engine)
    out = run("keys", "rotate-data-key", "--batch", "2", "--settle", "0", "--database-url", db_url)
    (new,) = _token_keys(engine)
    assert f"new data key {new}" in out and "leads.pii: 5 values re-encrypted" in out
    assert f"retired: {old}" in out
    listed = run("keys", "data-keys", "--database-url", db_url)
    assert old in listed and "retired" in listed and new in listed
    with engine.connect() as conn:
        [event] = [e for e in iter_access(conn) if e["action"] == "data_key_rotate"]
    assert event["object_ids"] == [new] and event["actor"].startswith("cli:")
