"""Bring your own leads: a project other than X Education runs end to end through the command line.

Each test names the bug of issue 7 it pins down; each failed before the fix. The data is the real Olist
funnel (../shared/data/olist_marketing_funnel: a leads file and a closed-deals file joined by mql_id)
and small exports written the way CRM exports look. Tests that store something run on SQLite and on
PostgreSQL (the ``db_url`` fixture); the new-database test uses a file that does not exist yet.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.cli_support import run, wide_console  # noqa: F401 (fixture)
from tests.conftest import EXAMPLES, LEADS_CSV

from leadgate.audit.outcomes import OUTCOMES
from leadgate.db import make_engine
from leadgate.db.store import DECISIONS, RUNS

ROOT = Path(__file__).resolve().parents[2]
OLIST = ROOT.parent / "shared" / "data" / "olist_marketing_funnel"
OLIST_LEADS = OLIST / "olist_marketing_qualified_leads_dataset.csv"
OLIST_DEALS = OLIST / "olist_closed_deals_dataset.csv"
OLIST_PROJECT = ROOT / "examples" / "olist"


pytestmark = pytest.mark.usefixtures("wide_console")


def count(url: str, query: object) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(query).scalar_one())  # type: ignore[call-overload]
    finally:
        engine.dispose()


def olist_sample(tmp_path: Path, n: int = 2500) -> tuple[Path, Path]:
    """The first ``n`` Olist MQLs (file order) and the closed deals among them."""
    with open(OLIST_LEADS, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    leads = tmp_path / "mql.csv"
    with open(leads, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows[: n + 1])
    ids = {r[0] for r in rows[1 : n + 1]}
    with open(OLIST_DEALS, newline="", encoding="utf-8") as fh:
        deals = list(csv.reader(fh))
    closed = tmp_path / "deals.csv"
    with open(closed, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([deals[0], *(d for d in deals[1:] if d[0] in ids)])
    return leads, closed


def test_olist_end_to_end_with_outcomes_and_no_fit_rules(db_url: str, tmp_path: Path) -> None:
    """Bugs: outcomes needed a join leadgate did not have; qualify built X Education's fit scorer for any model
    (``ValueError: input lacks feature column(s): occupation``) and left the run "running"."""
    url = db_url
    db = ["--database-url", url]
    project = ["--project", str(OLIST_PROJECT)]
    leads, deals = olist_sample(tmp_path)

    first = run("outcomes", "import", str(deals), *project, *db)
    n_deals = len(deals.read_text(encoding="utf-8").splitlines()) - 1
    assert f"{n_deals} outcomes stored" in first
    assert "0 outcomes stored" in run("outcomes", "import", str(deals), *project, *db)  # idempotent
    assert count(url, select(func.count()).select_from(OUTCOMES)) == n_deals

    trained = run("train", "--data", str(leads), *project, *db)
    assert "registered olist_propensity@1 (alias champion)" in trained
    assert "labels from outcomes won known at" in trained
    assert "forward" in trained  # the data has a time column: the choice is made forward in time

    out = tmp_path / "decisions.csv"
    printed = run("qualify", str(leads), *project, "--out", str(out), *db)
    with open(out, newline="", encoding="utf-8") as fh:
        written = list(csv.DictReader(fh))
    assert len(written) == count(url, select(func.count()).select_from(DECISIONS)) > 2000
    assert {w["model"] for w in written} == {"olist_propensity@1"}
    assert "out of training range:" in printed
    engine = make_engine(url)
    with engine.connect() as conn:
        statuses = set(conn.execute(select(RUNS.c.status)).scalars())
    engine.dispose()
    assert statuses == {"completed"}


def test_outcomes_after_the_cutoff_do_not_label_training(db_url: str, tmp_path: Path) -> None:
    url = db_url
    db = ["--database-url", url]
    project = ["--project", str(OLIST_PROJECT)]
    leads, deals = OLIST_LEADS, OLIST_DEALS
    run("outcomes", "import", str(deals), *project, *db)
    # Deals are won from 2017-12; leads arrive until 2018-05. With a cut-off of 2018-03-01 only the leads
    # that arrived by then are used, and only deals won by then label them.
    early = run("train", "--data", str(leads), *project, "--cutoff", "2018-03-01", *db)
    late = run("train", "--data", str(leads), *project, *db)

    def used(text: str) -> int:
        return int(text.split(" used,")[0].rsplit(" ", 1)[-1])

    def positives(text: str) -> int:
        return int(text.split(" leads)")[0].rsplit("(", 1)[-1])

    assert used(early) < used(late)
    assert positives(early) < positives(late)


def test_a_new_database_needs_no_manual_upgrade(tmp_path: Path) -> None:
    """Bug: ``train`` and ``qualify`` on a new database ended in ``no such table: models``."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    out = run(
        "qualify", str(_sample_xeducation(tmp_path, 50)), "--project", str(EXAMPLES), "--database-url", url
    )
    assert "50 decisions" in out
    assert "models" in run("models", "list", "--database-url", f"sqlite:///{tmp_path / 'other.db'}")


