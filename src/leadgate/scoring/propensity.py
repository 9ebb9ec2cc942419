"""``PropensityScorer``: a LightGBM conversion model, calibrated on held-out folds.

It also gives a per-lead confidence and exact TreeSHAP explanations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, cast, get_args

import lightgbm as lgb
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import StratifiedKFold

from leadgate.contracts.decision import Explanation
from leadgate.scoring._common import FeatureScorerMixin
from leadgate.scoring._data import (
    check_at_least,
    check_choice,
    check_fit_input,
    is_missing,
    is_missing_array,
    numeric_support,
    outside_support,
    proba_columns,
    require_fitted,
    require_frame,
)
from leadgate.scoring.calibration import CalibrationMethod, choose_calibrator
from leadgate.scoring.explain import (
    MAX_FACTORS,
    UNSEEN,
    SplitCells,
    build_explanations,
    dedup_contributions,
    plain_contributions,
)

#: Code of a category value never seen in training. LightGBM sends negative category codes and NaN
#: the same way at every categorical split (to the "not in the category set" side), so predictions are
#: the same as with NaN; keeping it distinct from NaN (= missing) lets ``confidence`` and explanations
#: tell "not given" from "not seen in training" using the encoded matrix alone.
UNSEEN_CODE = -1.0

#: Below this many rows, encoding loops in Python over one object array (no per-column pandas calls)
#: and LightGBM runs on one thread: both are faster for a single lead.
_SMALL_BATCH = 64
#: From this many rows, ``n_jobs`` LightGBM threads are used for prediction and contributions.
_THREADED_BATCH = 1000

CalibrationChoice = Literal["auto", "isotonic", "sigmoid"]

#: Hyperparameters added in issue 7, with the values that reproduce models pickled before they existed
#: (LightGBM's own defaults, no category grouping): ``__setstate__`` fills them in, so ``get_params`` and
#: ``clone`` work on models already in a registry and they keep predicting exactly as before.
_LEGACY_PARAMS: dict[str, Any] = {
    "cat_smooth": 10.0,
    "cat_l2": 10.0,
    "min_data_per_group": 100,
    "max_cat_threshold": 32,
    "min_category_count": 1,
}


@dataclass(frozen=True)
class Assessment:
    """Everything the pipeline needs for a batch of leads, from one encoding pass.

    Attributes:
        probability: calibrated P(conversion), shape (n,).
        confidence: see ``PropensityScorer.confidence``, shape (n,).
        explanations: one ``Explanation`` per lead, or None when not requested.
        out_of_range: True (n,) where a feature value is outside the training support (``out_of_range``
            of the scorer), computed from the same encoding; None when the scorer does not say.

    """

    probability: NDArray[np.float64]
    confidence: NDArray[np.float64]
    explanations: list[Explanation] | None
    out_of_range: NDArray[np.bool_] | None = None


class PropensityScorer(FeatureScorerMixin, ClassifierMixin, BaseEstimator):
    """LightGBM propensity-to-convert model with held-out calibration, confidence and explanations.

    **Training** (``fit``): categorical values get integer codes (per-feature vocabularies, most frequent
    first); numbers stay float64 with NaN for missing. ONE LightGBM booster is trained on all rows and is
    used for predictions and explanations. Calibration follows ``CalibratedClassifierCV(ensemble=False)``:
    ``cv`` clones are trained on the folds of ``StratifiedKFold(cv, shuffle=True, random_state)``, their
    raw margins on the held-out folds form out-of-fold margins, and isotonic and sigmoid (Platt)
    calibrators are fitted on them. With ``calibration="auto"`` the one with the lower cross-validated
    log loss on those margins is kept (see ``calibration.choose_calibrator``); ``"isotonic"`` or
    ``"sigmoid"`` forces one (both are still measured). The choice is ``calibration_``; the numbers are in
    ``calibration_report_``.

    **Confidence** (``confidence``): ``confidence = agreement * coverage``, in [0, 1], where

    * ``agreement = 1 - min(1, 2 * z * sd)``, ``sd`` the standard deviation (ddof=1) of the calibrated
      probabilities that the ``cv`` fold models give the lead and ``z = confidence_z`` (1.96). ``2 z sd`` is
      the width of an approximate 95% band of what a model trained on another sample of the same data
      would say, as a share of the whole [0, 1] range: a cross-validation committee, in the spirit of the
      jackknife (Efron & Stein 1981) and of ensemble disagreement (Lakshminarayanan et al. 2017). It is
      large where training data is thin or contradictory.
    * ``coverage = 1 - u / n_features``, ``u`` the number of the lead's values outside training support:
      a category never seen in training, a number outside the training [min, max], or a missing value in
      a feature that was never missing in training. The trees cannot know how such a lead behaves.

    It costs ``cv`` extra plain predictions. It is a ranking of trust for the review policy, not a
    probability.

    **Explanations** (``contributions``, ``explain``): TreeSHAP via LightGBM ``pred_contrib=True``, in
    log-odds of the raw (uncalibrated) booster; the base value is the last column. They are computed once
    per distinct split cell (exact, see ``explain.dedup_contributions``).

    **Defaults**: on the X Education leads (tuning CV: 5 stratified folds with seed 7, not the seed-42 folds
    of the acceptance report) 300 trees of 15 leaves at learning rate 0.03 gave AUC 0.8836; 7 leaves x 200
    trees at 0.07 gave 0.8837, 7 leaves x 100 trees at 0.14 gave 0.8841, and every other point tried
    (4-31 leaves, 150-600 trees, L2 1.0, min_child_samples 50) stayed within 0.001. The compact model
    (100 trees of 7 leaves) was chosen because prediction costs trees x depth and TreeSHAP about
    trees x leaves x depth^2 per lead, for the model and each of the ``cv`` fold models behind
    ``confidence``: half the trees halves both at the same accuracy.

    Re-tuned for issue 7 without ``lead_number`` (pooled out-of-fold AUC / log loss; X Education on the
    seed-7 folds; Olist forward in time inside its first 80% of leads, training on the first 64% and
    validating on the next 16%, the last 20% kept for the report): the tree shape still does not matter
    on X Education (7 leaves x 100 at 0.14: 0.8769 / 0.4217; 15 x 300 at 0.03: 0.8769; 31 x 400 at 0.02:
    0.8750; 5 x 200 at 0.1: 0.8772), but Olist's 495 landing pages are memorised (0.6428 / 0.4164, worse
    than a plain logistic regression's 0.4121). Categorical regularisation fixes that without costing X
    Education: ``cat_smooth`` 30 and ``cat_l2`` 10 give 0.8776 / 0.4210 and 0.6530 / 0.4141, and grouping
    categories seen fewer than 5 times on top gives 0.8776 / 0.4210 and 0.6557 / 0.4096 (10 times:
    0.8774, 0.6542; ``cat_smooth`` = ``cat_l2`` = 50: 0.8756 on X Education; ``min_data_per_group`` 50 with
    ``max_cat_threshold`` 64: 0.8779 but 0.6428 on Olist).

    Args:
        categorical: names of categorical features (values: ``str``, None when missing).
        numeric: names of numeric features (float64, NaN when missing).
        descriptions: feature -> plain words for explanations ("time spent on the website"); a
            description containing ``{value}`` is used as a sentence template.
        units: feature -> unit of a numeric feature ("seconds" is shown as minutes).
        n_estimators: boosting rounds.
        learning_rate: LightGBM shrinkage.
        num_leaves: leaves per tree.
        min_child_samples: minimum training rows in a leaf (LightGBM ``min_data_in_leaf``).
        reg_lambda: L2 regularisation of leaf values (LightGBM ``lambda_l2``).
        cat_smooth: LightGBM ``cat_smooth``: pseudo-count pulling each category's gradient ratio towards
            the overall one before categories are sorted for a split; larger values stop a category seen
            a few times from being sorted to an extreme (the memorisation of high-cardinality ids).
        cat_l2: LightGBM ``cat_l2``: L2 regularisation in categorical splits.
        min_data_per_group: LightGBM ``min_data_per_group``: fewest rows per side of a categorical split.
        max_cat_threshold: LightGBM ``max_cat_threshold``: most categories on one side of a split.
        min_category_count: categories seen fewer times than this in training share one code, the
            "infrequent" category, and so does a category never seen in training when there is one (as
            scikit-learn's ``OneHotEncoder(min_frequency=..., handle_unknown="infrequent_if_exist")``);
            1 keeps every category apart. Never-seen categories still count as outside training support.
        calibration: ``"auto"`` (measured), ``"isotonic"`` or ``"sigmoid"``.
        cv: folds for the out-of-fold margins (>= 2).
        random_state: seed of the folds and of LightGBM.
        n_jobs: LightGBM threads for training and for batches of 1,000 rows or more (<= 0: all cores).
        confidence_z: z of the agreement band (1.96 = 95% under a normal approximation).

    Attributes:
        booster_: the LightGBM booster trained on all rows (predictions, explanations).
        fold_boosters_: the ``cv`` fold models (out-of-fold margins, confidence).
        calibrator_: the fitted calibrator (``IsotonicCalibrator`` or ``SigmoidCalibrator``).
        calibration_: ``"isotonic"`` or ``"sigmoid"``.
        calibration_report_: held-out log loss, Brier and ECE of both calibrators, the criterion, the
            choice, and the out-of-fold AUC of the raw margins.
        categories_: categorical feature -> {value: code}.
        feature_names_in_: model columns (the declared features in the order of the training frame).
        n_features_in_: number of model columns.
        categorical_idx_: positions of the categorical columns.
        support_low_, support_high_, missing_seen_: training support per column (see ``unsupported``).
        cells_: split thresholds of ``booster_`` (``explain.SplitCells``).
        feature_texts_: how each column is written in explanations.
        classes_: ``[0, 1]``.

    """

    def __init__(
        self,
        categorical: Sequence[str],
        numeric: Sequence[str],
        descriptions: Mapping[str, str] | None = None,
        units: Mapping[str, str] | None = None,
        n_estimators: int = 100,
        learning_rate: float = 0.14,
        num_leaves: int = 7,
        min_child_samples: int = 20,
        reg_lambda: float = 0.0,
        cat_smooth: float = 30.0,
        cat_l2: float = 10.0,
        min_data_per_group: int = 100,
        max_cat_threshold: int = 32,
        min_category_count: int = 5,
        calibration: CalibrationChoice = "auto",
        cv: int = 5,
        random_state: int = 42,
        n_jobs: int = 1,
        confidence_z: float = 1.96,
    ):
        self.categorical = categorical
        self.numeric = numeric
        self.descriptions = descriptions
        self.units = units
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.cat_smooth = cat_smooth
        self.cat_l2 = cat_l2
        self.min_data_per_group = min_data_per_group
        self.max_cat_threshold = max_cat_threshold
        self.min_category_count = min_category_count
        self.calibration = calibration
        self.cv = cv
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.confidence_z = confidence_z

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, filling in the hyperparameters and state of models pickled before issue 7."""
        for key, value in _LEGACY_PARAMS.items():
            state.setdefault(key, value)
        if "feature_names_in_" in state and "infrequent_code_" not in state:
            state["infrequent_code_"] = np.full(len(state["feature_names_in_"]), np.nan)
        super().__setstate__(state)

    # ------------------------------------------------------------------ training

    def fit_oof(self, X: pd.DataFrame, y: ArrayLike) -> NDArray[np.float64]:
        """``fit``, returning the out-of-fold raw margins (n,) the calibrator was fitted on.

        Learns the vocabularies, trains the booster and the fold models, and calibrates. Fold ``k`` of
        ``StratifiedKFold(cv, shuffle=True, random_state)`` is the same split for every scorer given the
        same ``y``, ``cv`` and ``random_state``, which is what ``BlendScorer`` relies on.
        """
        X, y_arr = check_fit_input(X, y, self.categorical, self.numeric)
        check_choice("calibration", self.calibration, get_args(CalibrationChoice))
        check_at_least("cv", self.cv, 2)
        names = self._set_model_columns(X)
        cat_set = set(self.categorical)
        self.categorical_idx_ = [j for j, c in enumerate(names) if c in cat_set]
        check_at_least("min_category_count", self.min_category_count, 1)
        vocabularies = {
            c: _vocabulary(X[c].to_numpy(dtype=object), int(self.min_category_count))
            for c in names
            if c in cat_set
        }
        self.categories_ = {c: v[0] for c, v in vocabularies.items()}
        self.infrequent_code_ = np.array([vocabularies[c][1] if c in cat_set else np.nan for c in names])
        self._set_support(X, names, cat_set)

        matrix = self.encode(X)
        skf = StratifiedKFold(n_splits=int(self.cv), shuffle=True, random_state=self.random_state)
        oof = np.empty(len(y_arr), dtype=np.float64)
        folds: list[lgb.Booster] = []
        for train, test in skf.split(matrix, y_arr):
            booster = self._train(matrix[train], y_arr[train])
            oof[test] = booster.predict(matrix[test], raw_score=True, num_threads=self._threads(len(test)))
            folds.append(booster)
        chosen, report = choose_calibrator(oof, y_arr, n_splits=int(self.cv), random_state=self.random_state)
        if self.calibration != "auto":
            chosen = cast(CalibrationMethod, self.calibration)
            report["chosen"] = chosen
            report["forced"] = True
        self._set_calibration(oof, y_arr, chosen, report)
        self.fold_boosters_ = folds
        self.booster_ = self._train(matrix, y_arr)
        self.cells_ = SplitCells.from_booster(self.booster_, self.categorical_idx_)
        self.feature_texts_ = self._feature_texts(names, cat_set)
        self.classes_ = np.array([0, 1])
        return oof

    def _set_support(self, X: pd.DataFrame, names: list[str], cat_set: set[str]) -> None:
        f = len(names)
        low = np.zeros(f)
        high = np.zeros(f)
        missing_seen = np.zeros(f, dtype=bool)
        for j, c in enumerate(names):
            if c in cat_set:
                values = X[c].to_numpy(dtype=object)
                missing_seen[j] = bool(is_missing_array(values).any())
                low[j], high[j] = 0.0, float(max(self.categories_[c].values(), default=-1))
            else:
                missing_seen[j], low[j], high[j] = numeric_support(
                    X[c].to_numpy(dtype=np.float64, na_value=np.nan)
                )
        self.support_low_ = low
        self.support_high_ = high
        self.missing_seen_ = missing_seen

    def _lgb_params(self) -> dict[str, Any]:
        return {
            "objective": "binary",
            "learning_rate": float(self.learning_rate),
            "num_leaves": int(self.num_leaves),
            "min_data_in_leaf": int(self.min_child_samples),
            "lambda_l2": float(self.reg_lambda),
            "cat_smooth": float(self.cat_smooth),
            "cat_l2": float(self.cat_l2),
            "min_data_per_group": int(self.min_data_per_group),
            "max_cat_threshold": int(self.max_cat_threshold),
            "seed": int(self.random_state),
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self._n_threads(),
            "verbosity": -1,
        }

    def _train(self, matrix: NDArray[np.float64], y: NDArray[np.int64]) -> lgb.Booster:
        data = lgb.Dataset(
            matrix,
            label=y,
            feature_name=list(self.feature_names_in_),
            categorical_feature=list(self.categorical_idx_),
            params={"verbosity": -1},
            free_raw_data=True,
        )
        return lgb.train(self._lgb_params(), data, num_boost_round=int(self.n_estimators))

    def _n_threads(self) -> int:
        return int(self.n_jobs) if int(self.n_jobs) > 0 else 0

    def _threads(self, n_rows: int) -> int:
        return self._n_threads() if n_rows >= _THREADED_BATCH else 1

    # ------------------------------------------------------------------ encoding

    def encode(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Encode leads into the model matrix.

        Args:
            X: DataFrame with every feature column (any order, extra columns ignored). Categorical values
                must be ``str`` (None/NaN = missing); numeric values numbers (None/NaN = missing).

        Returns:
            float64 array (n, n_features_in_) in ``feature_names_in_`` order: category codes (NaN when
            missing, ``UNSEEN_CODE`` = -1 when never seen in training) and numbers (NaN when missing).

        Raises:
            NotFittedError: before ``fit``.
            TypeError: ``X`` is not a DataFrame.
            ValueError: a feature column is missing, or a numeric value is not a number.

        """
        require_fitted(self, "categories_")
        X = require_frame(X)
        pos = self._positions(X)
        if len(X) <= _SMALL_BATCH:
            return self._encode_objects(X.to_numpy(dtype=object), pos)
        out = np.empty((len(X), len(pos)), dtype=np.float64)
        for j, name in enumerate(self.feature_names_in_):
            series = X.iloc[:, pos[j]]
            vocab = self.categories_.get(name)
            if vocab is None:
                out[:, j] = series.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                out[:, j] = _category_codes(vocab, series.to_numpy(dtype=object))
        return out

    def _positions(self, X: pd.DataFrame) -> tuple[int, ...]:
        return _column_positions(tuple(X.columns), tuple(self.feature_names_in_))

    def _encode_objects(self, values: NDArray[Any], pos: Sequence[int]) -> NDArray[np.float64]:
        """Encode an object array (n, columns of X) with Python loops: the fast path for a few leads."""
        out = np.empty((values.shape[0], len(pos)), dtype=np.float64)
        for j, name in enumerate(self.feature_names_in_):
            col = values[:, pos[j]]
            vocab = self.categories_.get(name)
            if vocab is None:
                out[:, j] = [_to_float(v) for v in col]
            else:
                out[:, j] = [_code(vocab, v) for v in col]
        return out

    def _matrix(self, X: pd.DataFrame | NDArray[np.float64]) -> NDArray[np.float64]:
        require_fitted(self, "booster_")
        if isinstance(X, pd.DataFrame):
            return self.encode(X)
        if isinstance(X, np.ndarray):
            m = X.reshape(1, -1) if X.ndim == 1 else X
            if m.ndim != 2 or m.shape[1] != self.n_features_in_:
                raise ValueError(f"encoded input must have shape (n, {self.n_features_in_}), got {X.shape}")
            return np.asarray(m, dtype=np.float64)
        raise TypeError(f"X must be a DataFrame or an encoded float64 array, got {type(X)!r}")

    def _matrix_and_values(
        self, X: pd.DataFrame | NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[Any]]:
        """Return the encoded matrix (n, f) and the raw values (n, f) from one pass over the input."""
        if isinstance(X, pd.DataFrame) and len(X) <= _SMALL_BATCH:
            require_fitted(self, "booster_")
            pos = self._positions(X)
            values = X.to_numpy(dtype=object)
            return self._encode_objects(values, pos), values[:, list(pos)]
        m = self._matrix(X)
        if isinstance(X, pd.DataFrame):
            return m, X.iloc[:, list(self._positions(X))].to_numpy(dtype=object)
        return m, self._decode(m)

    def _decode(self, matrix: NDArray[np.float64]) -> NDArray[Any]:
        """Raw values (n, f) back from an encoded matrix: strings, floats, None, or ``UNSEEN``."""
        out = np.empty(matrix.shape, dtype=object)
        for j, name in enumerate(self.feature_names_in_):
            col = matrix[:, j]
            vocab = self.categories_.get(name)
            if vocab is None:
                out[:, j] = [None if math.isnan(v) else float(v) for v in col]
            else:
                labels = _labels(vocab, float(self.infrequent_code_[j]))
                out[:, j] = [
                    None if math.isnan(v) else labels[int(v)] if 0 <= v < len(labels) else UNSEEN for v in col
                ]
        return out

    # ------------------------------------------------------------------ prediction

    def predict_raw(self, X: pd.DataFrame | NDArray[np.float64]) -> NDArray[np.float64]:
        """Raw margins (log-odds of the uncalibrated booster), shape (n,).

        Args:
            X: DataFrame of leads, or an already encoded float64 matrix (n, n_features_in_) from
                ``encode`` (1-D for one lead).

        Raises:
            NotFittedError: before ``fit``.
            TypeError, ValueError: bad input (see ``encode``).

        """
        m = self._matrix(X)
        return self._raw(m)

    def _raw(self, m: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(
            self.booster_.predict(self._model_input(m), raw_score=True, num_threads=self._threads(len(m))),
            np.float64,
        )

    def _model_input(self, m: NDArray[np.float64]) -> NDArray[np.float64]:
        """The matrix LightGBM sees: ``UNSEEN_CODE`` replaced by the infrequent code where there is one."""
        infrequent = self.infrequent_code_
        if np.isnan(infrequent).all():
            return m
        cols = np.flatnonzero(~np.isnan(infrequent))
        block = m[:, cols]
        unseen = block == UNSEEN_CODE
        if not unseen.any():
            return m
        out = m.copy()
        out[:, cols] = np.where(unseen, infrequent[cols], block)
        return out

    def predict_proba(self, X: pd.DataFrame | NDArray[np.float64]) -> NDArray[np.float64]:
        """Calibrated probabilities, shape (n, 2): column 1 is P(conversion), column 0 its complement.

        Args:
            X: DataFrame of leads, or an encoded matrix (see ``predict_raw``).

        Raises:
            NotFittedError: before ``fit``.
            TypeError, ValueError: bad input.

        """
        m = self._matrix(X)
        return proba_columns(self.calibrator_.transform(self._raw(m)))

    def predict(self, X: pd.DataFrame | NDArray[np.float64]) -> NDArray[np.int64]:
        """Class (n,): 1 where the calibrated probability is at least 0.5."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def confidence(self, X: pd.DataFrame | NDArray[np.float64]) -> NDArray[np.float64]:
        """Trust in each lead's probability, shape (n,), in [0, 1] (formula in the class docstring).

        Raises:
            NotFittedError: before ``fit``.
            TypeError, ValueError: bad input.

        """
        return self._confidence(self._matrix(X))

    def fold_margins(self, X: pd.DataFrame | NDArray[np.float64]) -> NDArray[np.float64]:
        """Raw margins of each of the ``cv`` fold models, shape (cv, n).

        Raises:
            NotFittedError: before ``fit``.
            TypeError, ValueError: bad input.

        """
        return self._fold_raw(self._matrix(X))

    def _fold_raw(self, m: NDArray[np.float64]) -> NDArray[np.float64]:
        threads = self._threads(len(m))
        mi = self._model_input(m)
        return np.stack(
            [np.asarray(b.predict(mi, raw_score=True, num_threads=threads)) for b in self.fold_boosters_]
        )

    def _confidence(self, m: NDArray[np.float64]) -> NDArray[np.float64]:
        return self._committee_confidence(self._fold_raw(m), self.unsupported(m))

    def unsupported(self, X: pd.DataFrame | NDArray[np.float64]) -> NDArray[np.bool_]:
        """Mask (n, n_features_in_): True where a value lies outside the training support.

        Outside support: an unseen category, a number outside the training [min, max], or a missing
        value in a feature that never had one in training.
        """
        return outside_support(self._matrix(X), self.support_low_, self.support_high_, self.missing_seen_)

    def out_of_range(self, X: pd.DataFrame | NDArray[np.float64]) -> NDArray[np.bool_]:
        """Mask (n,): True where any feature value of the lead lies outside training support.

        Same definition as ``unsupported`` (an unseen category, a number outside the training [min, max],
        a missing value in a feature never missing in training), reduced over the features.

        Raises:
            NotFittedError: before ``fit``.
            TypeError, ValueError: bad input.

        """
        return np.asarray(self.unsupported(X).any(axis=1), dtype=bool)

    # ------------------------------------------------------------------ explanations

    def contributions(
        self, X: pd.DataFrame | NDArray[np.float64], optimized: bool = True
    ) -> NDArray[np.float64]:
        """TreeSHAP contributions of the raw booster (LightGBM ``pred_contrib=True``), log-odds.

        Args:
            X: DataFrame of leads, or an encoded matrix.
            optimized: compute once per distinct split cell (exact, same numbers bit for bit); False runs
                plain ``pred_contrib`` on every row (the reference the tests compare against).

        Returns:
            Array (n, n_features_in_ + 1); row sums equal ``predict_raw`` (up to float rounding) and the
            last column is the base value (expected margin).

        Raises:
            NotFittedError: before ``fit``.
            TypeError, ValueError: bad input.

        """
        m = self._model_input(self._matrix(X))
        threads = self._threads(len(m))
        if optimized:
            return dedup_contributions(self.booster_, m, self.cells_, threads)
        return plain_contributions(self.booster_, m, threads)

    def explain(
        self, X: pd.DataFrame | NDArray[np.float64], top_k: int = MAX_FACTORS, optimized: bool = True
    ) -> list[Explanation]:
        """Top factors of each lead, in plain words.

        Args:
            X: DataFrame of leads (factor values are the raw values), or an encoded matrix (values are
                decoded; an unseen category reads "a value not seen in training").
            top_k: factors kept on each side, 0..3.
            optimized: see ``contributions``.

        Returns:
            One ``Explanation(method="treeshap")`` per lead: up to ``top_k`` factors that raised the
            score and up to ``top_k`` that lowered it, strongest first, with nonzero contributions only.

        Raises:
            NotFittedError: before ``fit``.
            TypeError, ValueError: bad input or ``top_k`` outside 0..3.

        """
        m, values = self._matrix_and_values(X)
        contrib = self.contributions(m, optimized=optimized)
        return build_explanations(contrib, values, self.feature_texts_, top_k)

    def assess(
        self, X: pd.DataFrame | NDArray[np.float64], explain: bool = True, top_k: int = MAX_FACTORS
    ) -> Assessment:
        """Probability, confidence and (optionally) explanations from one encoding pass.

        Raises:
            NotFittedError: before ``fit``.
            TypeError, ValueError: bad input.

        """
        if explain:
            m, values = self._matrix_and_values(X)
        else:
            m, values = self._matrix(X), None
        p = self.calibrator_.transform(self._raw(m))
        unsupported = self.unsupported(m)
        conf = self._committee_confidence(self._fold_raw(m), unsupported)
        explanations = None
        if values is not None:
            contrib = dedup_contributions(
                self.booster_, self._model_input(m), self.cells_, self._threads(len(m))
            )
            explanations = build_explanations(contrib, values, self.feature_texts_, top_k)
        return Assessment(p, conf, explanations, np.asarray(unsupported.any(axis=1), dtype=bool))


@lru_cache(maxsize=64)
def _column_positions(columns: tuple[Any, ...], names: tuple[str, ...]) -> tuple[int, ...]:
    """Positions of ``names`` among ``columns`` (cached: the same frame layout comes back lead after lead).

    Raises:
        ValueError: listing every feature column that is missing.

    """
    index = {c: i for i, c in reversed(list(enumerate(columns)))}  # first occurrence wins
    missing = [n for n in names if n not in index]
    if missing:
        raise ValueError(f"input lacks feature column(s): {', '.join(missing)}")
    return tuple(index[n] for n in names)


def _vocabulary(values: NDArray[Any], min_count: int = 1) -> tuple[dict[str, int], float]:
    """Category -> code, most frequent first (ties in string order), and the infrequent code (or NaN).

    Missing values are left out. Categories seen fewer than ``min_count`` times all get the code after
    the frequent ones (the infrequent category); NaN when there is none.
    """
    present = values[~is_missing_array(values)]
    counts: dict[str, int] = {}
    for v in present:
        s = str(v)
        counts[s] = counts.get(s, 0) + 1
    ordered = sorted(counts, key=lambda s: (-counts[s], s))
    n_frequent = sum(1 for s in ordered if counts[s] >= min_count)
    infrequent = float(n_frequent) if n_frequent < len(ordered) else math.nan
    return {s: min(i, n_frequent) for i, s in enumerate(ordered)}, infrequent


#: Decoded value of the infrequent category code when the raw string is not available.
INFREQUENT_LABEL = "(a rare value)"


def _labels(vocab: dict[str, int], infrequent: float) -> list[str]:
    """Category label per code (index = code); the infrequent code reads ``INFREQUENT_LABEL``."""
    labels: dict[int, str] = {}
    for value, code in vocab.items():
        labels.setdefault(code, value)
    if not math.isnan(infrequent):
        labels[int(infrequent)] = INFREQUENT_LABEL
    return [labels[i] for i in range(len(labels))]


def _category_codes(vocab: dict[str, int], raw: NDArray[Any]) -> NDArray[np.float64]:
    """Codes (n,) of one categorical column: NaN when missing, ``UNSEEN_CODE`` when not in ``vocab``.

    Values are compared as ``str`` (like the one-row path). Each distinct value is looked up once and the
    column is mapped through that table (categories repeat heavily); a column whose values cannot be
    table keys (unhashable, or ``True`` next to ``1``, which are equal keys but different categories)
    goes through ``pd.Index.get_indexer`` instead, with the same result.
    """
    kinds = set(map(type, raw))
    table: dict[Any, float] | None = None
    if not (bool in kinds and kinds - {bool, str, type(None)}):
        try:
            distinct = set(raw)
        except TypeError:
            distinct = None
        if distinct is not None:
            table = {v: math.nan if pd.isna(v) else float(vocab.get(str(v), UNSEEN_CODE)) for v in distinct}
    if table is not None:
        return np.fromiter(map(table.__getitem__, raw), dtype=np.float64, count=len(raw))
    codes = pd.Index(list(vocab), dtype=object).get_indexer(raw.astype(str)).astype(np.float64)
    codes[codes < 0] = UNSEEN_CODE
    codes[is_missing_array(raw)] = np.nan
    return codes


def _code(vocab: dict[str, int], v: Any) -> float:
    if is_missing(v):
        return math.nan
    code = vocab.get(v if isinstance(v, str) else str(v))
    return UNSEEN_CODE if code is None else float(code)


def _to_float(v: Any) -> float:
    if is_missing(v):
        return math.nan
    return float(v)
