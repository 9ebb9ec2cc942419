"""Metric arithmetic of leadgate.chat.nlu.evaluate on hand-made predictions."""

from __future__ import annotations

import pytest

from leadgate.chat.nlu.evaluate import EvalRow, evaluate_rows, subset_report


def _rows(labels: list[tuple[str, str | None]]) -> list[EvalRow]:
    return [
        EvalRow(f"text {i}", label, "enter_data" if label == "inform" else label, m)
        for i, (label, m) in enumerate(labels)
    ]


def test_subset_metrics_by_hand() -> None:
    rows = _rows([("greet", "direct"), ("greet", "direct"), ("inform", "direct"), ("deny", "direct")])
    predicted = ["greet", "inform", "inform", "spam"]
    report = subset_report("x", rows, predicted)
    assert report.accuracy == 0.5
    per = {m.intent: m for m in report.per_intent}
    assert (per["greet"].precision, per["greet"].recall) == (1.0, 0.5)
    assert per["greet"].f1 == pytest.approx(2 / 3)
    assert (per["inform"].precision, per["inform"].recall) == (0.5, 1.0)
    assert per["inform"].eval_labels == ("enter_data",)
    assert per["deny"].f1 == 0.0
    # spam is only predicted: no F1 term of its own, but it costs deny its recall
    assert report.macro_f1 == pytest.approx((2 / 3 + 2 / 3 + 0.0) / 3)
    assert report.labels == ("deny", "greet", "inform", "spam")
    assert report.confusion == ((0, 0, 0, 1), (0, 1, 1, 0), (0, 0, 1, 0))
    assert dict(report.raw_label_counts) == {"deny": 1, "enter_data": 1, "greet": 2}


def test_direct_subset_and_error_listing() -> None:
    rows = _rows([("greet", "direct"), ("pricing", "approximate"), ("deny", "direct")])
    predicted = [("greet", 0.9), ("support", 0.4), ("affirm", 0.6)]
    report = evaluate_rows(rows, predicted, max_errors=5)
    assert report.overall.n == 3
    assert report.direct is not None and report.direct.n == 2
    assert report.direct.accuracy == 0.5
    assert [e["gold"] for e in report.errors] == ["deny", "pricing"]  # direct rows first


def test_mismatched_lengths_fail() -> None:
    with pytest.raises(ValueError):
        subset_report("x", _rows([("greet", None)]), [])
