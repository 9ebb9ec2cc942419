"""Held-out splits (stratified k-fold and forward in time) and the choice of the champion model.

Two ways of holding leads out, used by ``select_model`` here and by ``leadgate.scoring.evaluate``:

* ``kfold_splits``: ``StratifiedKFold(k, shuffle=True, random_state=seed)``; every lead is tested once by
  a model trained on leads from every period, including later ones.
* ``forward_splits``: an expanding window over a time order. Rows are sorted by ``order`` and cut into
  ``k + 1`` contiguous blocks; step ``i = 1..k`` trains on blocks ``0..i-1`` and tests on block ``i``, so a
  model never sees a lead that arrived after the leads it is tested on, as in deployment. The test
  predictions of the k steps are pooled (block 0 is never tested). This is the scheme of scikit-learn's
  ``TimeSeriesSplit`` (expanding training window, ``k`` test blocks of about ``n / (k + 1)`` rows) and of
  "time series cross-validation" in Hyndman & Athanasopoulos, "Forecasting: Principles and Practice"
  (3rd ed.), with each cut moved back to the start of a run of equal ``order`` values so leads that
  arrived at the same moment are never split between training and test.

``select_model`` fits every candidate on the same splits, keeps the one with the lowest pooled held-out
log loss (forward when a time order exists, else k-fold) and refits it on all rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.model_selection import StratifiedKFold

from leadgate.errors import LeadgateError
from leadgate.scoring import metrics
from leadgate.scoring._data import check_labels, require_frame
from leadgate.scoring.blend import BlendScorer
from leadgate.scoring.logistic import LogisticScorer
from leadgate.scoring.propensity import PropensityScorer

if TYPE_CHECKING:
    from leadgate.features import FeatureSet

__all__ = [
    "CANDIDATE_NAMES",
    "SELECTION_METRIC",
    "Evaluation",
    "EvaluationError",
    "HeldOut",
    "Selection",
    "Split",
    "candidate_factories",
    "choose_champion",
    "forward_splits",
    "held_out",
    "held_out_all",
    "kfold_splits",
    "select_model",
]

#: Candidate names, in the order they are fitted and listed; a tie in log loss goes to the earlier one.
CANDIDATE_NAMES = ("lightgbm", "logistic", "blend")
#: The criterion: held-out log loss (a strictly proper scoring rule, so it rewards both ranking and
#: calibration; Gneiting & Raftery 2007, "Strictly proper scoring rules, prediction, and estimation",
#: JASA 102(477)). The deciding threshold of the policy is a probability, so calibration matters as much
#: as ranking: AUC alone would not do.
SELECTION_METRIC = "log_loss"

Evaluation = Literal["forward", "kfold"]
#: (train row indices, test row indices), both sorted ascending.
Split = tuple[NDArray[np.intp], NDArray[np.intp]]


class EvaluationError(LeadgateError, ValueError):
    """The data cannot be evaluated as asked (too few leads of a class or too few distinct times)."""


# ---------------------------------------------------------------------------------------------- splits


def kfold_splits(y: ArrayLike, n_splits: int, seed: int) -> list[Split]:
    """Stratified k-fold splits of ``y`` (n,): ``StratifiedKFold(n_splits, shuffle=True, random_state=seed)``.

    Raises:
        EvaluationError: a class has fewer than ``n_splits`` leads, or ``n_splits < 2``.

    """
    y_arr = np.asarray(y)
    if n_splits < 2:
        raise EvaluationError(f"k-fold needs at least 2 folds, got {n_splits}")
    rarest = int(np.bincount(y_arr.astype(np.int64), minlength=2).min())
    if rarest < n_splits:
        raise EvaluationError(f"the rarer outcome has {rarest} lead(s), fewer than the {n_splits} folds")
    skf = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return [(np.sort(tr), np.sort(te)) for tr, te in skf.split(np.zeros(len(y_arr)), y_arr)]


def forward_splits(order: ArrayLike, n_splits: int) -> list[Split]:
    """Expanding-window forward-in-time splits over ``order`` (module docstring).

    Rows are sorted by ``order`` (stable: equal keys keep row order) and cut into ``n_splits + 1``
    contiguous blocks of about ``n / (n_splits + 1)`` rows; each cut is moved back to the first row of its
    run of equal keys. Step ``i`` (1..n_splits) trains on blocks ``0..i-1`` and tests on block ``i``.

    Args:
        order: sort key per row (n,), integers (epoch nanoseconds of the arrival time, or the row index of
            a file in arrival order).
        n_splits: number of forward steps k (test blocks), >= 1.

    Returns:
        k ``(train, test)`` pairs of row indices (each sorted ascending). Every test row's key is strictly
        greater than every key of its training rows; the test blocks are disjoint and together cover
        every row except block 0.

    Raises:
        EvaluationError: ``order`` is not 1-D integers, ``n_splits < 1``, or there are too few distinct
            keys for ``n_splits + 1`` non-empty blocks.

    """
    keys = np.asarray(order)
    if keys.ndim != 1 or not np.issubdtype(keys.dtype, np.integer):
        raise EvaluationError(
            f"order must be 1-D integers (one sort key per lead), got {keys.dtype} {keys.shape}"
        )
    if n_splits < 1:
        raise EvaluationError(f"forward evaluation needs at least 1 step, got {n_splits}")
    n = len(keys)
    by_time = np.argsort(keys, kind="stable")
    sorted_keys = keys[by_time]
    cuts = [round(i * n / (n_splits + 1)) for i in range(1, n_splits + 1)]
    # move each cut back to the first row holding the same key: simultaneous leads stay together
    starts = [int(np.searchsorted(sorted_keys, sorted_keys[c], side="left")) if c < n else n for c in cuts]
    bounds = [0, *starts, n]
    if any(b1 <= b0 for b0, b1 in pairwise(bounds)):
        distinct = len(np.unique(keys))
        raise EvaluationError(
            f"{n} leads with {distinct} distinct arrival times cannot be cut into {n_splits + 1} time blocks; "
            "use fewer folds"
        )
    return [
        (np.sort(by_time[: bounds[i]]), np.sort(by_time[bounds[i] : bounds[i + 1]]))
        for i in range(1, n_splits + 1)
    ]


#: Fewest leads of the rarer outcome a forward step's training part must hold to be evaluated (25). The
#: candidates calibrate on 5 internal stratified folds (``cv=5``); 25 gives each fold 5 leads of each
#: outcome, below which scikit-learn's StratifiedKFold warns and the calibrators fit noise. A thinner step
#: (Olist's first months: 2 won deals out of 1,600 leads) is dropped and its block joins the training
#: part of the next step.
MIN_TRAIN_PER_CLASS = 25


def drop_thin_steps(
    splits: Sequence[Split], y: NDArray[np.int64], minimum: int = MIN_TRAIN_PER_CLASS
) -> list[Split]:
    """The forward steps whose training part holds at least ``minimum`` leads of each outcome.

    Args:
        splits: ``forward_splits`` output (training parts grow with the step).
        y: outcomes (n,), 0/1.
        minimum: see ``MIN_TRAIN_PER_CLASS``.

    Returns:
        The usable steps, in order (later steps are kept whole; only leading thin steps are dropped).

    Raises:
        EvaluationError: no step is usable.
    """
    kept = [
        (train, test)
        for train, test in splits
        if min(int(y[train].sum()), int(len(train) - y[train].sum())) >= minimum
    ]
    if not kept:
        raise EvaluationError(
            f"no forward step trains on {minimum} or more leads of each outcome "
            f"({int(y.sum())} converted of {len(y)}): too few outcomes to evaluate forward in time"
        )
    return kept


# --------------------------------------------------------------------------------------- held-out runs


@dataclass
class HeldOut:
    """Pooled held-out predictions of one scorer over one set of splits.

    Attributes:
        proba: P(conversion) (n,), NaN for rows no split tests (block 0 of a forward evaluation).
        tested: (n,) True where the row was tested.
        out_of_range: (n,) True where the tested row had a value outside the support of the model that
            scored it (``out_of_range`` of the scorer); None when the scorer cannot tell.
        confidence: (n,) the scorer's ``confidence`` of tested rows (NaN elsewhere); None when it has none.
        models: the fitted scorers, one per split (kept only when asked).
        seconds: wall time of fitting and predicting.

    """

    proba: NDArray[np.float64]
    tested: NDArray[np.bool_]
    out_of_range: NDArray[np.bool_] | None
    confidence: NDArray[np.float64] | None
    models: list[Any] = field(default_factory=list)
    seconds: float = 0.0

    def metrics(self, y: NDArray[np.int64]) -> dict[str, float]:
        """``metrics.summary`` of the tested rows."""
        return metrics.summary(y[self.tested], self.proba[self.tested])

    def out_of_range_share(self) -> float | None:
        """Share of tested rows outside the training support (None when unknown)."""
        if self.out_of_range is None:
            return None
        return float(self.out_of_range[self.tested].mean())


def _out_of_range(model: Any, X: pd.DataFrame) -> NDArray[np.bool_] | None:
    """``model.out_of_range(X)`` (n,), else ``unsupported(X).any(axis=1)``, else None."""
    if callable(getattr(model, "out_of_range", None)):
        return np.asarray(model.out_of_range(X), dtype=bool)
    if callable(getattr(model, "unsupported", None)):
        return np.asarray(np.asarray(model.unsupported(X), dtype=bool).any(axis=1), dtype=bool)
    return None


#: Attributes of a fitted ``BlendScorer`` holding its members, fitted on the blend's own training rows.
_MEMBER_ATTRIBUTES = ("lightgbm_", "logistic_")


def _fitted_member(fresh: Any, fitted: Sequence[Any]) -> Any | None:
    """A member of an estimator in ``fitted`` that is ``fresh`` once fitted on the same rows, else None.

    ``BlendScorer.fit`` fits a ``PropensityScorer`` and a ``LogisticScorer`` on its training rows with
    ``fit`` itself; when a member has the same class and the same parameters as a candidate, fitting the
    candidate again on the same rows would give the same model (both are deterministic for a seed), so
    the member is used. This halves the cost of evaluating the default candidates.
    """
    params = fresh.get_params(deep=False) if hasattr(fresh, "get_params") else None
    if params is None:
        return None
    for est in fitted:
        for attribute in _MEMBER_ATTRIBUTES:
            member = getattr(est, attribute, None)
            if (
                member is not None
                and type(member) is type(fresh)
                and _equal(member.get_params(deep=False), params)
            ):
                return member
    return None


def _equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Parameter dicts equal (False when a value cannot be compared, such as an array)."""
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def held_out_all(
    builders: Mapping[str, Callable[[], Any]],
    X: pd.DataFrame,
    y: NDArray[np.int64],
    splits: Sequence[Split],
    keep_models: Collection[str] = (),
) -> dict[str, HeldOut]:
    """Fit every ``builders[name]()`` on each split's training rows and predict its test rows.

    In each split the blends (``BlendScorer``) are fitted first; a candidate equal to one of their members
    (``_fitted_member``) reuses the member instead of being fitted again.

    Args:
        builders: name -> maker of a fresh, unfitted scorer (``fit``, ``predict_proba``; ``out_of_range``
            / ``unsupported`` and ``confidence`` are used when present).
        X: leads (n, features).
        y: outcomes (n,), 0/1.
        splits: ``(train, test)`` row indices.
        keep_models: names whose fitted scorers are kept in ``HeldOut.models``.

    Returns:
        name -> ``HeldOut``, in the order of ``builders``; ``seconds`` is the time of fitting (0 for a
        reused member) and predicting.

    Raises:
        EvaluationError: a training part holds a single class.

    """
    n = len(y)
    proba = {name: np.full(n, np.nan) for name in builders}
    tested = np.zeros(n, dtype=bool)
    oor: dict[str, NDArray[np.bool_] | None] = {name: np.zeros(n, dtype=bool) for name in builders}
    conf: dict[str, NDArray[np.float64] | None] = {name: np.full(n, np.nan) for name in builders}
    models: dict[str, list[Any]] = {name: [] for name in builders}
    seconds = dict.fromkeys(builders, 0.0)
    for step, (train, test) in enumerate(splits):
        if y[train].min() == y[train].max():
            raise EvaluationError(
                f"split {step + 1}: the {len(train)} training leads hold a single outcome; use fewer folds"
            )
        fresh = {name: build() for name, build in builders.items()}
        first = [k for k, est in fresh.items() if isinstance(est, BlendScorer)]
        fitted: dict[str, Any] = {}
        X_train, X_test = X.iloc[train], X.iloc[test]
        tested[test] = True
        for name in [*first, *(k for k in builders if k not in first)]:
            t0 = time.perf_counter()
            est = _fitted_member(fresh[name], list(fitted.values()))
            fitted[name] = est = fresh[name].fit(X_train, y[train]) if est is None else est
            proba[name][test] = np.asarray(est.predict_proba(X_test), dtype=np.float64)[:, 1]
            mask = _out_of_range(est, X_test)
            column = oor[name]
            if mask is None:
                oor[name] = None
            elif column is not None:
                column[test] = mask
            values = conf[name]
            if not callable(getattr(est, "confidence", None)):
                conf[name] = None
            elif values is not None:
                values[test] = np.asarray(est.confidence(X_test), dtype=np.float64)
            if name in keep_models:
                models[name].append(est)
            seconds[name] += time.perf_counter() - t0
    return {
        name: HeldOut(proba[name], tested.copy(), oor[name], conf[name], models[name], seconds[name])
        for name in builders
    }


