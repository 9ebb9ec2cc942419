"""The chat front door end to end, with every real part: the API, the conversation store, the dialogue
engine, the NLU, the shipped knowledge base, the shipped calendars and the chat qualification, on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import re
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text
from starlette.exceptions import StarletteDeprecationWarning

from leadgate.api import create_app
from leadgate.chat.booking.store import read_booking
from leadgate.chat.runtime import build_chat
from leadgate.config import Settings
from leadgate.db import make_engine
from leadgate.pipeline import verify_audit_log

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

INJECTIONS = Path(__file__).resolve().parents[1] / "chat" / "data" / "injection.yml"
SECRET = "s3cr3t-" + uuid.uuid4().hex
STAFF = "staff-" + uuid.uuid4().hex


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    settings = Settings(
        database_url=db_url,
        secret_key=SECRET,
        oidc_client_secret=STAFF,
        rate_limit_ip="100000/minute",
        rate_limit_conversation="100000/minute",
    )
    with TestClient(create_app(settings, chat_factory=build_chat)) as c:
        yield c


class Visitor:
    """One browser tab: a conversation id, its token and a message counter."""

    def __init__(self, client: TestClient, tz: str = "Europe/Berlin"):
        self.client = client
        r = client.post("/v1/conversations", json={"timezone": tz})
        assert r.status_code == 201, r.text
        body = r.json()
        self.cid, self.token, self.greeting = body["conversation_id"], body["token"], body["messages"]
        self.n = 0

    def say(self, text: str = "", option_id: str | None = None) -> dict[str, Any]:
        self.n += 1
        r = self.client.post(
            f"/v1/conversations/{self.cid}/messages",
            json={"client_message_id": f"m{self.n}", "text": text, "option_id": option_id},
            headers={"X-Conversation-Token": self.token},
        )
        assert r.status_code == 200, r.text
        return r.json()


def _texts(reply: dict[str, Any]) -> str:
    return " ".join(m["text"] for m in reply["replies"])


def test_a_visitor_is_qualified_answered_from_the_kb_and_books_a_demo(
    client: TestClient, db_url: str
) -> None:
    v = Visitor(client)
    assert "Lumenly" in v.greeting[0]["text"]
    r = v.say("Hi, I'm Dana Reyes, CTO at Acme Logistics, we're about 400 people")
    said = _texts(r)
    assert "Dana Reyes" in said and "Acme Logistics" in said and "400" in said
    # a knowledge-base question mid-flow: answered with its source, then the flow goes on
    r = v.say("How much does the Team plan cost per month?")
    answers = [m for m in r["replies"] if m["kind"] == "answer"]
    assert answers and answers[0]["citations"][0]["source"].startswith("pricing")
    assert r["replies"][-1]["kind"] == "ask"
    v.say("dana.reyes@acmelogistics.com")
    v.say("We need product analytics for our mobile app")
    v.say("Budget is around 50k per year and we want to start next quarter")
    v.say("skip")
    r = v.say("yes, you can contact me")
    offer = next(m for m in r["replies"] if m["kind"] == "offer")
    assert len(offer["options"]) == 3 and all("Europe/Berlin" in o["label"] for o in offer["options"])
    r = v.say(option_id=offer["options"][1]["id"])
    booked = next(m for m in r["replies"] if m["kind"] == "booked")
    assert client.get(booked["data"]["ics_path"]).status_code == 422  # needs a ticket (no token in a URL)
    issued = client.post(
        f"/v1/conversations/{v.cid}/tickets",
        json={"purpose": "ics", "booking_id": booked["data"]["booking_id"]},
        headers={"X-Conversation-Token": v.token},
    )
    assert issued.status_code == 200, issued.text
    ics = client.get(issued.json()["url"])
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in ics.text and "dana.reyes@acmelogistics.com" in ics.text.replace("\r\n ", "")

    # the transcript is linked to the lead and its audited decision
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            conv = conn.execute(
                text("SELECT lead_id, decision_id FROM conversations WHERE conversation_id = :c"),
                {"c": v.cid},
            ).one()
            decision = conn.execute(
                text("SELECT lead_id, tier, action FROM decisions WHERE decision_id = :d"),
                {"d": conv.decision_id},
            ).one()
            booking = read_booking(conn, booked["data"]["booking_id"])
            assert booking is not None
        assert conv.lead_id == decision.lead_id == f"chat-{v.cid}"
        assert (decision.tier, decision.action) == ("hot", "route_to_sales")
        assert booking.conversation_id == v.cid and booking.attendee_email == "dana.reyes@acmelogistics.com"
        checked, _, problem = verify_audit_log(engine)
        assert problem is None and checked >= 1
    finally:
        engine.dispose()


def test_no_injection_reveals_configuration_or_another_visitors_data(client: TestClient) -> None:
    victim = Visitor(client)
    victim.say("I'm Zelda Quimby, VP Sales at Blorptech, 250 people")
    victim.say("zelda.quimby@blorptech.example")
    victim_values = ["Zelda", "Quimby", "Blorptech", "zelda.quimby", victim.cid, victim.token]
    secrets = [SECRET, STAFF]

    attacker = Visitor(client)
    attacks = [a["text"] for a in yaml.safe_load(INJECTIONS.read_text(encoding="utf-8"))["attacks"]]
    assert len(attacks) >= 50
    seen = []
    for attack in attacks:
        r = attacker.say(attack)
        if r["status"] == "handoff":  # a person took over: start a new conversation and go on
            attacker = Visitor(client)
            continue
        said = _texts(r)
        seen.append(said)
        for value in victim_values + secrets:
            assert value.lower() not in said.lower(), (attack, said)
        assert not re.search(r"postgresql|sqlite:|LEADGATE_|secret_key|staff_token", said, re.IGNORECASE), (
            attack,
            said,
        )
    assert seen  # the attacks were answered (not all handed off)
    # and the victim's own conversation is untouched and still private
    r = client.get(f"/v1/conversations/{victim.cid}", headers={"X-Conversation-Token": attacker.token})
    assert r.status_code == 404