def test_missing_feature_set_is_one_clear_error(tmp_path: Path) -> None:
    """Bug: forgetting ``--features`` silently fell back to X Education's feature set (21 clauses, no hint)."""
    url = f"sqlite:///{tmp_path / 'nf.db'}"
    mapping = OLIST_PROJECT / "mapping.yaml"
    printed = run(
        "train", "--data", str(OLIST_LEADS), "--mapping", str(mapping), "--database-url", url, code=1
    )
    assert "no features given" in printed and "--project" in printed


def test_a_policy_reading_fields_the_mapping_lacks_is_refused(db_url: str, tmp_path: Path) -> None:
    """Bug: the X Education policy reads do_not_email / do_not_call; on other data those rules never fired."""
    project = tmp_path / "proj"
    shutil.copytree(OLIST_PROJECT, project)
    shutil.copy(EXAMPLES / "policy.yaml", project / "policy.yaml")
    leads, _ = olist_sample(tmp_path, 50)
    printed = run(
        "qualify",
        str(leads),
        "--project",
        str(project),
        "--database-url",
        db_url,
        code=1,
    )
    assert "attributes.do_not_email (not declared)" in printed
    assert "attributes.do_not_call (not declared)" in printed
    assert count(db_url, select(func.count()).select_from(RUNS)) == 0  # no run left


def test_too_many_rejected_rows_refuse_training_with_the_reasons(tmp_path: Path) -> None:
    """Bug: values such as "unknown" rejected 22.7% of the rows silently and shifted the base rate."""
    lines = LEADS_CSV.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    visits = header.index("TotalVisits")
    for i in range(1, len(lines), 5):  # one row in five says "unknown" for TotalVisits, as some CRMs do
        cells = lines[i].split(",")
        if len(cells) == len(header):
            cells[visits] = "unknown"
            lines[i] = ",".join(cells)
    data = tmp_path / "leads.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'r.db'}"
    refused = run("train", "--data", str(data), "--project", str(EXAMPLES), "--database-url", url, code=1)
    assert "were rejected, more than the allowed 5%" in refused
    assert "columns.TotalVisits: expected a number, got …" in refused
    assert "--allow-rejected" in refused
    evaluated = run(
        "evaluate", "--data", str(data), "--project", str(EXAMPLES), "--database-url", url, code=1
    )
    assert "were rejected" in evaluated


def test_a_stage_flipped_to_pre_decision_is_recorded_and_shown(db_url: str, tmp_path: Path) -> None:
    """Bug: Tags flipped to pre_decision passed the leakage guard with no warning (AUC 0.973)."""
    project = _xeducation_copy(tmp_path, LEADS_CSV)
    url = db_url
    sample = _sample_xeducation(tmp_path, 30)
    run("import", str(sample), "--project", str(project), "--database-url", url)  # records mapping version 1
    mapping = (project / "mapping.yaml").read_text(encoding="utf-8")
    mapping = mapping.replace(
        "Tags: {field: tags, stage: post_decision", "Tags: {field: tags, stage: pre_decision"
    )
    (project / "mapping.yaml").write_text(mapping, encoding="utf-8")
    printed = run("import", str(sample), "--project", str(project), "--database-url", url)
    assert "Tags: post_decision -> pre_decision (xeducation@1 -> xeducation@1)" in printed
    assert "still version 1: bump its version" in printed


def _xeducation_copy(tmp_path: Path, data: Path) -> Path:
    """A copy of the X Education project (without its CSV) whose ``data`` is ``data``, to edit freely."""
    project = tmp_path / "xe"
    shutil.copytree(EXAMPLES, project, ignore=shutil.ignore_patterns("Leads.csv"))
    spec = (project / "leadgate.yaml").read_text(encoding="utf-8").replace("data: Leads.csv", f"data: {data}")
    (project / "leadgate.yaml").write_text(spec, encoding="utf-8")
    return project