def held_out(
    build: Callable[[], Any],
    X: pd.DataFrame,
    y: NDArray[np.int64],
    splits: Sequence[Split],
    keep_models: bool = False,
) -> HeldOut:
    """``held_out_all`` of one scorer: fit ``build()`` on each split's training rows, predict its test rows.

    Raises:
        EvaluationError: a training part holds a single class.

    """
    return held_out_all({"scorer": build}, X, y, splits, ("scorer",) if keep_models else ())["scorer"]


# --------------------------------------------------------------------------------------- candidates


def candidate_factories(feature_set: FeatureSet, seed: int = 42) -> dict[str, Callable[[], Any]]:
    """The model candidates over ``feature_set``: name -> builder of a fresh, unfitted scorer.

    * ``lightgbm``: ``PropensityScorer`` (calibrated LightGBM, its default hyperparameters);
    * ``logistic``: ``LogisticScorer`` (regularized logistic regression with categorical encoding);
    * ``blend``: ``BlendScorer`` of the two.

    Every candidate gets ``random_state=seed``.
    """
    fs = feature_set
    return {
        "lightgbm": lambda: PropensityScorer.from_feature_set(fs, random_state=seed),
        "logistic": lambda: LogisticScorer.from_feature_set(fs, random_state=seed),
        "blend": lambda: BlendScorer.from_feature_set(fs, random_state=seed),
    }


