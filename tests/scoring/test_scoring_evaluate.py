import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold

from leadgate.features import FeatureSet
from leadgate.scoring import (
    BASELINES,
    EvaluationError,
    LogisticBaseline,
    PropensityScorer,
    evaluate,
    select_model,
)
from leadgate.scoring.leakage import LEAK_AUC_THRESHOLD
from leadgate.scoring.selection import forward_splits

METRICS = {"roc_auc", "pr_auc", "brier", "log_loss", "ece", "lift_at_10", "precision_at_10"}
STAGE_CHANGE = "Tags: post_decision -> pre_decision since mapping xeducation@1"

FS = FeatureSet(
    name="webinar_leads",
    version=3,
    features=[
        {"name": "country", "kind": "categorical", "description": "country"},
        {"name": "visits", "kind": "numeric", "description": "visits to the website", "unit": "visits"},
        {"name": "rep_note", "kind": "categorical", "description": "sales rep's note"},
    ],
)


def _fast_candidates(fs=FS):
    """Two small candidates so the synthetic reports take seconds."""
    return {
        "lightgbm": lambda: PropensityScorer.from_feature_set(fs, n_estimators=20, cv=2),
        "logistic": lambda: LogisticBaseline(fs.categorical, fs.numeric),
    }


@pytest.fixture(scope="module")
def drifting_leads():
    """A CRM export as it reaches evaluate: rows in random order, an arrival timestamp, a drifting number.

    ``visits`` grows over time (so later leads fall outside the training range), conversion depends on
    country and visits, and ``rep_note`` is written after the outcome (a leak).
    """
    rng = np.random.default_rng(11)
    n = 900
    arrived = pd.Timestamp("2018-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 150, n), unit="D")
    age = (arrived - arrived.min()).days.to_numpy() / 150
    country = rng.choice(["Brazil", "Portugal", "Angola", None], size=n, p=[0.5, 0.25, 0.15, 0.1])
    visits = np.floor(40 * age + rng.uniform(0, 4, n))
    visits[rng.random(n) < 0.05] = np.nan
    logit = -1.2 + 0.9 * (country == "Portugal") + 0.05 * np.nan_to_num(visits - 20)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    note = np.where(y == 1, "Closed - won", "No answer").astype(object)
    flip = rng.random(n) < 0.05
    note[flip] = np.where(y[flip] == 1, "No answer", "Closed - won")
    X = FS.frame_from_records(
        [{"country": c, "visits": v, "rep_note": t} for c, v, t in zip(country, visits, note, strict=True)]
    )
    return X, y, arrived.as_unit("ns").asi8.astype(np.int64)


@pytest.fixture(scope="module")
def forward_report(drifting_leads, tmp_path_factory):
    X, y, order = drifting_leads
    out = tmp_path_factory.mktemp("forward_report")
    report = evaluate(
        X,
        y,
        FS,
        out,
        order=order,
        time_axis="time column 'first_contact_date'",
        order_is_time=True,
        folds=4,
        seed=3,
        candidates=_fast_candidates(),
        stage_changes=[STAGE_CHANGE],
    )
    return report, out


@pytest.fixture(scope="module")
def kfold_report(drifting_leads, tmp_path_factory):
    X, y, _ = drifting_leads
    out = tmp_path_factory.mktemp("kfold_report")
    return evaluate(X, y, FS, out, folds=4, seed=3, candidates=_fast_candidates()), out


def test_every_candidate_and_baseline_in_both_evaluations_with_every_metric(forward_report):
    report, out = forward_report
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk == report
    expected = {"lightgbm", "logistic", *BASELINES}
    assert set(report["evaluations"]) == {"kfold", "forward"}
    for evaluation in ("kfold", "forward"):
        scorers = report["evaluations"][evaluation]["scorers"]
        assert set(scorers) == expected
        for name, block in scorers.items():
            assert set(block) >= METRICS, (evaluation, name)
            assert block["kind"] == ("baseline" if name in BASELINES else "candidate")
            assert len(block["roc_auc_per_split"]) == 4
    assert set(report["kfold_vs_forward"]) == expected
    assert set(report["baselines"]) == set(BASELINES)


def test_pooled_coverage_of_each_evaluation(forward_report, drifting_leads):
    report, _ = forward_report
    _X, y, order = drifting_leads
    kfold = report["evaluations"]["kfold"]
    assert kfold["n_tested"] == len(y)
    forward = report["evaluations"]["forward"]
    splits = forward_splits(order, 4)
    tested = np.concatenate([te for _, te in splits])
    assert forward["n_tested"] == len(tested) == sum(b["n_test"] for b in forward["blocks"])
    assert forward["base_rate"] == pytest.approx(y[tested].mean())
    assert len(y) - forward["n_tested"] == forward["blocks"][0]["n_train"]  # only the first block untested
    for b in forward["blocks"]:
        assert b["train_last"] < b["test_first"] <= b["test_last"]  # ISO times compare as text
        assert b["test_first"].endswith("Z")
    assert [b["n_train"] for b in forward["blocks"]] == sorted(b["n_train"] for b in forward["blocks"])


def test_forward_is_the_headline_when_a_time_order_exists(forward_report, drifting_leads):
    report, out = forward_report
    assert report["headline"] == "forward"
    champion = report["champion"]
    assert champion["evaluation"] == "forward" and champion["criterion"] == "log_loss"
    fw = report["evaluations"]["forward"]["scorers"]
    assert champion["name"] == min(("lightgbm", "logistic"), key=lambda k: fw[k]["log_loss"])
    assert report["model"]["roc_auc"] == fw[champion["name"]]["roc_auc"]
    md = (out / "report.md").read_text()
    assert "The **forward-in-time** figures predict deployment" in md
    assert "**" not in report["deployment"]  # plain text in report.json (the CLI prints it)
    assert "(time column 'first_contact_date')" in md and "k-fold puts the champion's" in md
    # the first results table is the forward one
    assert md.index("## Forward in time (headline") < md.index("## Stratified k-fold (for comparison")
    first_table_row = next(line for line in md.splitlines() if line.startswith("| **"))
    name = champion["name"]
    assert first_table_row.startswith(f"| **{name}** (champion) | {fw[name]['roc_auc']:.4f} |")
    kf = report["evaluations"]["kfold"]["scorers"][name]
    gap = kf["roc_auc"] - fw[name]["roc_auc"]
    assert f"({'overstating' if gap >= 0 else 'understating'} it by {abs(gap):.3f})" in report["deployment"]
    assert "| mautic_points (baseline) |" in md and "## How much k-fold overstates" in md


def test_kfold_is_the_headline_without_a_time_order(kfold_report):
    report, out = kfold_report
    assert report["headline"] == "kfold" and set(report["evaluations"]) == {"kfold"}
    assert report["champion"]["evaluation"] == "kfold"
    assert "kfold_vs_forward" not in report
    md = (out / "report.md").read_text()
    assert "No time order was declared" in md and "forward-in-time figures predict deployment" not in md
    assert "## Stratified k-fold (headline" in md and "## Forward in time" not in md
    for name in BASELINES:
        assert f"| {name} (baseline) |" in md


def test_drift_makes_kfold_optimistic_and_forward_leads_out_of_range(forward_report):
    report, _ = forward_report
    lgbm = report["evaluations"]
    # visits grow over time: every forward block holds values above the training maximum
    assert lgbm["forward"]["scorers"]["lightgbm"]["out_of_range_share"] > 0.2
    assert lgbm["kfold"]["scorers"]["lightgbm"]["out_of_range_share"] < 0.05
    assert lgbm["forward"]["scorers"]["mautic_points"]["out_of_range_share"] is None  # cannot tell
    diff = report["kfold_vs_forward"]["lightgbm"]["log_loss"]
    assert diff["difference"] == pytest.approx(diff["kfold"] - diff["forward"])
    assert diff["difference"] < 0  # k-fold looks better than what arrives later


def test_out_of_range_share_of_the_champion_is_stated(forward_report):
    report, out = forward_report
    shares = report["out_of_range_share"]
    champion = report["champion"]["name"]
    for evaluation in ("forward", "kfold"):
        assert (
            shares[evaluation] == report["evaluations"][evaluation]["scorers"][champion]["out_of_range_share"]
        )
    md = (out / "report.md").read_text()
    if shares["forward"] is None:  # the champion cannot tell: no sentence
        assert "**Outside the training range**" not in md
    else:
        assert f"**Outside the training range**: {shares['forward']:.1%} of the forward test leads" in md


def test_out_of_range_sentence_for_a_champion_that_can_tell(drifting_leads, tmp_path):
    X, y, order = drifting_leads
    report = evaluate(
        X,
        y,
        FS,
        tmp_path,
        order=order,
        folds=3,
        candidates={"lightgbm": _fast_candidates()["lightgbm"]},
        baselines={},
        audit_leaks=False,
    )
    forward, kfold = report["out_of_range_share"]["forward"], report["out_of_range_share"]["kfold"]
    assert forward > 0.2 > kfold
    md = (tmp_path / "report.md").read_text()
    assert (
        f"{forward:.1%} of the forward test leads had a value outside" in md
        and f"(k-fold: {kfold:.1%};" in md
    )


def test_leak_audit_flags_the_note_written_after_the_outcome(forward_report):
    report, out = forward_report
    leakage = report["leakage"]
    assert leakage["threshold"] == LEAK_AUC_THRESHOLD
    assert leakage["flagged"] == ["rep_note"]
    assert leakage["features"]["rep_note"]["auc"] > 0.9
    assert leakage["features"]["country"]["auc"] < LEAK_AUC_THRESHOLD
    assert next(iter(leakage["features"])) == "rep_note"  # highest first
    md = (out / "report.md").read_text()
    assert "**Likely leaks**: `rep_note`" in md
    assert "| rep_note | categorical |" in md and "**likely leak**" in md


def test_stage_changes_are_shown_first(forward_report, kfold_report):
    report, out = forward_report
    assert report["stage_changes"] == [STAGE_CHANGE]
    md = (out / "report.md").read_text()
    assert f"> - {STAGE_CHANGE}" in md
    assert md.index(STAGE_CHANGE) < md.index("## Which figure predicts deployment")
    assert kfold_report[0]["stage_changes"] == []
    assert "Stage changes" not in (kfold_report[1] / "report.md").read_text()


def test_report_files(forward_report):
    _, out = forward_report
    png = (out / "calibration.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert "calibration.png" in (out / "report.md").read_text()


def test_evaluate_names_the_champion_select_model_chooses(drifting_leads, forward_report):
    X, y, order = drifting_leads
    report, _ = forward_report
    sel = select_model(X, y, FS, order, seed=3, folds=4, candidates=_fast_candidates())
    assert sel.name == report["champion"]["name"]
    assert sel.reason == report["champion"]["reason"]
    for name, figures in sel.candidates.items():
        assert figures == {m: report["evaluations"]["forward"]["scorers"][name][m] for m in METRICS}


def test_evaluate_rejects_bad_input(tmp_path, drifting_leads):
    X, y, order = drifting_leads
    with pytest.raises(TypeError):
        evaluate(np.zeros((4, 2)), [0, 1, 0, 1], FS, tmp_path)
    with pytest.raises(ValueError):
        evaluate(X.iloc[:2], [1, 1], FS, tmp_path)
    with pytest.raises(ValueError, match="one per lead"):
        evaluate(X, y, FS, tmp_path, order=order[:-1])
    with pytest.raises(EvaluationError, match="distinct arrival times"):
        evaluate(X, y, FS, tmp_path, order=np.zeros(len(y), dtype=np.int64), candidates=_fast_candidates())
    assert not (tmp_path / "report.json").exists()


# ------------------------------------------------------------------------------------- X Education


@pytest.fixture(scope="module")
def xeducation_without_lead_number(xeducation):
    X, y, fs = xeducation
    honest = FeatureSet(
        name=fs.name, version=fs.version, features=[f for f in fs.features if f.name != "lead_number"]
    )
    return X[honest.names], y, honest


@pytest.fixture(scope="module")
def xeducation_report(xeducation_without_lead_number, tmp_path_factory):
    X, y, fs = xeducation_without_lead_number
    out = tmp_path_factory.mktemp("xeducation_report")
    return evaluate(X, y, fs, out, folds=5, seed=42), out


@pytest.mark.slow
def test_xeducation_acceptance_target(xeducation_report):
    """Issue 7 acceptance, k-fold without lead_number: AUC >= 0.877, ECE <= 0.015, ahead of every baseline."""
    report, _ = xeducation_report
    kfold = report["evaluations"]["kfold"]["scorers"]
    champion = report["champion"]["name"]
    model = kfold[champion]
    assert model["roc_auc"] >= 0.877
    assert model["ece"] <= 0.015
    for name in BASELINES:
        assert model["roc_auc"] > kfold[name]["roc_auc"], name
        assert model["log_loss"] < kfold[name]["log_loss"], name


@pytest.mark.slow
def test_xeducation_report_fields(xeducation_report, xeducation_without_lead_number):
    report, _out = xeducation_report
    X, y, fs = xeducation_without_lead_number
    meta = report["meta"]
    assert meta["n"] == len(y) == 9240 and meta["time_order"] is None
    assert meta["folds"] == 5 and meta["seed"] == 42 and meta["feature_set"] == fs.ref
    assert "lead_number" not in meta["features"]["numeric"]
    fold_of = np.empty(len(y), dtype=np.int64)
    for k, (_, test) in enumerate(StratifiedKFold(5, shuffle=True, random_state=42).split(X, y)):
        fold_of[test] = k
    assert meta["fold_assignment_sha256"] == hashlib.sha256(fold_of.tobytes()).hexdigest()
    assert meta["calibration_chosen"]["kfold"]["lightgbm"] in {"isotonic", "sigmoid"}
    assert report["confidence"]["low"]["brier"] > report["confidence"]["rest"]["brier"]
    assert report["leakage"]["flagged"] == []  # the shipped feature set reads no late column


def test_file_order_blocks_are_shown_as_row_numbers(drifting_leads, tmp_path):
    X, y, _ = drifting_leads
    report = evaluate(
        X.iloc[:300],
        y[:300],
        FS,
        tmp_path,
        order=np.arange(300),
        time_axis="file order (declared time_ordered)",
        folds=2,
        candidates={"logistic": _fast_candidates()["logistic"]},
        baselines={"logistic_regression": BASELINES["logistic_regression"]},
        audit_leaks=False,
    )
    assert [
        (b["train_last"], b["test_first"], b["test_last"]) for b in report["evaluations"]["forward"]["blocks"]
    ] == [
        (99, 100, 199),
        (199, 200, 299),
    ]
    assert report["leakage"] is None and report["champion"]["name"] == "logistic"
    md = (tmp_path / "report.md").read_text()
    assert "The leads have a time order (file order (declared time_ordered))" in md
    assert "## Leak audit" not in md
