"""Training data and model training: read a labelled file (or a file plus stored outcomes), check it, train.

``load_training_data`` reads a leads file with its mapping and feature set, after the leakage guard, and
says exactly what it dropped: how many rows were rejected and the top reasons. Labels come from the
mapping's ``label`` column, or, when the mapping has none, from the ``outcomes`` table (outcomes known at
the cut-off; ``leadgate.audit.outcomes``). The time order used by forward-in-time evaluation comes from
the mapping's ``time_column`` (epoch nanoseconds) or, for a file declared ``time_ordered``, from the row
order.

``train_and_register`` selects the champion among the candidate models (``scoring.selection``) and
registers it with every candidate's figures and the reason of the choice.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from leadgate.db.engine import write_lock
from leadgate.errors import LeadgateError
from leadgate.features import FeatureSet
from leadgate.ingest import ColumnMapping, read_csv_chunks
from leadgate.registry import RegisteredModel, register_model


class TrainingDataError(LeadgateError, ValueError):
    """The file cannot be learned from as mapped (no label, one class, too many rows rejected, ...)."""


@dataclass
class TrainingData:
    """Model input and labels read from a file, after the leakage check.

    Attributes:
        frame: model input, DataFrame (n, n_features) (``FeatureSet.frame_from_records``).
        labels: outcomes, int64 (n,), 1 = converted.
        feature_set: the feature set.
        rejected: rows rejected by the mapping (dead-letter reasons in ``rejected_reasons``).
        rows: data rows read from the file.
        rejected_reasons: ``(reason, count)`` pairs, most frequent first.
        unlabelled: valid rows without a label (skipped).
        order: int64 sort key per row (epoch ns of the time column, or row number for a time-ordered
            file), or None when the data has no time order.
        order_source: what ``order`` is (``"time column first_contact_date"``, ``"file order"``) or None.
        order_is_time: ``order`` holds epoch nanoseconds (a datetime column), not a sequence number.
        untimed: labelled rows without a value in the time column (there is then no time order).
        label_source: where the labels came from (``"column Converted"``, ``"outcomes known at ..."``).
        lead_ids: the lead id of each row (n,).
    """

    frame: pd.DataFrame
    labels: np.ndarray
    feature_set: FeatureSet
    rejected: int
    rows: int = 0
    rejected_reasons: list[tuple[str, int]] = field(default_factory=list)
    unlabelled: int = 0
    order: np.ndarray | None = None
    order_source: str | None = None
    order_is_time: bool = False
    untimed: int = 0
    label_source: str = ""
    lead_ids: list[str] = field(default_factory=list)

    @property
    def rejected_share(self) -> float:
        """Share of the file's rows that the mapping rejected (0..1)."""
        return self.rejected / self.rows if self.rows else 0.0

    def summary(self) -> str:
        """One line: rows read, rejected (with the top reasons), unlabelled, used, base rate."""
        text = f"{self.rows} rows read, {self.rejected} rejected ({self.rejected_share:.1%})"
        if self.rejected_reasons:
            top = "; ".join(f"{reason} ({n})" for reason, n in self.rejected_reasons[:3])
            text += f" [top reasons: {top}]"
        if self.unlabelled:
            text += f", {self.unlabelled} without a label"
        if self.untimed:
            text += f", {self.untimed} without an arrival time (so no forward-in-time evaluation)"
        return text + f", {len(self.labels)} used, base rate {float(self.labels.mean()):.3f}"


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _reason_kind(path: str, reason: str) -> str:
    """A rejection reason without the offending value, so equal reasons group together."""
    return f"{path}: {_QUOTED.sub('…', reason)}"


