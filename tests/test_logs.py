"""Logs carry no personal data (issue 8, item 9): JSON lines with request and lead ids, scrubbed, complete.

The full run: a CRM export with names, emails and phones imported and qualified by the CLI, a lead posted
to the API, and a chat conversation in which the visitor gives a name, a work email and a phone, all
with every logger at DEBUG into one JSON file; then the personal data of three of them is exported and erased
(item 7) through the API and the CLI, and the audit log still verifies.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine
from starlette.exceptions import StarletteDeprecationWarning
from tests.api.conftest import bearer, create_test_key, register, trained_model
from tests.cli_support import run
from tests.conftest import EXAMPLES, LEADS_CSV

from leadgate.api import create_app
from leadgate.chat.runtime import build_chat
from leadgate.config import Settings
from leadgate.db import make_engine
from leadgate.logs import JsonFormatter, RequestContext, configure_logging, reset_request, scrub, set_request

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

# People of the CRM export: (first, last, email, phone as the CRM wrote it, company)
PEOPLE = [
    (
        "Ottoline",
        "Vasquez-Brandt",
        "ottoline.vb@kestrelfreight.example",
        "+44 20 7946 0321",
        "Kestrel Freight",
    ),
    ("Bartholomew", "Okonkwo", "b.okonkwo@lumicore.example", "(415) 555-0187", "Lumicore"),
    ("Svetlana", "Marchetti", "svetlana@marchetti-bau.example", "+49 30 901820 44", "Marchetti Bau"),
    ("Ignatius", "Featherstone", "IGNATIUS.F@harrowgate.example", "020 7946 0958", "Harrowgate"),
    ("Philippa", "Ravensworth", "pip.ravensworth@quillon.example", "9876543210", "Quillon"),
]
# The chat visitor
VISITOR = ("Rosalind", "Abernathy", "rosalind.abernathy@zephyrlogistics.example", "+1 415 555 0199")
VISITOR_COMPANY = "Zephyr Logistics"
# A lead posted to the API
API_PERSON = ("Leopold", "Grünewald", "leopold.gruenewald@tanngrisnir.example", "+49 89 2180 5577")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger back as it was (configure_logging replaces its handler and level)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def crm_export(path: Path, n: int = 40) -> Path:
    """The first ``n`` X Education leads with the contact columns a CRM export has (names, email, phone)."""
    with open(LEADS_CSV, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [next(reader) for _ in range(n)]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["First Name", "Last Name", "Email", "Phone", "Company", *header])
        for i, row in enumerate(rows):
            first, last, email, phone, company = PEOPLE[i % len(PEOPLE)]
            writer.writerow([first, last, email, phone, company, *row])
    return path


def project_with_contacts(folder: Path) -> Path:
    """The X Education project, its mapping extended by the contact columns (lead fields, no features)."""
    shutil.copytree(EXAMPLES, folder)
    mapping = folder / "mapping.yaml"
    mapping.write_text(
        mapping.read_text(encoding="utf-8")
        + "  First Name: {field: first_name, stage: pre_decision, type: string, lead_field: first_name}\n"
        + "  Last Name: {field: last_name, stage: pre_decision, type: string, lead_field: last_name}\n"
        + "  Email: {field: email, stage: pre_decision, type: string, lead_field: email}\n"
        + "  Phone: {field: phone, stage: pre_decision, type: string, lead_field: phone}\n"
        + "  Company: {field: company, stage: pre_decision, type: string, lead_field: company}\n",
        encoding="utf-8",
    )
    return folder


def personal_values() -> list[str]:
    """Every name, email and phone of the inputs, as written and in the forms code might log them."""
    values: list[str] = []
    for first, last, email, phone, *_ in [*PEOPLE, (*VISITOR, VISITOR_COMPANY), (*API_PERSON, "")]:
        digits = re.sub(r"\D", "", phone)
        values += [first, last, f"{first} {last}", email, email.lower(), email.split("@")[0], phone, digits]
        values.append(digits[-10:])  # the national number without the country code
    return values


def chat_with_visitor(client: TestClient) -> str:
    r = client.post("/v1/conversations", json={"timezone": "Europe/Berlin"})
    assert r.status_code == 201, r.text
    conv = r.json()
    first, last, email, phone = VISITOR
    said = [
        f"Hi, I'm {first} {last}, CTO at {VISITOR_COMPANY}, we're about 400 people",
        email,
        "We need product analytics for our mobile app",
        "Budget is around 50k per year and we want to start next quarter",
        phone,
        "yes, you can contact me",
    ]
    replies: list[dict[str, Any]] = []
    for n, text in enumerate(said, start=1):
        r = client.post(
            f"/v1/conversations/{conv['conversation_id']}/messages",
            json={"client_message_id": f"m{n}", "text": text},
            headers={"X-Conversation-Token": conv["token"]},
        )
        assert r.status_code == 200, r.text
        replies = r.json()["replies"]
    offer = next(m for m in replies if m["kind"] == "offer")
    r = client.post(
        f"/v1/conversations/{conv['conversation_id']}/messages",
        json={"client_message_id": "m-book", "text": "", "option_id": offer["options"][0]["id"]},
        headers={"X-Conversation-Token": conv["token"]},
    )
    assert r.status_code == 200 and any(m["kind"] == "booked" for m in r.json()["replies"]), r.text
    return str(conv["conversation_id"])


def test_a_full_run_logs_json_with_request_ids_and_no_personal_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    log_file = tmp_path / "logs" / "leadgate.jsonl"
    monkeypatch.setenv("LEADGATE_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("LEADGATE_LOG_FILE", str(log_file))
    url = f"sqlite:///{tmp_path / 'leadgate.db'}"
    db = ["--database-url", url]

    # 1. the CLI: import and qualify a CRM export
    run("db", "upgrade", *db)
    engine: Engine = make_engine(url)
    try:
        register(engine, trained_model())
        project = project_with_contacts(tmp_path / "project")
        export = crm_export(tmp_path / "crm-export.csv")
        run("import", str(export), "--project", str(project), *db)
        run("qualify", str(export), "--project", str(project), "--out", str(tmp_path / "d.csv"), *db)

        # 2. the API and the chat, in the same log file at DEBUG
        configure_logging("DEBUG", log_file)
        key = create_test_key(engine)
        settings = Settings(
            database_url=url, rate_limit_ip="100000/minute", rate_limit_conversation="100000/minute"
        )
        with TestClient(create_app(settings, chat_factory=build_chat)) as client:
            first, last, email, phone = API_PERSON
            lead = {
                "lead_id": "api-lead-1",
                "source": "web_form",
                "received_at": "2026-05-14T08:00:00+00:00",
                "first_name": first,
                "last_name": last,
                "email": email,
                "phone": phone,
                "company": "Tanngrisnir AG",
                "attributes": {"lead_origin": "Landing Page Submission", "total_visits": 3},
            }
            posted = client.post(
                "/v1/leads", json=lead, headers={**bearer(key), "X-Request-ID": "crm-sync-000042"}
            )
            assert posted.status_code == 200, posted.text
            assert posted.headers["X-Request-ID"] == "crm-sync-000042"
            # an id that is no id (here an email address) is replaced by a new one
            refused = client.get("/health", headers={"X-Request-ID": email})
            assert re.fullmatch(r"[0-9a-f]{32}", refused.headers["X-Request-ID"])
            conversation_id = chat_with_visitor(client)

            # 3. export and erasure (item 7): the API for the chat visitor and the API lead
            for person in (VISITOR[2], API_PERSON[2]):
                exported = client.get("/v1/privacy/exports", params={"email": person}, headers=bearer(key))
                assert exported.status_code == 200 and exported.json()["leads"], exported.text
                erased = client.post("/v1/privacy/erasures", json={"email": person}, headers=bearer(key))
                assert erased.status_code == 201, erased.text
        # ...and the CLI for a person of the CRM export
        assert PEOPLE[0][2] in run("privacy", "export", "--email", PEOPLE[0][2], *db)
        assert "leads 8" in run("privacy", "erase", "--email", PEOPLE[0][2], "--reason", "asked by mail", *db)
        assert "leads erased under a tombstone" in run("audit", "verify", *db)
    finally:
        engine.dispose()

    text = log_file.read_text(encoding="utf-8")
    records = [orjson.loads(line) for line in text.splitlines()]
    assert len(records) > 20
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys(), record

    # no name, email or phone of the inputs anywhere in the log output
    lowered = text.lower()
    for value in personal_values():
        assert value.lower() not in lowered, value

    # the CLI commands logged their start and end
    commands = {(r["message"], r.get("command")) for r in records if r["logger"] == "leadgate.cli"}
    assert {("command finished", "import_cmd"), ("command finished", "qualify_cmd")} <= commands
    assert {("command finished", "privacy_erase"), ("command finished", "privacy_export")} <= commands

    # every request has one access record with its id, route, status and duration
    access = [r for r in records if r["logger"] == "leadgate.access"]
    assert len(access) >= 10
    for r in access:
        assert re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", r["request_id"]), r
        assert {"method", "route", "status", "duration_ms"} <= r.keys(), r
    post = next(r for r in access if r["request_id"] == "crm-sync-000042")
    assert (post["route"], post["status"], post["lead_id"]) == ("/v1/leads", 200, "api-lead-1")
    assert "crm-sync-000042" in {r.get("request_id") for r in records if r["message"] == "lead qualified"}
    chat_routes = [r for r in access if r["route"] == "/v1/conversations/{conversation_id}/messages"]
    assert len(chat_routes) == 7 and all(r["status"] == 200 for r in chat_routes)
    assert [r["status"] for r in access if r["route"] == "/v1/privacy/erasures"] == [201, 201]
    # once the visitor is qualified, the chat's records name the lead
    assert chat_routes[-1]["lead_id"] == f"chat-{conversation_id}"
    assert any(r["message"] == "chat lead qualified" for r in records)
    assert len({r["request_id"] for r in access}) == len(access)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail dana.reyes@acme-logistics.com now", "mail [email] now"),
        ("+1 415 555 0132", "[phone]"),
        ("(415) 555-0132", "[phone]"),
        ("call 4155550132.", "call [phone]."),
        ("020 7946 0958", "[phone]"),
        ("phone=+1-415-555-0132;", "phone=[phone];"),
        ("at 2026-05-14 08:00:00", "at 2026-05-14 08:00:00"),
        ("chat-550e8400-e29b-41d4-a716-446655440000", "chat-550e8400-e29b-41d4-a716-446655440000"),
        ("took 12.3456789 ms", "took 12.3456789 ms"),
        ("rid 3f2a94b1c0d84e55a0123456789abcde", "rid 3f2a94b1c0d84e55a0123456789abcde"),
        ("qualified 1000 leads, lead 660737", "qualified 1000 leads, lead 660737"),
    ],
)
def test_scrub_replaces_emails_and_phones_and_keeps_ids_dates_and_numbers(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_the_formatter_scrubs_messages_extras_and_tracebacks_and_adds_the_request() -> None:
    logger = logging.getLogger("leadgate.tests.formatter")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    token = set_request(RequestContext(request_id="req-1", lead_id="lead-9"))
    try:
        logger.warning("sent to %s", "a@b.example", extra={"to": ["+1 415 555 0132"], "status": 201})
        try:
            raise ValueError("bad address x.y@z.example")
        except ValueError:
            logger.exception("failed")
    finally:
        reset_request(token)
        logger.removeHandler(handler)
    first, second = (orjson.loads(line) for line in out.getvalue().splitlines())
    assert list(first)[:4] == ["time", "level", "logger", "message"]
    assert first["message"] == "sent to [email]" and first["to"] == ["[phone]"] and first["status"] == 201
    assert (first["request_id"], first["lead_id"]) == ("req-1", "lead-9")
    assert "ValueError: bad address [email]" in second["exc_info"]


def test_responses_carry_security_headers_and_the_demo_page_its_csp(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'leadgate.db'}"
    run("db", "upgrade", "--database-url", url)
    engine = make_engine(url)
    try:
        register(engine, trained_model())
    finally:
        engine.dispose()
    with TestClient(create_app(Settings(database_url=url), chat_factory=build_chat)) as client:
        for path in ("/health", "/v1/leads/x", "/openapi.json", "/widget.js"):
            r = client.get(path)
            assert r.headers["X-Content-Type-Options"] == "nosniff", path
            assert r.headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path
            assert r.headers["X-Request-ID"], path
        demo = client.get("/demo")
        assert "default-src 'self'" in demo.headers["Content-Security-Policy"]
        assert demo.headers["Referrer-Policy"] == "same-origin"
        assert demo.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("env", ["test", "prod"])
def test_outside_dev_a_default_or_short_secret_key_is_refused(env: str) -> None:
    with pytest.raises(ValueError, match="non-default"):
        Settings(env=env)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Settings(env=env, secret_key="s" * 31)
    assert Settings(env=env, secret_key="s" * 32).secret_key == "s" * 32
    assert Settings(env="dev", secret_key="short").env == "dev"
