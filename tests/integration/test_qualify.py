"""File qualification on SQLite and PostgreSQL: decisions, dead letters, the decisions CSV, explanation
modes, on-request explanations, decision-level leakage and re-runs."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, func, select
from tests.api.conftest import (
    Trained,
    register,
    shipped_qualifier,
    trained_model,
)
from tests.conftest import LEADS_CSV, MAPPING

from leadgate.audit import verify_chain
from leadgate.contracts.decision import Explanation
from leadgate.db import store
from leadgate.db.store import DEAD, DECISIONS, EXPLANATIONS, LEADS
from leadgate.ingest import load_mapping, read_csv_chunks
from leadgate.pipeline import (
    DECISION_CSV_COLUMNS,
    Qualifier,
    explain_stored,
    qualify_file,
)
from leadgate.registry import register_model
from leadgate.scoring import PropensityScorer

# Column positions in Leads.csv.
PROSPECT_ID, LEAD_ORIGIN, TOTAL_VISITS, TIME_ON_SITE = 0, 2, 7, 8


@dataclass
class Sample:
    """A CSV built from the real file: which ids are valid, which rows are bad, which lack lead_origin."""

    path: Path
    good: list[str]
    bad_rows: list[int]  # 1-based data row numbers
    no_origin: set[str]


def make_sample(path: Path, n_rows: int, corrupt: dict[int, tuple[int, str]]) -> Sample:
    """The first ``n_rows`` rows of Leads.csv; ``corrupt`` maps a 0-based row to (column, new cell)."""
    with open(LEADS_CSV, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [row for _, row in zip(range(n_rows), reader, strict=False)]
    good, bad, no_origin = [], [], set()
    for i, (column, cell) in corrupt.items():
        rows[i][column] = cell
    for i, row in enumerate(rows):
        if i in corrupt and corrupt[i][0] != LEAD_ORIGIN:
            bad.append(i + 1)
        else:
            good.append(row[PROSPECT_ID])
            if not row[LEAD_ORIGIN]:
                no_origin.add(row[PROSPECT_ID])
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return Sample(path, good, bad, no_origin)


CORRUPT = {
    4: (TOTAL_VISITS, "many"),
    499: (TOTAL_VISITS, "-3"),  # below the declared min 0
    1200: (TIME_ON_SITE, "12 minutes"),
    1999: (TOTAL_VISITS, "NaN"),
    # not rejected: a missing required feature sends the lead to the rule fallback
    10: (LEAD_ORIGIN, ""),
    900: (LEAD_ORIGIN, ""),
}


@pytest.fixture(scope="session")
def trained() -> Trained:
    """The shared trained model (trained once per session, see tests/api/conftest.py)."""
    return trained_model()


@pytest.fixture
def qualifier(engine: Engine, trained: Trained) -> Qualifier:
    register(engine, trained)
    q = shipped_qualifier(engine)
    assert q.model is not None
    return q


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def decision_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return list(store.iter_decisions(conn))


def explanations(engine: Engine) -> dict[str, tuple[Explanation, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(EXPLANATIONS.c.decision_id, EXPLANATIONS.c.explanation, EXPLANATIONS.c.computed)
        )
        return {r[0]: (Explanation.model_validate_json(r[1]), r[2]) for r in rows}


def post_decision_fields() -> set[str]:
    stages = load_mapping(MAPPING).stages()
    fields = {name for name, stage in stages.items() if stage in ("post_decision", "label", "id")}
    assert {"tags", "lead_quality", "last_activity", "converted"} <= fields
    return fields


def test_qualify_file_stores_decisions_dead_letters_csv_and_routed_explanations(
    engine: Engine, qualifier: Qualifier, tmp_path: Path, trained: Trained
) -> None:
    sample = make_sample(tmp_path / "leads.csv", 2000, CORRUPT)
    assert len(sample.bad_rows) == 4 and len(sample.no_origin) == 2
    out = tmp_path / "decisions.csv"
    summary = qualify_file(
        engine, sample.path, load_mapping(MAPPING), qualifier, out=out, explain="routed", chunk_size=700
    )

    # Every valid row has a decision; every bad row a dead letter with its reason.
    assert summary.decisions == len(sample.good)
    assert (summary.imported.imported, summary.imported.rejected) == (len(sample.good), len(sample.bad_rows))
    rows = decision_rows(engine)
    assert sorted(r["lead_id"] for r in rows) == sorted(sample.good)
    with engine.connect() as conn:
        dead = conn.execute(select(DEAD.c.row_number, DEAD.c.reason, DEAD.c.source)).all()
    assert sorted(d.row_number for d in dead) == sample.bad_rows
    assert all(d.source == "csv:xeducation" and d.reason for d in dead)
    assert any("TotalVisits" in d.reason for d in dead) and any("Total Time Spent" in d.reason for d in dead)

    # Tier and action counts in the summary are the stored ones.
    assert summary.tiers == dict(Counter(r["tier"] for r in rows))
    assert summary.actions == dict(Counter(r["action"] for r in rows))
    assert len(summary.tiers) >= 3  # a real spread of tiers, not one bucket

    # Leads missing lead_origin were scored by the rule fallback, the others by the model.
    for r in rows:
        if r["lead_id"] in sample.no_origin:
            assert r["scorer"] == "rule_fallback" and "lead_origin" in r["fallback_reason"]
            assert r["review_required"] and r["model_name"] == "rule_fallback"
        else:
            assert r["scorer"] == "model" and r["model_name"] == "propensity" and r["fallback_reason"] is None

    # The CSV: the header, then one row per decision, matching the store.
    with open(out, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        assert next(reader) == DECISION_CSV_COLUMNS
        written = [dict(zip(DECISION_CSV_COLUMNS, row, strict=True)) for row in reader]
    assert len(written) == len(rows)
    stored = {r["decision_id"]: r for r in rows}
    assert {w["decision_id"] for w in written} == set(stored)
    assert Counter(w["tier"] for w in written) == Counter(summary.tiers)
    for w in written:
        r = stored[w["decision_id"]]
        assert (w["lead_id"], w["tier"], w["action"]) == (r["lead_id"], r["tier"], r["action"])
        assert float(w["probability"]) == pytest.approx(r["probability"], abs=1e-6)

    # explain="routed": exactly the decisions routed to sales have an inline explanation.
    routed = {r["decision_id"] for r in rows if r["action"] == "route_to_sales"}
    stored_explanations = explanations(engine)
    assert routed and set(stored_explanations) == routed
    assert summary.explained == len(routed)
    assert {computed for _, computed in stored_explanations.values()} == {"inline"}
    for w in written:
        if w["decision_id"] in routed:
            assert w["top_positive"] or w["top_negative"]
        else:
            assert w["top_positive"] == w["top_negative"] == ""

    # Decision-level leakage check: the stored features are the feature set's, read from
    # pre-decision attributes only.
    leaky = post_decision_fields()
    for r in rows:
        features = orjson.loads(r["features"])
        assert set(features) == set(trained.feature_set.names)
        assert not set(features) & leaky
    with engine.connect() as conn:
        tagged = conn.execute(select(LEADS.c.data).where(LEADS.c.lead_id == sample.good[0])).scalar_one()
    assert "tags" in orjson.loads(tagged)["post_decision"]  # the post-decision value is stored on the lead

    with engine.connect() as conn:
        assert verify_chain(store.iter_decisions(conn)) == (len(rows), None)


def test_requalifying_a_file_adds_decisions_but_no_leads(
    engine: Engine, qualifier: Qualifier, tmp_path: Path
) -> None:
    sample = make_sample(tmp_path / "leads.csv", 600, {7: (TOTAL_VISITS, "lots")})
    mapping = load_mapping(MAPPING)
    first = qualify_file(engine, sample.path, mapping, qualifier, explain="none", chunk_size=250)
    second = qualify_file(engine, sample.path, mapping, qualifier, explain="none", chunk_size=250)
    assert first.imported.imported == len(sample.good) and first.imported.unchanged == 0
    assert (second.imported.imported, second.imported.updated, second.imported.unchanged) == (
        0,
        0,
        len(sample.good),
    )
    assert first.decisions == second.decisions == len(sample.good)
    assert count(engine, LEADS) == len(sample.good)
    assert count(engine, DECISIONS) == 2 * len(sample.good)
    assert count(engine, DEAD) == 1
    # Same leads, same model and policy: the same outcomes, as new decisions with new ids.
    rows = decision_rows(engine)
    firsts, seconds = rows[: len(sample.good)], rows[len(sample.good) :]
    assert [r["lead_id"] for r in firsts] == [r["lead_id"] for r in seconds]
    assert [(r["tier"], r["action"], r["input_hash"]) for r in firsts] == [
        (r["tier"], r["action"], r["input_hash"]) for r in seconds
    ]
    assert not {r["decision_id"] for r in firsts} & {r["decision_id"] for r in seconds}
    with engine.connect() as conn:
        assert verify_chain(store.iter_decisions(conn)) == (len(rows), None)


@pytest.mark.parametrize("mode", ["none", "all"])
def test_explain_modes_none_and_all(engine: Engine, qualifier: Qualifier, tmp_path: Path, mode: str) -> None:
    sample = make_sample(tmp_path / "leads.csv", 300, {3: (LEAD_ORIGIN, "")})
    out = tmp_path / "decisions.csv"
    summary = qualify_file(engine, sample.path, load_mapping(MAPPING), qualifier, out=out, explain=mode)  # type: ignore[arg-type]
    stored = explanations(engine)
    if mode == "none":
        assert summary.explained == 0 and stored == {}
    else:
        assert summary.explained == summary.decisions == len(sample.good)
        assert set(stored) == {r["decision_id"] for r in decision_rows(engine)}
        methods = Counter(e.method for e, _ in stored.values())
        assert methods == {"treeshap": len(sample.good) - 1, "rules": 1}  # one lead lacks lead_origin
    with open(out, newline="", encoding="utf-8") as fh:
        written = list(csv.DictReader(fh))
    assert len(written) == len(sample.good)
    assert any(w["top_positive"] for w in written) == (mode == "all")


def test_on_request_explanations_equal_inline_ones(
    engine: Engine, qualifier: Qualifier, tmp_path: Path
) -> None:
    sample = make_sample(tmp_path / "leads.csv", 150, {0: (LEAD_ORIGIN, "")})
    mapping = load_mapping(MAPPING)
    qualify_file(engine, sample.path, mapping, qualifier, explain="all")
    qualify_file(engine, sample.path, mapping, qualifier, explain="none")
    rows = decision_rows(engine)
    n = len(sample.good)
    inline = explanations(engine)
    assert len(inline) == n
    # A fresh qualifier (as a new process would load it) explains the later decisions on request.
    fresh = shipped_qualifier(engine)
    for first, later in zip(rows[:n], rows[n:], strict=True):
        assert first["lead_id"] == later["lead_id"] and first["features"] == later["features"]
        expected, computed = inline[first["decision_id"]]
        assert computed == "inline"
        got, how = explain_stored(engine, fresh, later)
        assert how == "on_request"
        assert got.method == expected.method
        assert got.base_value == pytest.approx(expected.base_value, abs=1e-9)
        for side in ("positive", "negative"):
            g, e = getattr(got, side), getattr(expected, side)
            assert [(f.feature, f.value, f.text) for f in g] == [(f.feature, f.value, f.text) for f in e]
            assert [f.contribution for f in g] == pytest.approx([f.contribution for f in e], abs=1e-9)
    stored = explanations(engine)
    assert len(stored) == 2 * n
    assert Counter(c for _, c in stored.values()) == {"inline": n, "on_request": n}
    # Asked again, the stored explanation is returned, not recomputed.
    assert explain_stored(engine, fresh, rows[-1])[1] == "on_request"
    assert len(explanations(engine)) == 2 * n


def test_on_request_explanation_uses_the_model_version_that_decided(
    engine: Engine, qualifier: Qualifier, tmp_path: Path, trained: Trained
) -> None:
    sample = make_sample(tmp_path / "leads.csv", 60, {})
    mapping = load_mapping(MAPPING)
    leads = [lead for chunk in read_csv_chunks(sample.path, mapping) for _, lead in chunk.leads]
    qualify_file(engine, sample.path, mapping, qualifier, explain="none")
    _, by_v1 = qualifier.decide(leads, explain="all")

    # A different model becomes the champion after the decisions were made.
    data = trained.data
    other = PropensityScorer.from_feature_set(trained.feature_set, n_estimators=15, num_leaves=4)
    other.fit(data.frame.iloc[::3].reset_index(drop=True), data.labels[::3])
    with engine.begin() as conn:
        v2 = register_model(conn, "propensity", other, trained.feature_set)
    assert v2.version == 2
    current = shipped_qualifier(engine)
    assert current.model is not None and current.model.version == 2
    _, by_v2 = current.decide(leads, explain="all")

    differs = 0
    for i, row in enumerate(decision_rows(engine)):
        assert row["model_version"] == "1"
        got, how = explain_stored(engine, current, row)
        assert how == "on_request"
        want = by_v1[i]
        for side in ("positive", "negative"):
            assert [f.feature for f in getattr(got, side)] == [f.feature for f in getattr(want, side)]
            assert [f.contribution for f in getattr(got, side)] == pytest.approx(
                [f.contribution for f in getattr(want, side)], abs=1e-9
            )
        differs += got.model_dump() != by_v2[i].model_dump()
    assert differs > 0  # the champion would have explained them differently