def choose_champion(figures: Mapping[str, Mapping[str, float]], evaluation: Evaluation) -> tuple[str, str]:
    """The candidate with the lowest held-out ``SELECTION_METRIC`` and a one-line reason.

    Args:
        figures: candidate name -> metrics (at least ``log_loss``), in listing order (ties go to the first).
        evaluation: which evaluation the figures come from (``forward`` or ``kfold``), for the reason.

    Returns:
        ``(name, reason)``, e.g. ``("logistic", "lowest forward-in-time held-out log loss: logistic 0.2851
        (lightgbm 0.2990, blend 0.2874)")``.

    Raises:
        ValueError: no candidate.

    """
    if not figures:
        raise ValueError("no candidate to choose from")
    names = list(figures)
    best = min(names, key=lambda k: (figures[k][SELECTION_METRIC], names.index(k)))
    label = "forward-in-time" if evaluation == "forward" else "stratified k-fold"
    others = ", ".join(f"{k} {figures[k][SELECTION_METRIC]:.4f}" for k in names if k != best)
    reason = f"lowest {label} held-out log loss: {best} {figures[best][SELECTION_METRIC]:.4f}"
    return best, reason + (f" ({others})" if others else "")


@dataclass(frozen=True)
class Selection:
    """The outcome of ``select_model``.

    Attributes:
        estimator: the champion, refitted on all rows.
        name: the champion's candidate name (``lightgbm``, ``logistic`` or ``blend``).
        candidates: candidate name -> held-out metrics (``metrics.METRIC_NAMES``) of the deciding evaluation.
        evaluation: ``forward`` (a time order was given) or ``kfold``.
        reason: one line naming the criterion and every candidate's figure.
        folds: k of the evaluation.
        seed: seed of the folds and of the candidates.
        out_of_range_share: candidate name -> share of held-out leads outside the training support
            (None when the scorer cannot tell).

    """

    estimator: Any
    name: str
    candidates: dict[str, dict[str, float]]
    evaluation: Evaluation
    reason: str
    folds: int
    seed: int
    out_of_range_share: dict[str, float | None]

    def to_metrics(self) -> dict[str, Any]:
        """JSON-ready record for the registry: everything but the estimator."""
        return {
            "champion": self.name,
            "evaluation": self.evaluation,
            "criterion": SELECTION_METRIC,
            "reason": self.reason,
            "folds": self.folds,
            "seed": self.seed,
            "candidates": {k: dict(v) for k, v in self.candidates.items()},
            "out_of_range_share": dict(self.out_of_range_share),
        }


