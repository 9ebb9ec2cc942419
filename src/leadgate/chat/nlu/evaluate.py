"""Evaluate the intent classifier on a labelled JSONL file.

Input rows (one JSON object per line, the format of ``shared/eval/intent_eval.jsonl``)::

    {"text": "...", "mapped_intent": "pricing", "mapping": "direct", ...}

``mapped_intent`` is the gold label; ``mapping`` (``direct`` or ``approximate``) says how faithfully the
source's own label was mapped onto leadgate's intents. Labels are passed through :data:`LABEL_MAPPING`
first: the eval set's ``enter_data`` (a visitor entering data: names, companies, budgets, languages...)
is leadgate's ``inform``. Reports keep both names (``raw_labels``).

Metrics (scikit-learn): accuracy; precision, recall and F1 per gold intent; macro-F1 as the unweighted
mean of the per-intent F1 over the intents present in the gold labels of the subset (an intent that is
only predicted, such as ``spam`` on a set without spam rows, adds no F1 term, but its false positives
still lower the recall of the true intents); and a confusion matrix with gold intents as rows and
every intent that occurs (gold or predicted) as columns.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LABEL_MAPPING: Mapping[str, str] = {"enter_data": "inform"}
"""Eval label -> leadgate intent, for labels whose names differ."""


class EvalDataError(ValueError):
    """A row of the evaluation file is malformed."""


@dataclass(frozen=True)
class EvalRow:
    """One labelled utterance.

    Attributes:
        text: the utterance.
        label: the gold intent after :data:`LABEL_MAPPING`.
        raw_label: ``mapped_intent`` as written in the file.
        mapping: the row's ``mapping`` field (``direct``, ``approximate``), or None when absent.

    """

    text: str
    label: str
    raw_label: str
    mapping: str | None


@dataclass(frozen=True)
class IntentMetrics:
    """Precision, recall and F1 of one intent.

    Attributes:
        intent: leadgate's intent name.
        eval_labels: the eval-file labels that map to it (e.g. ``["enter_data"]`` for ``inform``).
        precision: share of rows predicted as this intent that are this intent, in [0, 1].
        recall: share of this intent's rows predicted as it, in [0, 1].
        f1: harmonic mean of the two.
        support: number of gold rows.

    """

    intent: str
    eval_labels: tuple[str, ...]
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class SubsetReport:
    """Metrics on one subset of the rows.

    Attributes:
        name: ``overall`` or ``direct``.
        n: number of rows.
        accuracy: share of rows whose predicted intent equals the gold one.
        macro_f1: unweighted mean F1 over the gold intents.
        per_intent: metrics per gold intent, by name.
        labels: column labels of the confusion matrix (gold intents first, then predicted-only ones).
        confusion: ``confusion[i][j]`` = rows of gold ``labels[i]`` predicted as ``labels[j]``; only the
            first ``len(per_intent)`` labels have rows.
        raw_label_counts: rows per label as written in the file.

    """

    name: str
    n: int
    accuracy: float
    macro_f1: float
    per_intent: tuple[IntentMetrics, ...]
    labels: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]
    raw_label_counts: Mapping[str, int]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "per_intent": {
                m.intent: {
                    "eval_labels": list(m.eval_labels),
                    "precision": round(m.precision, 4),
                    "recall": round(m.recall, 4),
                    "f1": round(m.f1, 4),
                    "support": m.support,
                }
                for m in self.per_intent
            },
            "confusion_matrix": {
                "rows": list(self.labels[: len(self.per_intent)]),
                "columns": list(self.labels),
                "counts": [list(r) for r in self.confusion],
            },
            "raw_label_counts": dict(self.raw_label_counts),
        }


@dataclass(frozen=True)
class EvaluationReport:
    """Metrics overall and on the ``mapping == "direct"`` rows.

    Attributes:
        source: the evaluated file.
        label_mapping: eval label -> leadgate intent applied before scoring.
        overall: metrics on all rows.
        direct: metrics on the direct rows, or None when no row has ``mapping == "direct"``.
        errors: up to N misclassified rows ``{"text", "gold", "predicted", "confidence"}`` (direct rows first).

    """

    source: str
    label_mapping: Mapping[str, str]
    overall: SubsetReport
    direct: SubsetReport | None
    errors: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape printed by ``leadgate nlu evaluate --json``."""
        return {
            "source": self.source,
            "label_mapping": dict(self.label_mapping),
            "overall": self.overall.to_dict(),
            "direct": self.direct.to_dict() if self.direct else None,
            "errors": [dict(e) for e in self.errors],
        }


