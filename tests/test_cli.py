"""The ``leadgate`` command line on a temporary SQLite database: db upgrade, import, train, qualify,
explain, models list, audit verify and policy check."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.cli_support import run, wide_console  # noqa: F401 (fixture)
from tests.conftest import EXAMPLES, LEADS_CSV, MAPPING

from leadgate.db import make_engine
from leadgate.db.store import DEAD, DECISIONS, EXPLANATIONS, LEADS
from leadgate.pipeline import DECISION_CSV_COLUMNS

POLICY = EXAMPLES / "policy.yaml"
N_ROWS = 300
BAD_ROWS = (5, 120)  # 1-based data rows given a non-numeric TotalVisits


pytestmark = pytest.mark.usefixtures("wide_console")


def tables(output: str) -> list[list[list[str]]]:
    """The rich tables in ``output``: for each, its body rows as lists of cell texts."""
    found: list[list[list[str]]] = []
    for line in output.splitlines():
        if line.startswith("┏"):
            found.append([])
        elif line.startswith("│") and found:
            found[-1].append([c.strip() for c in line.split("│")[1:-1]])
    return found


def sample_file(path: Path) -> Path:
    lines = LEADS_CSV.read_text(encoding="utf-8").splitlines()[: N_ROWS + 1]
    for row in BAD_ROWS:
        cells = lines[row].split(",")
        cells[7] = "several"
        lines[row] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def count(url: str, table: object) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_import_train_qualify_explain_verify(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'leadgate.db'}"
    db = ["--database-url", url]
    data = sample_file(tmp_path / "leads.csv")
    good = N_ROWS - len(BAD_ROWS)

    first = tables(run("import", str(data), "--mapping", str(MAPPING), *db))  # migrates a new database itself
    # columns: rows, imported, updated, unchanged, rejected, resumed from row
    assert first == [[[str(N_ROWS), str(good), "0", "0", str(len(BAD_ROWS)), "0"]]]
    second_out = run("import", str(data), "--mapping", str(MAPPING), *db)
    assert tables(second_out) == [[[str(N_ROWS), "0", "0", str(good), str(len(BAD_ROWS)), "0"]]]
    assert f"{len(BAD_ROWS)} rejected rows are in the dead_letters table" in second_out
    assert (count(url, LEADS), count(url, DEAD)) == (good, len(BAD_ROWS))

    trained = run("train", "--project", str(EXAMPLES), *db)
    assert "registered propensity@1 (alias champion)" in trained
    assert "9240 leads" in trained
    (models,) = tables(run("models", "list", *db))
    assert [row[:3] for row in models] == [["propensity", "1", "champion"]]

    out = tmp_path / "decisions.csv"
    printed = run(
        "qualify", str(data), "--project", str(EXAMPLES), "--out", str(out), "--explain", "none", *db
    )
    with open(out, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        assert next(reader) == DECISION_CSV_COLUMNS
        written = [dict(zip(DECISION_CSV_COLUMNS, row, strict=True)) for row in reader]
    assert len(written) == good
    assert all(w["model"] == "propensity@1" and w["top_positive"] == "" for w in written)
    tier_table, action_table = tables(printed)
    tiers = Counter(w["tier"] for w in written)
    assert [row[0] for row in tier_table] == ["hot", "warm", "nurture", "disqualified"]
    assert {row[0]: int(row[1]) for row in tier_table} == {t: tiers.get(t, 0) for t, *_ in tier_table}
    assert sum(int(row[1]) for row in tier_table) == good
    assert {row[0]: int(row[1]) for row in action_table} == dict(Counter(w["action"] for w in written))
    assert f"{good} decisions in" in printed
    assert f"0 new leads, 0 updated, {good} unchanged, {len(BAD_ROWS)} rejected" in printed
    assert "0 explained inline" in printed
    assert count(url, DECISIONS) == good and count(url, EXPLANATIONS) == 0

    lead_id = written[0]["lead_id"]
    explained = run("explain", lead_id, "--project", str(EXAMPLES), *db)
    assert f"lead {lead_id}" in explained
    assert f"tier {written[0]['tier']}, action {written[0]['action']}" in explained
    lines = explained.splitlines()
    raised, lowered = lines.index("raised the score:"), lines.index("lowered the score:")
    plus = [line for line in lines[raised + 1 : lowered] if line.startswith("  + ")]
    minus = [line for line in lines[lowered + 1 :] if line.startswith("  - ")]
    assert len(plus) + len(minus) >= 1 and len(plus) <= 3 and len(minus) <= 3
    assert all("(raises the score)" in line for line in plus)
    assert all("(lowers the score)" in line for line in minus)
    assert count(url, EXPLANATIONS) == 1  # computed on request and stored
    assert run("explain", lead_id, "--project", str(EXAMPLES), *db) == explained  # stored, not recomputed
    assert count(url, EXPLANATIONS) == 1

    assert "no decision for lead 'nobody'" in run("explain", "nobody", *db, code=1)
    assert "--explain must be all, routed or none" in run(
        "qualify", str(data), "--project", str(EXAMPLES), "--explain", "some", *db, code=1
    )
    assert f"audit chain intact: {good} decisions" in run("audit", "verify", *db)


def test_policy_check(tmp_path: Path) -> None:
    assert f"{POLICY}: ok (xeducation@2)" in run("policy", "check", str(POLICY))

    text = POLICY.read_text(encoding="utf-8").splitlines()
    hot = next(i for i, line in enumerate(text) if line.startswith("  hot: 0.70"))
    warm = next(i for i, line in enumerate(text) if line.startswith("  warm: route_to_sales"))
    text[hot] = text[hot].replace("0.70", "1.70")
    text[warm] = text[warm].replace("route_to_sales", "route_to_salez")
    broken = tmp_path / "policy.yaml"
    broken.write_text("\n".join(text) + "\n", encoding="utf-8")
    output = run("policy", "check", str(broken), code=1)
    problems = [line for line in output.splitlines() if line.startswith(f"{broken}:")]
    assert len(problems) == 2, output
    value_col = text[hot].index("1.70") + 1
    assert problems[0].startswith(f"{broken}:{hot + 1}:{value_col}: tiers.hot: ")
    assert problems[1].startswith(
        f"{broken}:{warm + 1}:{text[warm].index('route_to_salez') + 1}: actions.warm: "
    )
    assert "route_to_sales" in problems[1]