def select_model(
    X: pd.DataFrame,
    y: ArrayLike,
    feature_set: FeatureSet,
    order: ArrayLike | None,
    seed: int = 42,
    folds: int = 5,
    *,
    candidates: Mapping[str, Callable[[], Any]] | None = None,
) -> Selection:
    """Evaluate every candidate on the same held-out splits, keep the lowest log loss, refit it on all rows.

    With a time ``order`` the splits are ``forward_splits(order, folds)`` (what deployment sees), without
    one ``kfold_splits(y, folds, seed)``. Pure: no database, no files.

    Args:
        X: leads, DataFrame (n, features) with every feature of ``feature_set``.
        y: outcomes (n,), 0/1.
        feature_set: the feature set (kinds, descriptions) the candidates are built from.
        order: int64 sort key per lead (n,) (epoch ns of the time column, or the row index of a file in
            arrival order), or None.
        seed: seed of the k-fold splits and of every candidate.
        folds: k (folds, or forward steps).
        candidates: name -> builder, instead of ``candidate_factories(feature_set, seed)`` (tests, tuning).

    Returns:
        The ``Selection``.

    Raises:
        TypeError: ``X`` is not a DataFrame.
        ValueError: bad labels or ``order`` of the wrong length; ``EvaluationError`` when the splits
            cannot be made or a training part has a single class.

    """
    X = require_frame(X)
    y_arr = check_labels(y, len(X))
    makers = dict(candidate_factories(feature_set, seed) if candidates is None else candidates)
    evaluation: Evaluation
    if order is None:
        evaluation, splits = "kfold", kfold_splits(y_arr, folds, seed)
    else:
        evaluation = "forward"
        splits = drop_thin_steps(forward_splits(check_order(order, len(X)), folds), y_arr)
    runs = held_out_all(makers, X, y_arr, splits)
    figures = {name: run.metrics(y_arr) for name, run in runs.items()}
    name, reason = choose_champion(figures, evaluation)
    estimator = makers[name]().fit(X, y_arr)
    return Selection(
        estimator=estimator,
        name=name,
        candidates=figures,
        evaluation=evaluation,
        reason=reason,
        folds=folds,
        seed=seed,
        out_of_range_share={k: run.out_of_range_share() for k, run in runs.items()},
    )


def check_order(order: ArrayLike, n: int) -> NDArray[np.int64]:
    """``order`` as int64 (n,).

    Raises:
        ValueError: not 1-D with ``n`` integer values.

    """
    arr = np.asarray(order)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"order must be 1-D with {n} values (one per lead), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"order must hold integers (epoch nanoseconds or row indices), got {arr.dtype}")
    return arr.astype(np.int64)
