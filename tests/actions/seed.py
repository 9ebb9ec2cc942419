"""Stored leads and decisions for the outbox tests, written the way the decision transaction writes them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine

from leadgate.actions.outbox import enqueue
from leadgate.actions.planning import plan_actions
from leadgate.audit.log import store_decisions
from leadgate.contracts.action import Action, Assignment
from leadgate.contracts.decision import Decision
from leadgate.contracts.lead import Lead
from leadgate.db import store, write_lock
from leadgate.db.rows import decision_from_row, lead_row

FIRST = ["Ana", "Bruno", "Chiara", "Dmitri", "Emeka", "Fatima", "Gustav", "Hana", "Ibrahim", "Jule"]
LAST = ["Souza", "Keller", "Rossi", "Ivanov", "Okafor", "Haddad", "Lindqvist", "Sato", "Demir", "Weber"]
COMPANIES = [
    "Northwind Logistics",
    "Bluefin Analytics",
    "Casa Verde Moveis",
    "Helix Robotics",
    "Ostara Foods",
]
DOMAINS = [
    "northwind-logistics.com",
    "bluefin.io",
    "casaverde.com.br",
    "helixrobotics.de",
    "ostarafoods.co.uk",
]
NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


def lead(i: int, **attributes: Any) -> Lead:
    first, last = FIRST[i % 10], LAST[(i // 10) % 10]
    return Lead(
        lead_id=f"web-{i:06d}",
        source="web_form",
        received_at=NOW,
        email=f"{first.lower()}.{last.lower()}{i}@{DOMAINS[i % 5]}",
        first_name=first,
        last_name=last,
        company=COMPANIES[i % 5],
        title="Head of Operations",
        country=["BR", "DE", "GB", "IT", "NG"][i % 5],
        attributes={"lead_origin": "Landing Page Submission", "total_visits": 4 + i % 7, **attributes},
    )


def decision_row(lead_id: str, i: int, action: str, tier: str) -> dict[str, Any]:
    return {
        "decision_id": f"dec-{lead_id}",
        "lead_id": lead_id,
        "decided_at": store.iso(NOW),
        "input_hash": hashlib.sha256(lead_id.encode()).hexdigest(),
        "feature_set": "xeducation@1",
        "features": orjson.dumps({"total_visits": 4 + i % 7}).decode(),
        "model_name": "xeducation_propensity",
        "model_version": "3",
        "model_hash": "9" * 64,
        "scorer": "model",
        "fallback_reason": None,
        "probability": 0.82,
        "confidence": 0.91,
        "fit_score": 74.0,
        "policy_version": "default@2",
        "tier": tier,
        "action": action,
        "reasons": orjson.dumps(["probability 0.82 >= 0.75 (hot)"]).decode(),
        "review_required": False,
        "actor": "leadgate",
    }


def store_decided(
    engine: Engine, ids: range, *, action: str = "route_to_sales", tier: str = "hot", **attributes: Any
) -> list[Decision]:
    """Store leads ``web-<i>`` with one decision each (one transaction per 1,000); their ``Decision``s."""
    out: list[Decision] = []
    numbers = list(ids)
    for start in range(0, len(numbers), 1000):
        chunk = numbers[start : start + 1000]
        leads = [lead(i, **attributes) for i in chunk]
        rows = [lead_row(x, None) for x in leads]
        decisions = [decision_row(x.lead_id, i, action, tier) for x, i in zip(leads, chunk, strict=True)]
        for r, d in zip(rows, decisions, strict=True):
            r["latest_decision_id"] = d["decision_id"]
        with write_lock(engine), engine.begin() as conn:
            store.lock_chain(conn)
            store.write_leads(conn, rows)
            store_decisions(conn, decisions, {})
        out += [decision_from_row(d, None) for d in decisions]
    return out


def assignment(decision: Decision, rep_id: str | None = "maria.lopez") -> Assignment:
    return Assignment(
        assignment_id=f"asg-{decision.lead_id}",
        lead_id=decision.lead_id,
        decision_id=decision.decision_id,
        rep_id=rep_id,
        rule="round_robin",
        reason="round robin among 3 available reps, weights 2:1:1",
        policy_version="default@2",
        assigned_at=NOW,
        sla_due_at=datetime(2026, 12, 2, 9, 35, tzinfo=UTC),
    )


def enqueue_for(engine: Engine, decisions: list[Decision], routes: dict[str, list[str]]) -> list[Action]:
    """Plan (no assignments) and enqueue the decisions' actions; returns them."""
    actions = plan_actions(decisions, [None] * len(decisions), routes, now=NOW, new_id=store.new_id)
    for start in range(0, len(actions), 2000):
        with write_lock(engine), engine.begin() as conn:
            enqueue(conn, actions[start : start + 2000])
    return actions


def destinations_file(tmp_path: Path, url: str, name: str = "crm") -> Path:
    path = tmp_path / "destinations.yaml"
    path.write_text(
        "destinations_version: 1\n"
        "destinations:\n"
        f"  {name}:\n"
        "    plugin: tests.actions.http_crm:HttpCrm\n"
        "    config:\n"
        f"      url: {url}\n"
        "routes:\n"
        f"  crm_upsert: [{name}]\n"
        f"  crm_task: [{name}]\n",
        encoding="utf-8",
    )
    return path
