"""Personal data encrypted at rest (issue 8, item 5), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine, select, update
from tests.privacy.support import API_LEAD, NOTE, REJECTED, personal_values, plaintext_found, populate
from tests.test_logs import PEOPLE, VISITOR

from leadgate.chat.booking.store import read_booking
from leadgate.chat.store import ConversationStore
from leadgate.contracts.lead import validate_lead
from leadgate.db import store
from leadgate.db.engine import write_lock
from leadgate.db.models import Base
from leadgate.db.rows import lead_row
from leadgate.pipeline import verify_audit_log
from leadgate.privacy.crypto import TOKEN_PREFIX, DecryptionError, keyring
from leadgate.privacy.erase import find_person
from leadgate.privacy.fields import ENCRYPTED_COLUMNS


def test_no_personal_value_is_stored_in_plain_text_and_reads_round_trip(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    done = populate(db_url, engine, tmp_path)
    # a raw dump of every table shows no name, email, phone or note of anyone given
    assert plaintext_found(engine, personal_values()) == []
    # ...while every encrypted column holds tokens
    with engine.connect() as conn:
        for col in ENCRYPTED_COLUMNS:
            table = Base.metadata.tables[col.table]
            values = [v for v in conn.execute(select(table.c[col.column])).scalars() if v is not None]
            assert values and all(v.startswith(TOKEN_PREFIX) for v in values), col

        # reads decrypt: the API lead, an imported lead with its pii attribute, the chat, the booking
        api = store.get_lead(conn, "api-lead-1")
        assert api is not None
        assert (api["first_name"], api["email"], api["phone"]) == (
            API_LEAD["first_name"],
            API_LEAD["email"],
            API_LEAD["phone"],
        )
        first, last, email, _phone, company = PEOPLE[0]
        ring = keyring(conn)
        imported_id = (
            conn.execute(
                select(store.LEADS.c.lead_id).where(store.LEADS.c.email_index == ring.blind_index(email))
            )
            .scalars()
            .first()
        )
        assert imported_id is not None
        lead = store.get_lead(conn, imported_id)
        assert lead is not None
        assert (lead["first_name"], lead["last_name"], lead["email"], lead["company"]) == (
            first,
            last,
            email,
            company,
        )
        assert lead["post_decision"]["notes"] == NOTE.format(first=first)  # the pii: true column
        assert lead["attributes"]["email"] == email  # a column copied to a personal lead field
        chat = ConversationStore()
        conv = chat.get(conn, done.conversation_id)
        assert conv is not None and VISITOR[2] in conv.state
        said = [e.payload["text"] for e in chat.events(conn, done.conversation_id, kinds=["visitor_message"])]
        assert VISITOR[2] in said and VISITOR[3] in said
        found = find_person(conn, ring.blind_index(VISITOR[2]))
        assert found.conversation_ids == [done.conversation_id] and len(found.booking_ids) == 1
        booking = read_booking(conn, found.booking_ids[0])
        assert booking is not None and booking.attendee_email == VISITOR[2]
        assert VISITOR[2] in booking.ics
        # the rejected row is a dead letter found by its email's blind index, its record readable
        letters = find_person(conn, ring.blind_index(REJECTED[2])).dead_letter_ids
        row = conn.execute(select(store.DEAD).where(store.DEAD.c.id.in_(letters))).mappings().one()
        assert store.decrypt_dead_letter(conn, dict(row))["record"]["Email"] == REJECTED[2]
    # the API answers with the plaintext, unchanged
    from tests.privacy.test_erase_export import client_for

    with client_for(db_url, done.key) as client:
        got = client.get("/v1/leads/api-lead-1").json()
    assert (got["email"], got["last_name"]) == (API_LEAD["email"], API_LEAD["last_name"])
    # audit verify recomputes every input hash from the decrypted leads
    assert verify_audit_log(engine)[2] is None


def test_blind_index_is_keyed_and_normalizes_the_address(engine: Engine) -> None:
    ring = keyring(engine)
    one = ring.blind_index("Dana.Reyes@Acme.example ")
    assert one == ring.blind_index("dana.reyes@acme.example")
    assert len(one) == 64 and one != ring.blind_index("dana.reyes@acme.example.org")
    assert one != hashlib.sha256(b"dana.reyes@acme.example").hexdigest()  # keyed, not a plain hash


@pytest.mark.parametrize("kind", ["flipped", "moved", "truncated", "plaintext"])
def test_a_tampered_or_moved_ciphertext_fails_loudly(engine: Engine, kind: str) -> None:
    docs = ({**API_LEAD, "lead_id": "a-1"}, {**API_LEAD, "lead_id": "a-2", "email": "other@person.example"})
    rows = [lead_row(validate_lead(doc), None) for doc in docs]
    with write_lock(engine), engine.begin() as conn:
        store.write_leads(conn, rows)
    leads = store.LEADS
    with engine.begin() as conn:
        token = conn.execute(select(leads.c.pii).where(leads.c.lead_id == "a-1")).scalar_one()
        other = conn.execute(select(leads.c.pii).where(leads.c.lead_id == "a-2")).scalar_one()
        if kind == "flipped":
            body = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
        elif kind == "moved":
            body = other
        elif kind == "truncated":
            body = token[:40]
        else:
            body = orjson.dumps({"email": "x@y.example"}).decode()
        conn.execute(update(leads).where(leads.c.lead_id == "a-1").values(pii=body))
    with engine.connect() as conn, pytest.raises(DecryptionError, match=r"leads\.pii of row a-1"):
        store.get_lead(conn, "a-1")
    problem = verify_audit_log(engine)[2]
    assert problem is not None and "lead a-1" in problem
