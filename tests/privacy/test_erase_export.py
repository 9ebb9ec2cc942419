"""Erasure (Art. 17) and export (Art. 15) of one person (issue 8, item 7), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
from sqlalchemy import Engine, func, select
from starlette.exceptions import StarletteDeprecationWarning
from tests.api.conftest import bearer, create_test_key
from tests.cli_support import run
from tests.privacy.support import API_LEAD, NOTE, REJECTED, plaintext_found, populate
from tests.test_logs import PEOPLE, VISITOR

from leadgate.api import create_app
from leadgate.audit.access import iter_access
from leadgate.chat.runtime import build_chat
from leadgate.config import Settings
from leadgate.db import store
from leadgate.db.models import Base
from leadgate.pipeline import verify_audit_log

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@contextmanager
def client_for(url: str, key: str) -> Iterator[TestClient]:
    """A test client of the full app (with the chat) on ``url``, sending ``key``."""
    settings = Settings(database_url=url)
    with TestClient(create_app(settings, chat_factory=build_chat), headers=bearer(key)) as client:
        yield client


def _count(engine: Engine, table: str, **where: str) -> int:
    t = Base.metadata.tables[table]
    query = select(func.count()).select_from(t)
    for column, value in where.items():
        query = query.where(t.c[column] == value)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _person_values(first: str, last: str, email: str, phone: str) -> list[str]:
    return [first, last, email, phone, NOTE.format(first=first)]


def test_erase_removes_a_person_everywhere_and_verify_still_passes(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    done = populate(db_url, engine, tmp_path)
    db = ["--database-url", db_url]
    first, last, email, phone, _company = PEOPLE[1]  # 4 of the 20 imported leads, all decided

    before = orjson.loads(run("privacy", "export", "--email", email.upper(), *db))
    assert before["schema"] == "privacy_export/v1" and len(before["leads"]) == 4
    assert {lead["lead"]["email"] for lead in before["leads"]} == {email}
    assert all(lead["decisions"] and lead["decisions"][0]["input_hash"] for lead in before["leads"])
    assert before["leads"][0]["lead"]["post_decision"]["notes"] == NOTE.format(first=first)
    erased_ids = sorted(lead["lead"]["lead_id"] for lead in before["leads"])

    out = run("privacy", "erase", "--email", email, "--reason", "ticket 4711", *db)
    assert "leads 4" in out and "tombstone" in out
    after = orjson.loads(run("privacy", "export", "--email", email, *db))
    assert after["leads"] == [] and after["conversations"] == [] and after["bookings"] == []
    [tombstone] = after["tombstones"]
    assert tombstone["kind"] == "erasure" and tombstone["reason"] == "ticket 4711"
    assert tombstone["requested_by"].startswith("cli:") and tombstone["counts"]["leads"] == 4
    assert plaintext_found(engine, _person_values(first, last, email, phone)) == []
    with engine.connect() as conn:
        for lead_id in erased_ids:
            lead = store.get_lead(conn, lead_id)
            assert lead is not None and lead["email"] is None and lead["first_name"] is None
            assert "notes" not in lead["post_decision"] and "email" not in lead["attributes"]
            assert lead["attributes"]["lead_origin"]  # what is not personal stays, with its decisions
        # the other people are untouched
        other = PEOPLE[2][2]
        assert store.get_lead(conn, "api-lead-1") is not None
    assert len(orjson.loads(run("privacy", "export", "--email", other, *db))["leads"]) == 4

    # the decision log still verifies: the erased leads are accepted only under their tombstone
    checked, _head, problem = verify_audit_log(engine)
    assert problem is None and checked == 20 + 1 + 1  # 20 imported, the API lead, the chat lead
    verified = run("audit", "verify", *db)
    assert "audit chain intact" in verified and "4 leads erased under a tombstone" in verified
    tombstones = Base.metadata.tables["privacy_tombstones"]
    with engine.begin() as conn:  # without the tombstone the same leads fail verification
        conn.execute(tombstones.delete())
    problem = verify_audit_log(engine)[2]
    assert problem is not None and any(lid in problem for lid in erased_ids)

    # the access log has the erasure (by tombstone, no email) and both exports
    with engine.connect() as conn:
        events = list(iter_access(conn))
    assert [e["action"] for e in events if e["action"] in ("erase", "export")] == [
        "export",
        "erase",
        "export",
        "export",
    ]
    erase_event = next(e for e in events if e["action"] == "erase")
    assert erase_event["object_ids"] == [tombstone["tombstone_id"]]
    assert email not in orjson.dumps(events).decode()
    del done


def test_the_api_erases_the_chat_visitor_and_exports_for_admins_only(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    done = populate(db_url, engine, tmp_path)
    first, last, email, phone = VISITOR
    with client_for(db_url, done.key) as admin:
        exported = admin.get("/v1/privacy/exports", params={"email": email})
        assert exported.status_code == 200, exported.text
        doc = exported.json()
        [conv] = doc["conversations"]
        assert conv["conversation_id"] == done.conversation_id
        assert email in [e["payload"].get("text") for e in conv["events"]]
        assert [b["attendee_email"] for b in doc["bookings"]] == [email]
        assert [lead["lead"]["lead_id"] for lead in doc["leads"]] == [f"chat-{done.conversation_id}"]

        revops = create_test_key(engine, role="revops", name="revops")
        for method, path, kwargs in (
            ("post", "/v1/privacy/erasures", {"json": {"email": email}}),
            ("get", "/v1/privacy/exports", {"params": {"email": email}}),
        ):
            refused = admin.request(method, path, headers=bearer(revops), **kwargs)
            assert refused.status_code == 403, refused.text
        assert admin.post("/v1/privacy/erasures", json={"email": "not an email"}).status_code == 422

        erased = admin.post("/v1/privacy/erasures", json={"email": email, "reason": "asked in chat"})
        assert erased.status_code == 201, erased.text
        counts = erased.json()["counts"]
        assert counts["conversations"] == 1 and counts["bookings"] == 1 and counts["leads"] == 1
        assert counts["conversation_events"] > 10
        again = admin.get("/v1/privacy/exports", params={"email": email}).json()
        assert again["leads"] == again["conversations"] == again["bookings"] == []
        assert [t["requested_by"] for t in again["tombstones"]] == [f"key:{done.key[3:11]}"]
        gone = admin.get(f"/v1/conversations/{done.conversation_id}")
        assert gone.status_code in (401, 403, 404)
    assert plaintext_found(engine, _person_values(first, last, email, phone)) == []
    assert _count(engine, "conversation_events", conversation_id=done.conversation_id) == 0
    assert verify_audit_log(engine)[2] is None
    # the booking row stays (the rep's slot is still taken), without the attendee
    with engine.connect() as conn:
        from leadgate.chat.booking.store import read_booking

        bookings = Base.metadata.tables["bookings"]
        [booking_id] = conn.execute(select(bookings.c.booking_id)).scalars().all()
        booking = read_booking(conn, booking_id)
    assert booking is not None and (booking.attendee_email, booking.attendee_name, booking.ics) == (
        "",
        "",
        "",
    )


def test_erasing_the_rejected_record_and_an_unknown_person(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    populate(db_url, engine, tmp_path)
    db = ["--database-url", db_url]
    before = _count(engine, "dead_letters")
    out = run("privacy", "erase", "--email", REJECTED[2], *db)
    assert "dead_letters 1" in out and _count(engine, "dead_letters") == before - 1
    nobody = run("privacy", "erase", "--email", "nobody@nowhere.example", *db)
    assert re.search(
        r"leads 0, .*dead_letters 0", nobody, re.S
    )  # still a tombstone: the request is on record
    assert (
        len(orjson.loads(run("privacy", "export", "--email", "nobody@nowhere.example", *db))["tombstones"])
        == 1
    )
    assert API_LEAD["email"] in run("privacy", "export", "--email", API_LEAD["email"], *db)
    assert "needs the person's email address" in run("privacy", "erase", "--email", " ", *db, code=1)
