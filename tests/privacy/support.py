"""A database holding personal data of every kind: a CRM import (with a rejected row), an API lead, a chat
conversation with a booking. Shared by the privacy tests (each runs it on SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from starlette.exceptions import StarletteDeprecationWarning
from tests.api.conftest import bearer, create_test_key, register, trained_model
from tests.cli_support import run
from tests.conftest import EXAMPLES, LEADS_CSV
from tests.test_logs import API_PERSON, PEOPLE, VISITOR, VISITOR_COMPANY, chat_with_visitor

from leadgate.api import create_app
from leadgate.chat.runtime import build_chat
from leadgate.config import Settings
from leadgate.db.models import Base

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

NOTE = "Met {first} at the Hamburg trade fair, wants a call back"
"""Free text of the ``Notes`` column, declared ``pii: true`` in the mapping."""

REJECTED = ("Wilhelmina", "Thistlewood", "w.thistlewood@brackenridge.example", "+44 161 496 0733")
"""The person of the rejected CRM row (its TotalVisits is not a number)."""


def project_with_contacts(folder: Path) -> Path:
    """The X Education project, its mapping extended by contact columns and a ``pii: true`` notes column."""
    shutil.copytree(EXAMPLES, folder)
    mapping = folder / "mapping.yaml"
    mapping.write_text(
        mapping.read_text(encoding="utf-8")
        + "  First Name: {field: first_name, stage: pre_decision, type: string, lead_field: first_name}\n"
        + "  Last Name: {field: last_name, stage: pre_decision, type: string, lead_field: last_name}\n"
        + "  Email: {field: email, stage: pre_decision, type: string, lead_field: email}\n"
        + "  Phone: {field: phone, stage: pre_decision, type: string, lead_field: phone}\n"
        + "  Company: {field: company, stage: pre_decision, type: string, lead_field: company}\n"
        + "  Notes: {field: notes, stage: post_decision, type: string, pii: true}\n",
        encoding="utf-8",
    )
    return folder


def crm_export(path: Path, n: int = 20) -> Path:
    """``n`` X Education leads with contact columns and notes, and one more row that is rejected."""
    with open(LEADS_CSV, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [next(reader) for _ in range(n + 1)]
    visits = header.index("TotalVisits")
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["First Name", "Last Name", "Email", "Phone", "Company", "Notes", *header])
        for i, row in enumerate(rows[:n]):
            first, last, email, phone, company = PEOPLE[i % len(PEOPLE)]
            writer.writerow([first, last, email, phone, company, NOTE.format(first=first), *row])
        bad = list(rows[n])
        bad[visits] = "many"
        first, last, email, phone = REJECTED
        writer.writerow([first, last, email, phone, "Brackenridge", NOTE.format(first=first), *bad])
    return path


API_LEAD: dict[str, Any] = {
    "lead_id": "api-lead-1",
    "source": "web_form",
    "received_at": "2026-05-14T08:00:00+00:00",
    "first_name": API_PERSON[0],
    "last_name": API_PERSON[1],
    "email": API_PERSON[2],
    "phone": API_PERSON[3],
    "company": "Tanngrisnir AG",
    "attributes": {"lead_origin": "Landing Page Submission", "total_visits": 3},
}


@dataclass
class Populated:
    """What ``populate`` stored: the project, the chat conversation and an admin key."""

    url: str
    project: Path
    conversation_id: str
    key: str


def populate(url: str, engine: Engine, tmp_path: Path) -> Populated:
    """Store personal data of every kind in ``url``'s (migrated) database.

    The CLI imports and qualifies a CRM export (20 leads and a rejected row), the API takes a lead, and a
    visitor chats, gives name, email and phone, and books a demo.
    """
    register(engine, trained_model())
    project = project_with_contacts(tmp_path / "project")
    export = crm_export(tmp_path / "crm-export.csv")
    db = ["--database-url", url]
    run("qualify", str(export), "--project", str(project), "--out", str(tmp_path / "d.csv"), *db)
    key = create_test_key(engine)
    settings = Settings(
        database_url=url, rate_limit_ip="100000/minute", rate_limit_conversation="100000/minute"
    )
    with TestClient(create_app(settings, chat_factory=build_chat)) as client:
        posted = client.post("/v1/leads", json=API_LEAD, headers=bearer(key))
        assert posted.status_code == 200, posted.text
        conversation_id = chat_with_visitor(client)
    return Populated(url, project, conversation_id, key)


def personal_values() -> list[str]:
    """Every name, email, phone and note given, as written and in the forms code might store them."""
    values: list[str] = []
    people = [*PEOPLE, (*VISITOR, VISITOR_COMPANY), (*API_PERSON, ""), (*REJECTED, "")]
    for first, last, email, phone, *_ in people:
        digits = re.sub(r"\D", "", phone)
        values += [first, last, f"{first} {last}", email, email.split("@")[0], phone, digits[-10:]]
        values.append(NOTE.format(first=first))
    # a company is not personal data and stays readable: "Marchetti Bau" holds Svetlana Marchetti's last
    # name, which is then checked as part of her full name only
    companies = [p[4] for p in PEOPLE]
    return [v for v in values if not any(v in company for company in companies)]


TOKEN = re.compile(r"enc:v1:[A-Za-z0-9_-]+:[A-Za-z0-9+/=]+")


def dump_tables(engine: Engine) -> dict[str, str]:
    """Every table's rows as raw text (what a database dump shows), encrypted tokens replaced by ``<enc>``."""
    out = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = conn.execute(select(table)).all()
            out[table.name] = TOKEN.sub("<enc>", "\n".join(repr(tuple(r)) for r in rows))
    return out


def plaintext_found(engine: Engine, values: list[str]) -> list[tuple[str, str]]:
    """``(table, value)`` for each personal value found in plain text in a table."""
    found = []
    for name, text in dump_tables(engine).items():
        lowered = text.lower()
        found += [(name, v) for v in values if v.lower() in lowered]
    return found
