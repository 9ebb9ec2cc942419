"""Single-feature leak audit: held-out AUC of one-column models, and the threshold measured on X Education."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadgate.scoring.leakage import LEAK_AUC_THRESHOLD, FeatureAudit, leak_audit, single_feature_auc

LEADS = Path(__file__).resolve().parents[2] / "examples" / "xeducation" / "Leads.csv"


def _labels(n: int, rate: float = 0.3, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random(n) < rate).astype(np.int64)


def test_a_copy_of_the_label_in_other_words_scores_about_one() -> None:
    y = _labels(1000)
    values = ["Closed Won" if v else "Closed Lost" for v in y]
    assert single_feature_auc(values, y, "categorical") > 0.99


def test_noise_and_ids_score_about_one_half() -> None:
    y = _labels(2000, seed=1)
    rng = np.random.default_rng(2)
    noise = rng.choice(["Google", "Bing", "Referral", "Direct"], size=len(y)).tolist()
    ids = [f"lead-{i:06d}" for i in range(len(y))]
    assert abs(single_feature_auc(noise, y, "categorical") - 0.5) < 0.05
    # every held-out id is unseen, so it gets the training base rate: no ranking at all
    assert single_feature_auc(ids, y, "categorical") == 0.5


def test_numeric_bins_need_no_monotone_shape() -> None:
    # converts only in the middle of the range: a linear score would be useless, target-rate bins are not
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, 3000)
    y = (np.abs(x) < 0.4).astype(np.int64)
    assert single_feature_auc(x.tolist(), y, "numeric") > 0.95


def test_missing_is_a_level_of_its_own() -> None:
    rng = np.random.default_rng(4)
    y = _labels(1500, seed=5)
    numbers = [None if label else float(v) for label, v in zip(y, rng.normal(size=len(y)), strict=True)]
    words: list[object] = ["" if label else str(rng.choice(["a", "b"])) for label in y]
    assert single_feature_auc(numbers, y, "numeric") > 0.99
    assert single_feature_auc(words, y, "categorical") > 0.99
    nan_words = [float("nan") if w == "" else w for w in words]
    assert single_feature_auc(nan_words, y, "categorical") > 0.99


def test_constant_and_all_missing_columns_score_exactly_one_half() -> None:
    y = _labels(300, seed=6)
    assert single_feature_auc(["Yes"] * len(y), y, "categorical") == 0.5
    assert single_feature_auc([None] * len(y), y, "numeric") == 0.5
    assert single_feature_auc([7] * len(y), y, "numeric") == 0.5


def test_the_folds_are_seeded() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=800)
    y = (x + rng.normal(size=800) > 0.5).astype(np.int64)
    first = single_feature_auc(x.tolist(), y, "numeric", seed=11)
    assert first == single_feature_auc(x.tolist(), y, "numeric", seed=11)
    assert 0.6 < first < 0.9


def test_bad_inputs_are_one_clear_error() -> None:
    y = _labels(100, seed=8)
    with pytest.raises(ValueError, match="one per row"):
        single_feature_auc([1, 2, 3], y, "numeric")
    with pytest.raises(ValueError, match="single class"):
        single_feature_auc([1] * 100, np.zeros(100, dtype=np.int64), "numeric")
    with pytest.raises(ValueError, match="only 0/1"):
        single_feature_auc([1] * 3, np.array([0, 1, 2]), "numeric")
    few = np.array([1, 1, 0, 0, 0, 0, 0, 0], dtype=np.int64)
    with pytest.raises(ValueError, match="fewer than the 5 folds"):
        single_feature_auc(["a"] * 8, few, "categorical")
    with pytest.raises(ValueError, match="kind must be"):
        single_feature_auc([1] * 100, y, "text")  # type: ignore[arg-type]


def test_leak_audit_sorts_flags_and_names_absent_columns() -> None:
    y = _labels(1200, seed=9)
    rng = np.random.default_rng(10)
    frame = pd.DataFrame(
        {
            "source": pd.Categorical(rng.choice(["web", "event"], size=len(y))),
            "stage_reached": np.where(y == 1, "demo held", "no answer"),
            "visits": np.where(rng.random(len(y)) < 0.1, np.nan, rng.poisson(3, len(y))),
            "do_not_call": rng.random(len(y)) < 0.2,
        }
    )
    kinds = {
        "source": "categorical",
        "stage_reached": "categorical",
        "visits": "numeric",
        "do_not_call": "categorical",
    }
    audits = leak_audit(frame, y, kinds)  # type: ignore[arg-type]
    assert audits[0].name == "stage_reached"
    assert audits[0] == FeatureAudit("stage_reached", audits[0].auc, True)
    assert [a.flagged for a in audits[1:]] == [False, False, False]
    assert [a.auc for a in audits] == sorted((a.auc for a in audits), reverse=True)
    assert not leak_audit(frame, y, {"stage_reached": "categorical"}, threshold=1.01)[0].flagged
    with pytest.raises(ValueError, match=r"lacks column.*tags, lead_quality"):
        leak_audit(frame, y, {"tags": "categorical", "lead_quality": "categorical", "source": "categorical"})


def _xeducation() -> tuple[pd.DataFrame, np.ndarray]:
    with LEADS.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    frame = pd.DataFrame([{k: (None if v in ("", "Select") else v) for k, v in r.items()} for r in rows])
    return frame, frame.pop("Converted").astype(int).to_numpy()


def test_threshold_flags_tags_but_not_the_strong_legitimate_columns_of_x_education() -> None:
    frame, y = _xeducation()
    kinds = {
        "Tags": "categorical",
        "Lead Quality": "categorical",
        "Last Activity": "categorical",
        "Lead Origin": "categorical",
        "Lead Source": "categorical",
        "What is your current occupation": "categorical",
        "Total Time Spent on Website": "numeric",
        "Prospect ID": "categorical",
    }
    audits = {a.name: a for a in leak_audit(frame, y, kinds)}  # type: ignore[arg-type]
    assert audits["Tags"].flagged and audits["Tags"].auc > 0.9
    assert [n for n, a in audits.items() if a.flagged] == ["Tags"]
    assert audits["Lead Origin"].auc < LEAK_AUC_THRESHOLD - 0.2
    assert audits["Total Time Spent on Website"].auc < LEAK_AUC_THRESHOLD - 0.05
    assert abs(audits["Prospect ID"].auc - 0.5) < 0.01
