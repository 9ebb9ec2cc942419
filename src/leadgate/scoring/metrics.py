"""Evaluation metrics for binary conversion scores, written out so their formulas are visible.

Every function takes ``y_true`` (shape (n,), values 0/1) and ``y_score`` (shape (n,), a probability in
[0, 1] or, for the ranking metrics, any real score) and returns a Python ``float``. Inputs are checked
by ``_check``: different lengths, an empty input, labels other than 0/1 or non-finite scores raise
``ValueError``. The ranking metrics (``roc_auc``, ``average_precision``) also raise ``ValueError`` when
only one class is present, because they are undefined then.

The tests compare each function with its scikit-learn equivalent and with small hand-computed cases.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import rankdata

__all__ = [
    "METRIC_NAMES",
    "N_BINS",
    "TOP_FRACTION",
    "average_precision",
    "brier_score",
    "expected_calibration_error",
    "lift_at",
    "log_loss",
    "precision_at",
    "reliability_curve",
    "roc_auc",
    "summary",
]

#: Probabilities are clipped to [EPS, 1 - EPS] in ``log_loss`` (the float64 machine epsilon, as scikit-learn).
EPS = float(np.finfo(np.float64).eps)
#: Share of leads in the top group of ``lift_at_10`` and ``precision_at_10`` in ``summary``.
TOP_FRACTION = 0.1
#: Equal-width bins of ``ece`` in ``summary`` (the 10-bin form of Guo et al. 2017).
N_BINS = 10
#: The keys of ``summary``, in report order.
METRIC_NAMES = ("roc_auc", "pr_auc", "brier", "log_loss", "ece", "lift_at_10", "precision_at_10")


def _check(y_true: ArrayLike, y_score: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    y = np.asarray(y_true)
    s = np.asarray(y_score, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError(f"y_true and y_score must be 1-D, got shapes {y.shape} and {s.shape}")
    if len(y) != len(s):
        raise ValueError(f"y_true has {len(y)} values but y_score has {len(s)}")
    if len(y) == 0:
        raise ValueError("empty input")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must contain only 0 and 1")
    if not np.isfinite(s).all():
        raise ValueError("y_score must be finite")
    return y.astype(np.int64), s


def _check_both_classes(y: NDArray[np.int64]) -> None:
    if y.min() == y.max():
        raise ValueError("only one class present in y_true: the metric is undefined")


def roc_auc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the ROC curve, via the Mann-Whitney U statistic.

    ``AUC = (R+ - n+ (n+ + 1) / 2) / (n+ n-)`` where ``R+`` is the sum of the mid-ranks of the positives
    (ties get the average rank, so a tied positive/negative pair counts 1/2). Source: Hanley & McNeil
    (1982), "The meaning and use of the area under a ROC curve", Radiology 143(1).

    Args:
        y_true: labels (n,), 0/1.
        y_score: scores (n,), any real numbers; higher means more likely positive.

    Returns:
        AUC in [0, 1].

    Raises:
        ValueError: bad input (see module docstring) or a single class.

    """
    y, s = _check(y_true, y_score)
    _check_both_classes(y)
    ranks = rankdata(s)  # average ranks for ties
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    u = float(ranks[y == 1].sum()) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def average_precision(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Average precision (area under the precision-recall step curve, no interpolation).

    ``AP = sum_k (R_k - R_{k-1}) P_k`` over the distinct score thresholds in decreasing order, where
    ``P_k`` and ``R_k`` are precision and recall when every lead scoring at least the k-th threshold is
    called positive. This is the definition scikit-learn's ``average_precision_score`` uses (Zhu 2004,
    "Recall, precision and average precision"; Manning, Raghavan & Schütze 2008, ch. 8.4).

    Args:
        y_true: labels (n,), 0/1.
        y_score: scores (n,); higher means more likely positive.

    Returns:
        AP in [0, 1]; equals the base rate for a constant score.

    Raises:
        ValueError: bad input or a single class.

    """
    y, s = _check(y_true, y_score)
    _check_both_classes(y)
    order = np.argsort(-s, kind="mergesort")
    s_sorted = s[order]
    y_sorted = y[order]
    # last index of each run of equal scores: thresholds are the distinct scores
    distinct = np.r_[np.nonzero(np.diff(s_sorted))[0], len(s_sorted) - 1]
    tp = np.cumsum(y_sorted)[distinct].astype(np.float64)
    predicted = (distinct + 1).astype(np.float64)
    precision = tp / predicted
    recall = tp / tp[-1]
    recall_prev = np.r_[0.0, recall[:-1]]
    return float(np.sum((recall - recall_prev) * precision))


def brier_score(y_true: ArrayLike, y_prob: ArrayLike) -> float:
    """Brier score: mean squared difference between the probability and the outcome.

    ``BS = (1/n) sum_i (p_i - y_i)^2``. Source: Brier (1950), "Verification of forecasts expressed in
    terms of probability", Monthly Weather Review 78(1). Lower is better; 0.25 is a constant 0.5.

    Args:
        y_true: labels (n,), 0/1.
        y_prob: probabilities of class 1 (n,), in [0, 1].

    Raises:
        ValueError: bad input, or a probability outside [0, 1].

    """
    y, p = _check(y_true, y_prob)
    _check_probability(p)
    return float(np.mean((p - y) ** 2))


def log_loss(y_true: ArrayLike, y_prob: ArrayLike) -> float:
    """Mean negative log-likelihood (cross-entropy) of Bernoulli outcomes, natural log.

    ``LL = -(1/n) sum_i [y_i ln p_i + (1 - y_i) ln(1 - p_i)]`` with ``p`` clipped to
    ``[EPS, 1 - EPS]`` (float64 machine epsilon) so a confident miss costs about 36 nats instead of
    infinity, as scikit-learn's ``log_loss`` does. Source: Good (1952), "Rational decisions", JRSS B 14(1).

    Args:
        y_true: labels (n,), 0/1.
        y_prob: probabilities of class 1 (n,), in [0, 1].

    Raises:
        ValueError: bad input, or a probability outside [0, 1].

    """
    y, p = _check(y_true, y_prob)
    _check_probability(p)
    p = np.clip(p, EPS, 1.0 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def reliability_curve(
    y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 10
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Per-bin mean probability, observed rate and count over equal-width bins of [0, 1].

    Bin ``b`` (0-based) holds probabilities in ``[b/B, (b+1)/B)``; the last bin also holds 1.0.

    Args:
        y_true: labels (n,), 0/1.
        y_prob: probabilities (n,), in [0, 1].
        n_bins: number of equal-width bins B (>= 1).

    Returns:
        ``(mean_prob, observed_rate, count)``, each of shape (B,). Empty bins have count 0 and NaN
        mean and rate.

    Raises:
        ValueError: bad input, a probability outside [0, 1] or ``n_bins < 1``.

    """
    y, p = _check(y_true, y_prob)
    _check_probability(p)
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    idx = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    sum_p = np.bincount(idx, weights=p, minlength=n_bins)
    sum_y = np.bincount(idx, weights=y.astype(np.float64), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.where(count > 0, sum_p / np.maximum(count, 1), np.nan)
        rate = np.where(count > 0, sum_y / np.maximum(count, 1), np.nan)
    return mean_p, rate, count.astype(np.int64)


def expected_calibration_error(y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 10) -> float:
    """Compute the expected calibration error over equal-width probability bins, weighted by bin count.

    ``ECE = sum_b (|B_b| / n) * |mean(y in B_b) - mean(p in B_b)|`` with B equal-width bins of
    [0, 1] (see ``reliability_curve`` for the bin edges); empty bins contribute nothing. Source:
    Naeini, Cooper & Hauskrecht (2015), "Obtaining well calibrated probabilities using Bayesian
    binning", AAAI; the 10-bin equal-width form follows Guo et al. (2017), "On calibration of modern
    neural networks", ICML.

    Args:
        y_true: labels (n,), 0/1.
        y_prob: probabilities of class 1 (n,), in [0, 1].
        n_bins: number of equal-width bins (default 10).

    Returns:
        ECE in [0, 1]; 0 is perfectly calibrated at this binning.

    Raises:
        ValueError: bad input, a probability outside [0, 1] or ``n_bins < 1``.

    """
    mean_p, rate, count = reliability_curve(y_true, y_prob, n_bins)
    filled = count > 0
    n = int(count.sum())
    return float(np.sum(count[filled] / n * np.abs(rate[filled] - mean_p[filled])))


def _top_k(n: int, fraction: float) -> int:
    if not 0.0 < fraction <= 1.0:
        raise ValueError("fraction must be in (0, 1]")
    return max(1, math.ceil(fraction * n))


def precision_at(y_true: ArrayLike, y_score: ArrayLike, fraction: float = 0.1) -> float:
    """Conversion rate among the top ``fraction`` of leads by score.

    The top ``k = ceil(fraction * n)`` leads are taken after a stable sort by decreasing score, so ties
    at the cut keep input order (deterministic).

    Args:
        y_true: labels (n,), 0/1.
        y_score: scores (n,); higher means more likely positive.
        fraction: share of leads kept, in (0, 1] (0.1 = top 10%).

    Returns:
        Precision in [0, 1].

    Raises:
        ValueError: bad input or ``fraction`` outside (0, 1].

    """
    y, s = _check(y_true, y_score)
    k = _top_k(len(y), fraction)
    order = np.argsort(-s, kind="mergesort")
    return float(y[order[:k]].mean())


def lift_at(y_true: ArrayLike, y_score: ArrayLike, fraction: float = 0.1) -> float:
    """Lift in the top ``fraction``: ``precision_at(fraction) / base_rate``.

    A lift of 2 means the top 10% converts twice as often as leads at large; 1 is a random ordering.
    Standard cumulative-lift definition (e.g. Ling & Li 1998, "Data mining for direct marketing", KDD).

    Args:
        y_true: labels (n,), 0/1, with at least one positive.
        y_score: scores (n,).
        fraction: share of leads kept, in (0, 1].

    Returns:
        Lift, >= 0.

    Raises:
        ValueError: bad input, ``fraction`` outside (0, 1], or no positive at all (base rate 0).

    """
    y, s = _check(y_true, y_score)
    base = float(y.mean())
    if base == 0.0:
        raise ValueError("no positive in y_true: lift is undefined")
    return precision_at(y, s, fraction) / base


def _check_probability(p: NDArray[np.float64]) -> None:
    if p.min() < 0.0 or p.max() > 1.0:
        raise ValueError("probabilities must be in [0, 1]")


def summary(y_true: ArrayLike, y_prob: ArrayLike) -> dict[str, float]:
    """Every metric of the evaluation report for probabilities ``y_prob`` (n,) of outcomes ``y_true`` (n,).

    Returns:
        ``roc_auc``, ``pr_auc`` (average precision), ``brier``, ``log_loss``, ``ece`` (``N_BINS``
        equal-width bins, count-weighted), ``lift_at_10`` and ``precision_at_10`` (top ``TOP_FRACTION``
        by probability), in ``METRIC_NAMES`` order.

    Raises:
        ValueError: bad input, a probability outside [0, 1], or a single class.

    """
    y, p = _check(y_true, y_prob)
    return {
        "roc_auc": roc_auc(y, p),
        "pr_auc": average_precision(y, p),
        "brier": brier_score(y, p),
        "log_loss": log_loss(y, p),
        "ece": expected_calibration_error(y, p, N_BINS),
        "lift_at_10": lift_at(y, p, TOP_FRACTION),
        "precision_at_10": precision_at(y, p, TOP_FRACTION),
    }
