"""Single-feature leak audit: how well does one column alone predict the outcome, on held-out rows?

A column recorded after the outcome (a sales rep's tag, "last activity", a lead-quality grade) predicts the
label almost perfectly on its own, while a column known when the lead arrives rarely does. The audit
fits a one-feature model per column on the training folds of a stratified k-fold and scores the held-out
fold, so a column's figure is the out-of-fold ROC AUC a model using only that column would reach.

The one-feature model is a table of smoothed target rates (scikit-learn's ``TargetEncoder``, empirical
Bayes shrinkage towards the training base rate, Micci-Barreca 2001):

* categorical: one level per distinct value, a missing value is a level of its own, a level never seen
  in the training folds gets the training base rate;
* numeric: quantile bins fitted on the training folds (``KBinsDiscretizer``, up to ``NUMERIC_BINS`` bins,
  no monotonicity imposed), a missing value is a bin of its own; each bin gets its smoothed target rate.

Because the encoder is fitted on target rates, its held-out AUC is 0.5 or more whenever the column
carries signal that generalises; a column whose levels are mostly unique (ids, free text) gets about 0.5,
since held-out rows fall on unseen levels.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import KBinsDiscretizer, TargetEncoder

FeatureKind = Literal["numeric", "categorical"]

LEAK_AUC_THRESHOLD: float = 0.85
"""Held-out single-feature AUC at or above which a column is flagged as a likely leak.