def load_training_data(
    path: str | Path,
    mapping: ColumnMapping,
    feature_set: FeatureSet,
    *,
    engine: Engine | None = None,
    positive_outcomes: Sequence[str] = ("converted", "won"),
    label_window_days: int | None = None,
    cutoff: datetime | None = None,
    max_rejected_share: float | None = None,
) -> TrainingData:
    """Read a labelled file for training or evaluation.

    The leakage check runs first, before any row is read.

    Args:
        path: the leads file.
        mapping: its column mapping.
        feature_set: the features to build.
        engine: the store holding outcomes; needed when the mapping has no label column.
        positive_outcomes: outcomes that count as a conversion when labels come from the outcomes table.
        label_window_days: with outcomes and a time column: a lead counts as converted only when its
            positive outcome came within this many days of its arrival, and leads that arrived less than
            this many days before the cut-off are left out (their outcome is not known yet).
        cutoff: only outcomes known at this time label a lead, and only leads that arrived by then (by
            the mapping's time column) are used; default now (UTC).
        max_rejected_share: refuse when the mapping rejects more than this share of the rows (None: never).

    Raises:
        LeakageError: a feature reads a column the mapping declares ``post_decision``, ``label`` or ``id``.
        TrainingDataError: no label column and no outcomes store; label values not declared in the mapping;
            no labelled row; a single class; too many rows rejected.
    """
    stages = mapping.stages()
    feature_set.check_sources(stages)
    label_header = next((h for h, c in mapping.columns.items() if c.stage == "label"), None)
    if label_header is None and engine is None:
        raise TrainingDataError(
            f"mapping {mapping.name!r} declares no label column: declare one (stage: label, type: boolean) "
            "or import outcomes with `leadgate outcomes import` and give the project an outcomes mapping"
        )
    cutoff = (cutoff or datetime.now(UTC)).astimezone(UTC)
    time_field = _time_field(mapping)
    records: list[dict[str, Any]] = []
    positions: list[int] = []
    rejected = 0
    rows = 0
    reasons: Counter[str] = Counter()
    label_values: Counter[str] = Counter()
    label_path = f"columns.{label_header}"
    for chunk in read_csv_chunks(path, mapping):
        rows = chunk.last_row
        rejected += len(chunk.rejected)
        for r in chunk.rejected:
            for e in r.errors:
                reasons[_reason_kind(e.path, e.reason)] += 1
                if label_header is not None and e.path == label_path:
                    label_values[str(r.record.get(label_header))] += 1
        records.extend(r for _, r in chunk.records)
        positions.extend(n for n, _ in chunk.records)
    if label_values:
        seen = ", ".join(f"{v!r} ({n})" for v, n in label_values.most_common(8))
        raise TrainingDataError(
            f"label column {label_header!r} holds values the mapping does not declare as true or false: {seen}; "
            f"add them to the column's true_values / false_values"
        )
    if max_rejected_share is not None and rows and rejected / rows > max_rejected_share:
        top = "; ".join(f"{reason} ({n})" for reason, n in reasons.most_common(3))
        raise TrainingDataError(
            f"{path}: {rejected} of {rows} rows ({rejected / rows:.1%}) were rejected, more than the allowed "
            f"{max_rejected_share:.0%} (top reasons: {top}); fix the mapping (missing_values, types) or pass "
            "--allow-rejected to go on without them"
        )
    times: list[datetime | None] | None = None
    sequence: list[float | None] | None = None
    if time_field is not None:
        values = [r["attributes"].get(time_field) for r in records]
        if any(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            # A sequence number (a CRM's lead number) orders arrivals but is not a time: no cut-off filter.
            sequence = [None if v is None else float(v) for v in values]
        else:
            times = [_as_time(v) for v in values]
            keep = [i for i, t in enumerate(times) if t is None or t <= cutoff]
            if len(keep) < len(records):
                records = [records[i] for i in keep]
                positions = [positions[i] for i in keep]
                times = [times[i] for i in keep]
    if label_header is not None:
        labelled = [
            i
            for i, r in enumerate(records)
            if r["outcome"] is not None and r["outcome"]["converted"] is not None
        ]
        labels = np.array([1 if records[i]["outcome"]["converted"] else 0 for i in labelled], dtype=np.int64)
        label_source = f"column {label_header!r}"
    else:
        from leadgate.audit.outcomes import labels_at

        assert engine is not None
        with engine.connect() as conn:
            known = labels_at(conn, [r["lead_id"] for r in records], cutoff, positive_outcomes)
        labelled = list(range(len(records)))
        if label_window_days is not None and times is not None:
            # A lead is labelled only once it had the whole window to convert; it converted if it did so
            # within the window after it arrived. Younger leads are not yet mature: left out, not negative.
            window = timedelta(days=label_window_days)
            labelled = [i for i, t in enumerate(times) if t is not None and t + window <= cutoff]
            immature = len(records) - len(labelled)
            converted = [
                records[i]["lead_id"] in known and known[records[i]["lead_id"]] <= times[i] + window  # type: ignore[operator]
                for i in labelled
            ]
            labels = np.array(converted, dtype=np.int64)
            label_source = (
                f"outcomes {'/'.join(positive_outcomes)} within {label_window_days} days of arrival, known at "
                f"{cutoff:%Y-%m-%d %H:%M} UTC ({int(labels.sum())} leads; {immature} younger leads left out)"
            )
        else:
            labels = np.array([1 if r["lead_id"] in known else 0 for r in records], dtype=np.int64)
            label_source = (
                f"outcomes {'/'.join(positive_outcomes)} known at {cutoff:%Y-%m-%d %H:%M} UTC "
                f"({len(known)} leads)"
            )
    unlabelled = len(records) - len(labelled)
    if not labelled:
        raise TrainingDataError(f"{path}: no labelled rows ({rows} read, {rejected} rejected)")
    if labels.min() == labels.max():
        raise TrainingDataError(
            f"{path}: every labelled lead has the same outcome ({'converted' if labels[0] else 'not converted'}, "
            f"{len(labels)} leads, labels from {label_source}): nothing to learn"
        )
    chosen = [records[i] for i in labelled]
    order: np.ndarray | None = None
    order_source: str | None = None
    untimed = 0
    if times is not None:
        stamps = [times[i] for i in labelled]
        untimed = sum(t is None for t in stamps)
        if not untimed:
            order = np.array([int(t.timestamp() * 1e9) for t in stamps if t is not None], dtype=np.int64)
            order_source = f"time column {mapping.time_column!r}"
    elif sequence is not None:
        seq = [sequence[i] for i in labelled]
        untimed = sum(v is None for v in seq)
        if not untimed:
            order = np.array(seq, dtype=np.float64).astype(np.int64)
            order_source = f"sequence column {mapping.time_column!r} (arrival order)"
    elif getattr(mapping, "time_ordered", False):
        order = np.array([positions[i] for i in labelled], dtype=np.int64)
        order_source = "file order (declared time_ordered)"
    frame = feature_set.frame_from_records([r["attributes"] for r in chosen])
    return TrainingData(
        frame=frame,
        labels=labels,
        feature_set=feature_set,
        rejected=rejected,
        rows=rows,
        rejected_reasons=reasons.most_common(),
        unlabelled=unlabelled,
        order=order,
        order_source=order_source,
        order_is_time=times is not None and order is not None,
        untimed=untimed,
        label_source=label_source,
        lead_ids=[r["lead_id"] for r in chosen],
    )


def _time_field(mapping: ColumnMapping) -> str | None:
    header = getattr(mapping, "time_column", None)
    if header is None:
        return None
    return mapping.columns[header].field


def _as_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    text = str(value)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def train_and_register(
    engine: Engine,
    data: TrainingData,
    name: str = "propensity",
    *,
    seed: int = 42,
    folds: int = 5,
    candidates: Sequence[str] | None = None,
) -> RegisteredModel:
    """Choose the champion among the candidate models, fit it on ``data`` and register it as ``name@champion``.

    The candidates and the choice (lowest held-out log loss, forward in time when the data has a time
    order, else stratified k-fold) come from ``leadgate.scoring.selection.select_model``; the registry
    records every candidate's figures and the one-line reason.

    Args:
        engine: the store (registry).
        data: from ``load_training_data``.
        name: registry name.
        seed: seed of the splits and the models.
        folds: k of the held-out evaluation.
        candidates: names among ``selection.CANDIDATE_NAMES`` to choose from (default all): a team that
            needs LightGBM's single-lead latency can leave the blend out.

    Returns:
        The registered version; its metrics hold the training size, base rate, rejected rows, the
        selection (candidates, evaluation, reason) and the calibration choice.

    Raises:
        TrainingDataError: an unknown candidate name.
    """
    from leadgate.scoring.selection import CANDIDATE_NAMES, candidate_factories, select_model

    makers = candidate_factories(data.feature_set, seed)
    if candidates:
        unknown = sorted(set(candidates) - set(CANDIDATE_NAMES))
        if unknown:
            raise TrainingDataError(
                f"unknown candidate(s) {', '.join(unknown)}: choose among {', '.join(CANDIDATE_NAMES)}"
            )
        makers = {k: v for k, v in makers.items() if k in candidates}
    selection = select_model(
        data.frame, data.labels, data.feature_set, data.order, seed=seed, folds=folds, candidates=makers
    )
    estimator = selection.estimator
    metrics: dict[str, Any] = {
        "n_train": len(data.labels),
        "base_rate": float(data.labels.mean()),
        "rows_read": data.rows,
        "rejected_rows": data.rejected,
        "rejected_reasons": data.rejected_reasons[:10],
        "label_source": data.label_source,
        "order_source": data.order_source,
        "selection": selection.to_metrics(),
        "calibration": getattr(estimator, "calibration_", None),
        "calibration_report": getattr(estimator, "calibration_report_", None),
    }
    with write_lock(engine), engine.begin() as conn:
        return register_model(conn, name, estimator, data.feature_set, metrics)