def read_eval_rows(path: Path | str, mapping: Mapping[str, str] = LABEL_MAPPING) -> list[EvalRow]:
    """Read labelled rows from a JSONL file.

    Args:
        path: the file; blank lines are skipped.
        mapping: eval label -> leadgate intent.

    Returns:
        The rows, in file order.

    Raises:
        EvalDataError: on a line that is not a JSON object with string ``text`` and ``mapped_intent``
            (the message names the line), or on a file without rows.
        OSError: if the file cannot be read.

    """
    rows: list[EvalRow] = []
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalDataError(f"{path}:{line_no}: not valid JSON: {exc.msg}") from exc
            if not isinstance(obj, dict):
                raise EvalDataError(f"{path}:{line_no}: expected a JSON object")
            text, raw = obj.get("text"), obj.get("mapped_intent")
            if not isinstance(text, str) or not text.strip():
                raise EvalDataError(f"{path}:{line_no}: 'text' must be a non-empty string")
            if not isinstance(raw, str) or not raw:
                raise EvalDataError(f"{path}:{line_no}: 'mapped_intent' must be a non-empty string")
            kind = obj.get("mapping")
            rows.append(EvalRow(text, mapping.get(raw, raw), raw, kind if isinstance(kind, str) else None))
    if not rows:
        raise EvalDataError(f"{path}: no rows")
    return rows


def subset_report(
    name: str, rows: Sequence[EvalRow], predicted: Sequence[str], mapping: Mapping[str, str] = LABEL_MAPPING
) -> SubsetReport:
    """Compute the metrics of one subset.

    Args:
        name: a label for the subset.
        rows: gold rows.
        predicted: the predicted intent of each row, same order.
        mapping: the label mapping (to list each intent's eval labels).

    Returns:
        The subset's metrics.

    Raises:
        ValueError: if the lengths differ or there are no rows.

    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    if len(rows) != len(predicted) or not rows:
        raise ValueError(
            f"need equal, non-zero numbers of rows and predictions ({len(rows)}, {len(predicted)})"
        )
    gold = [r.label for r in rows]
    gold_labels = sorted(set(gold))
    extra = sorted(set(predicted) - set(gold_labels))
    labels = gold_labels + extra
    p, r, f, s = precision_recall_fscore_support(gold, predicted, labels=gold_labels, zero_division=0)
    reverse: dict[str, list[str]] = {}
    for raw in sorted({row.raw_label for row in rows}):
        reverse.setdefault(mapping.get(raw, raw), []).append(raw)
    per_intent = tuple(
        IntentMetrics(lab, tuple(reverse.get(lab, [lab])), float(p[i]), float(r[i]), float(f[i]), int(s[i]))
        for i, lab in enumerate(gold_labels)
    )
    cm = confusion_matrix(gold, predicted, labels=labels)[: len(gold_labels)]
    accuracy = sum(g == q for g, q in zip(gold, predicted, strict=True)) / len(gold)
    return SubsetReport(
        name=name,
        n=len(rows),
        accuracy=accuracy,
        macro_f1=float(sum(m.f1 for m in per_intent) / len(per_intent)),
        per_intent=per_intent,
        labels=tuple(labels),
        confusion=tuple(tuple(int(x) for x in row) for row in cm),
        raw_label_counts=dict(sorted(Counter(row.raw_label for row in rows).items())),
    )


def evaluate_rows(
    rows: Sequence[EvalRow],
    predicted: Sequence[tuple[str, float]],
    source: str = "<rows>",
    mapping: Mapping[str, str] = LABEL_MAPPING,
    max_errors: int = 0,
) -> EvaluationReport:
    """Build the report from rows and their predictions.

    Args:
        rows: gold rows.
        predicted: ``(intent, confidence)`` per row, same order.
        source: the file name, for the report.
        mapping: the label mapping applied when the rows were read.
        max_errors: how many misclassified rows to list.

    Returns:
        Metrics overall and on ``mapping == "direct"`` rows.

    """
    names = [p[0] for p in predicted]
    overall = subset_report("overall", rows, names, mapping)
    direct_idx = [i for i, r in enumerate(rows) if r.mapping == "direct"]
    direct = (
        subset_report("direct", [rows[i] for i in direct_idx], [names[i] for i in direct_idx], mapping)
        if direct_idx
        else None
    )
    wrong = [i for i in range(len(rows)) if names[i] != rows[i].label]
    wrong.sort(key=lambda i: (rows[i].mapping != "direct", i))
    errors = tuple(
        {
            "text": rows[i].text,
            "gold": rows[i].label,
            "predicted": names[i],
            "confidence": round(predicted[i][1], 4),
            "mapping": rows[i].mapping,
        }
        for i in wrong[:max_errors]
    )
    return EvaluationReport(source, dict(mapping), overall, direct, errors)


def evaluate_file(
    path: Path | str, classify: Any, max_errors: int = 0, mapping: Mapping[str, str] = LABEL_MAPPING
) -> EvaluationReport:
    """Read a JSONL file, classify every row and report.

    Args:
        path: the JSONL file.
        classify: a callable taking a list of texts and returning ``(intent, confidence)`` pairs, e.g.
            ``lambda texts: [(p.name, p.confidence) for p in clf.predict_many(texts)]``.
        max_errors: how many misclassified rows to include.
        mapping: eval label -> leadgate intent.

    Returns:
        The report.

    Raises:
        EvalDataError: see :func:`read_eval_rows`.

    """
    rows = read_eval_rows(path, mapping)
    predictions: Iterable[tuple[str, float]] = classify([r.text for r in rows])
    return evaluate_rows(rows, list(predictions), source=str(path), mapping=mapping, max_errors=max_errors)