def _sample_xeducation(tmp_path: Path, n: int) -> Path:
    lines = LEADS_CSV.read_text(encoding="utf-8").splitlines()[: n + 1]
    path = tmp_path / f"xe{n}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_without_fit_rules_the_fallback_reads_no_column_and_says_so(db_url: str, tmp_path: Path) -> None:
    """No model yet and no fit rules: one probability band for every lead, named on each decision."""
    url = db_url
    leads, _ = olist_sample(tmp_path, 40)
    out = tmp_path / "decisions.csv"
    printed = run(
        "qualify", str(leads), "--project", str(OLIST_PROJECT), "--out", str(out), "--database-url", url
    )
    assert "no model registered as olist_propensity@champion" in printed
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(DECISIONS.c.fallback_reason, DECISIONS.c.model_version, DECISIONS.c.action)
        ).all()
    engine.dispose()
    assert len(rows) == 40
    assert {r.model_version for r in rows} == {"generic_fallback@1"}
    assert all("no fit rules in the project: one probability band" in r.fallback_reason for r in rows)
    assert {r.action for r in rows} == {"human_review"}  # the policy reviews every fallback decision


def test_evaluate_shows_a_flipped_stage_and_flags_the_leak(db_url: str, tmp_path: Path) -> None:
    """Tags flipped to pre_decision and used as a feature: evaluate names the change and the leak."""
    sample = _sample_xeducation(tmp_path, 3000)
    project = _xeducation_copy(tmp_path, sample)
    url = db_url
    run("import", str(sample), "--project", str(project), "--database-url", url)  # records mapping version 1
    mapping = (project / "mapping.yaml").read_text(encoding="utf-8")
    mapping = mapping.replace("\nversion: 1 ", "\nversion: 2 ", 1).replace(
        "Tags: {field: tags, stage: post_decision", "Tags: {field: tags, stage: pre_decision"
    )
    (project / "mapping.yaml").write_text(mapping, encoding="utf-8")
    features = (project / "features.yaml").read_text(encoding="utf-8")
    features += '  - {name: tags, kind: categorical, description: "sales tags"}\n'
    (project / "features.yaml").write_text(features, encoding="utf-8")
    printed = run("evaluate", "--project", str(project), "--folds", "3", "--database-url", url)
    assert "Tags: post_decision -> pre_decision (xeducation@1 -> xeducation@2)" in printed
    assert "likely leak: feature tags alone gives held-out AUC" in printed
    report = (project / "reports" / "report.md").read_text(encoding="utf-8")
    assert "Tags: post_decision -> pre_decision" in report
    assert "forward" in report.lower()


def test_train_can_be_limited_to_some_candidates(db_url: str, tmp_path: Path) -> None:
    """A team that needs LightGBM's latency leaves the blend out (``--candidate``, or evaluation.candidates)."""
    leads, deals = olist_sample(tmp_path)
    project = ["--project", str(OLIST_PROJECT), "--database-url", db_url]
    run("outcomes", "import", str(deals), *project)
    printed = run("train", "--data", str(leads), "--candidate", "lightgbm", *project)
    assert "(alias champion): lightgbm" in printed and "blend" not in printed
    refused = run("train", "--data", str(leads), "--candidate", "gradient_boosting", *project, code=1)
    assert "unknown candidate(s) gradient_boosting" in refused


def test_label_values_the_mapping_does_not_declare_are_named(tmp_path: Path) -> None:
    """Bug: a yes/no label read with the wrong spellings became all positive; now train names the values."""
    project = _xeducation_copy(tmp_path, LEADS_CSV)
    mapping = (
        (project / "mapping.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "Converted: {field: converted, stage: label, type: boolean}",
            "Converted: {field: converted, stage: label, type: boolean, true_values: [Won], false_values: [Lost]}",
        )
    )
    (project / "mapping.yaml").write_text(mapping, encoding="utf-8")
    printed = run(
        "train", "--project", str(project), "--database-url", f"sqlite:///{tmp_path / 'l.db'}", code=1
    )
    assert "label column 'Converted' holds values the mapping does not declare as true or false" in printed
    assert "'0' (5679)" in printed and "'1' (3561)" in printed