Source: measured with ``single_feature_auc`` (5 folds, seed 42) on X Education
(``examples/xeducation/Leads.csv``, label ``Converted``, base rate 38.5%, missing = ``""``/``Select``;
seeds 0-9 move each figure by at most 0.006). Columns recorded after sales contact: Tags 0.919,
Lead Quality 0.795, Last Activity 0.723, Last Notable Activity 0.699, Lead Profile 0.667, Asymmetrique
Activity Score 0.628, Asymmetrique Profile Score 0.589, Asymmetrique Profile Index 0.565, Asymmetrique
Activity Index 0.549. Pre-decision columns: Total Time Spent on Website 0.747 (the strongest),
What is your current occupation 0.700, What matters most 0.650, Lead Source 0.639, Lead Origin 0.602,
Specialization 0.587, TotalVisits 0.543, Lead Number 0.538, the rest 0.50-0.54; Prospect ID (an id)
0.500. The whole leak-free model reaches 0.877 k-fold (docs/leakage.md), so one column at or above 0.85
does about as well as every legitimate column together: the signature of a value written after the
outcome. 0.85 flags Tags with a margin of 0.07 and sits 0.10 above the strongest legitimate column (and
0.25 above Lead Origin). It cannot flag every late column (Last Activity looks like an ordinary strong
feature), so the audit prompts a human decision; it proves nothing either way.
"""

NUMERIC_BINS = 10
"""Quantile bins of a numeric column's one-feature model (deciles: enough to show a non-monotone shape,
coarse enough that each bin holds about 10% of the training rows)."""

_MISSING = "\x00missing"


@dataclass(frozen=True)
class FeatureAudit:
    """One column's single-feature audit.

    Attributes:
        name: the column (feature) name.
        auc: out-of-fold ROC AUC of the one-feature model, in [0, 1]; NaN when it cannot be measured.
        flagged: ``auc >= LEAK_AUC_THRESHOLD`` (or the threshold passed to ``leak_audit``).
    """

    name: str
    auc: float
    flagged: bool


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value == ""
    if isinstance(value, float):
        return math.isnan(value)
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _levels(values: Sequence[Any]) -> NDArray[np.object_]:
    """Each value as a string level; missing values become one level of their own."""
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        if _is_missing(v):
            out[i] = _MISSING
        elif isinstance(v, bool | np.bool_):
            out[i] = "true" if v else "false"
        else:
            out[i] = str(v)
    return out


def _numbers(values: Sequence[Any]) -> NDArray[np.float64]:
    """Each value as a float; missing or non-numeric values become NaN."""
    out = np.full(len(values), np.nan, dtype=np.float64)
    for i, v in enumerate(values):
        if _is_missing(v):
            continue
        try:
            number = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out[i] = number
    return out


def _bin_levels(train: NDArray[np.float64], test: NDArray[np.float64]) -> tuple[NDArray[Any], NDArray[Any]]:
    """Quantile-bin labels of ``train`` and ``test`` from bins fitted on ``train`` (NaN: its own level)."""
    seen = train[~np.isnan(train)]
    train_out = np.full(len(train), _MISSING, dtype=object)
    test_out = np.full(len(test), _MISSING, dtype=object)
    distinct = np.unique(seen)
    if len(distinct) <= NUMERIC_BINS:
        # Few distinct values (counts, flags): each value is its own level; a test value never seen in
        # training falls into the level of the next larger training value (or the largest).
        for out, arr in ((train_out, train), (test_out, test)):
            ok = ~np.isnan(arr)
            if len(distinct):
                idx = np.clip(np.searchsorted(distinct, arr[ok]), 0, len(distinct) - 1)
                out[ok] = [f"v{i}" for i in idx]
        return train_out, test_out
    binner = KBinsDiscretizer(n_bins=NUMERIC_BINS, encode="ordinal", strategy="quantile")
    with warnings.catch_warnings():
        # Heavy ties merge quantile edges; scikit-learn warns that it drops the empty bins, as intended.
        warnings.filterwarnings("ignore", message=".*[Bb]ins whose width are too small.*")
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        binner.fit(seen.reshape(-1, 1))
    for out, arr in ((train_out, train), (test_out, test)):
        ok = ~np.isnan(arr)
        if ok.any():
            out[ok] = [f"b{int(b)}" for b in binner.transform(arr[ok].reshape(-1, 1))[:, 0]]
    return train_out, test_out


def single_feature_auc(
    values: Sequence[Any],
    y: NDArray[np.int64],
    kind: FeatureKind,
    n_splits: int = 5,
    seed: int = 42,
) -> float:
    """Out-of-fold ROC AUC of a model that sees only this one column.

    The rows are split by ``StratifiedKFold(n_splits, shuffle=True, random_state=seed)``; on each split the
    one-feature model (module docstring) is fitted on the training folds and predicts the held-out fold;
    the held-out predictions of all folds, each minus its training folds' base rate, are pooled and scored
    once with ``roc_auc_score``.

    Args:
        values: the column, one value per row (n,); ``None``, ``""`` and NaN are missing.
        y: outcomes (n,), 0/1.
        kind: ``numeric`` (quantile bins) or ``categorical`` (one level per value).
        n_splits: folds, at least 2.
        seed: shuffling seed of the folds.

    Returns:
        The held-out AUC in [0, 1]: 0.5 is no signal; a column that is constant (or always missing) gives
        exactly 0.5.

    Raises:
        ValueError: lengths differ, ``y`` is not 0/1, ``y`` has a single class, or a class has fewer than
            ``n_splits`` rows.
    """
    labels = np.asarray(y)
    if labels.dtype == bool:
        labels = labels.astype(np.int64)
    if labels.ndim != 1 or len(labels) != len(values):
        raise ValueError(f"y must be 1-D with {len(values)} values (one per row), got shape {labels.shape}")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("y must contain only 0/1 (or booleans)")
    labels = labels.astype(np.int64)
    counts = np.bincount(labels, minlength=2)
    if counts.min() == 0:
        raise ValueError("y has a single class: both outcomes are needed to measure an AUC")
    if counts.min() < n_splits:
        raise ValueError(
            f"the rarer outcome has {counts.min()} row(s), fewer than the {n_splits} folds of the audit"
        )
    if kind not in ("numeric", "categorical"):
        raise ValueError(f"kind must be 'numeric' or 'categorical', got {kind!r}")
    numbers = _numbers(values) if kind == "numeric" else None
    levels = _levels(values) if kind == "categorical" else None
    oof = np.empty(len(labels), dtype=np.float64)
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for train, test in folds.split(np.zeros(len(labels)), labels):
        if numbers is not None:
            x_train, x_test = _bin_levels(numbers[train], numbers[test])
        else:
            assert levels is not None
            x_train, x_test = levels[train], levels[test]
        base = labels[train].mean()
        if len(set(x_train)) < 2:
            oof[test] = 0.0
            continue
        encoder = TargetEncoder(target_type="binary", smooth="auto")
        # fit, then transform: the held-out rows are encoded with the training folds' rates only
        # (fit_transform would cross-fit within the training folds, which is not what is measured).
        encoder.fit(x_train.reshape(-1, 1), labels[train])
        # Centred on the training folds' base rate, so that the small base-rate differences between
        # folds do not rank the pooled rows: an unseen level or a constant column scores 0 everywhere.
        oof[test] = encoder.transform(x_test.reshape(-1, 1))[:, 0] - base
    return float(roc_auc_score(labels, oof))


def leak_audit(
    frame: pd.DataFrame,
    y: NDArray[np.int64],
    kinds: Mapping[str, FeatureKind],
    threshold: float = LEAK_AUC_THRESHOLD,
    n_splits: int = 5,
    seed: int = 42,
) -> list[FeatureAudit]:
    """``single_feature_auc`` of every column in ``kinds``, highest AUC first.

    Args:
        frame: one row per lead (n rows); must hold every column named in ``kinds``.
        y: outcomes (n,), 0/1.
        kinds: column name -> ``numeric`` or ``categorical``.
        threshold: AUC at or above which a column is flagged (default ``LEAK_AUC_THRESHOLD``).
        n_splits: folds of each measurement.
        seed: fold shuffling seed (the same folds for every column).

    Returns:
        One ``FeatureAudit`` per column of ``kinds``, sorted by AUC, highest first (ties keep the order
        of ``kinds``).

    Raises:
        ValueError: a column of ``kinds`` is not in ``frame`` (all of them named), or as
            ``single_feature_auc``.
    """
    absent = [name for name in kinds if name not in frame.columns]
    if absent:
        raise ValueError(f"leak audit: frame lacks column(s): {', '.join(absent)}")
    audits = []
    for name, kind in kinds.items():
        auc = single_feature_auc(frame[name].tolist(), y, kind, n_splits=n_splits, seed=seed)
        audits.append(FeatureAudit(name=name, auc=auc, flagged=auc >= threshold))
    return sorted(audits, key=lambda a: -a.auc)
