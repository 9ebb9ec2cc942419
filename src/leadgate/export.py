"""The decisions CSV: its columns, one row per decision, and the export of a stored run.

A file is written to ``<out>.partial`` and renamed over ``out``, so ``out`` is never short or headerless.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine

from leadgate.contracts.decision import Explanation
from leadgate.db import store

DECISION_CSV_COLUMNS = [
    "lead_id",
    "decision_id",
    "probability",
    "confidence",
    "fit_score",
    "tier",
    "action",
    "review_required",
    "scorer",
    "model",
    "policy",
    "reasons",
    "top_positive",
    "top_negative",
]


def decision_csv_row(r: dict[str, Any], e: Explanation | None) -> list[Any]:
    """The decisions CSV row (``DECISION_CSV_COLUMNS``) of a stored-form decision row.

    Args:
        r: the decision row (``decisions`` table columns).
        e: its explanation, or None (the top factor columns are then empty).

    Returns:
        14 values: probability to 6 decimals, confidence to 4, fit score (0-100 points) to 1; reasons
        joined with ``; ``, the explanation's factors with `` | ``.
    """
    return [
        r["lead_id"],
        r["decision_id"],
        f"{r['probability']:.6f}",
        f"{r['confidence']:.4f}",
        f"{r['fit_score']:.1f}",
        r["tier"],
        r["action"],
        r["review_required"],
        r["scorer"],
        f"{r['model_name']}@{r['model_version']}",
        r["policy_version"],
        "; ".join(orjson.loads(r["reasons"])),
        " | ".join(f.text for f in e.positive) if e else "",
        " | ".join(f.text for f in e.negative) if e else "",
    ]


def export_run(engine: Engine, run_id: int, out: Path) -> int:
    """Write every decision of run ``run_id`` to ``out`` (``DECISION_CSV_COLUMNS``), atomically.

    Written to ``<out>.partial`` then renamed, so ``out`` is either the previous file or the whole export.

    Returns:
        The number of decisions written.
    """
    partial = out.with_name(out.name + ".partial")
    n = 0
    with engine.connect() as conn, open(partial, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(DECISION_CSV_COLUMNS)
        for row, explanation in store.run_decisions(conn, run_id):
            e = Explanation.model_validate_json(explanation) if explanation is not None else None
            writer.writerow(decision_csv_row(row, e))
            n += 1
    os.replace(partial, out)
    return n


def run_counts(engine: Engine, run_id: int) -> tuple[dict[str, int], dict[str, int], int, int]:
    """``(tiers, actions, decisions, explained inline)`` of the decisions run ``run_id`` made."""
    tiers: dict[str, int] = {}
    actions: dict[str, int] = {}
    n = explained = 0
    with engine.connect() as conn:
        for row, explanation in store.run_decisions(conn, run_id):
            tiers[row["tier"]] = tiers.get(row["tier"], 0) + 1
            actions[row["action"]] = actions.get(row["action"], 0) + 1
            n += 1
            explained += explanation is not None
    return tiers, actions, n, explained
