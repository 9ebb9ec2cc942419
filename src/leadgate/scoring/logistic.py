"""``LogisticScorer``: regularized logistic regression with exact per-feature explanations.

The second model family of model selection (issue 7): a linear model in the log-odds is less accurate
than boosted trees where interactions matter, but it extrapolates smoothly, cannot memorise a
high-cardinality category, and explains itself exactly.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeAlias, get_args

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, SplineTransformer, StandardScaler
from threadpoolctl import threadpool_limits

from leadgate.contracts.decision import Explanation
from leadgate.scoring import metrics
from leadgate.scoring._common import FeatureScorerMixin
from leadgate.scoring._data import (
    check_at_least,
    check_choice,
    check_columns,
    check_fit_input,
    is_missing_array,
    numeric_support,
    outside_support,
    proba_columns,
    require_fitted,
    require_frame,
)
from leadgate.scoring.calibration import CalibrationMethod, choose_calibrator, fit_calibrator
from leadgate.scoring.explain import MAX_FACTORS, build_explanations, explanation_method
from leadgate.scoring.propensity import Assessment

#: Level standing for a missing categorical value: missing is information ("not given"), so it gets its
#: own one-hot column (or joins the infrequent column when rare).
MISSING_LEVEL = "(missing)"

#: Default grid of the inverse L2 strength ``C`` (log-spaced, half-decades from 1e-3 to 10).
DEFAULT_CS: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)

#: Up to this many leads, ``encode`` skips the ``ColumnTransformer`` (its per-call overhead, about 25 ms
#: for the 20 X Education features, dominates a single lead); the result is the same.
_SMALL_BATCH = 64
#: A category value no export contains, used to ask the fitted encoder where unseen values go.
_NEVER_SEEN = "\x00leadgate: never seen\x00"

LogisticCalibration = Literal["auto", "none", "sigmoid", "isotonic"]
NumericTransform = Literal["spline", "log1p", "none"]


def signed_log1p(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``sign(x) * log(1 + |x|)`` elementwise (NaN stays NaN): compresses skewed counts and durations.

    Defined for every real (unlike ``log1p``), monotone, and the identity near 0.
    """
    out: NDArray[np.float64] = np.sign(x) * np.log1p(np.abs(x))
    return out


class _Columns(dict[str, NDArray[Any]]):
    """Prepared model columns of a few leads (name -> array) and their row count: the fast path's input."""

    def __init__(self, data: dict[str, NDArray[Any]], n: int) -> None:
        super().__init__(data)
        self.n = n


Prepared: TypeAlias = pd.DataFrame | _Columns
"""What ``LogisticScorer._prepare`` returns."""


def _n_rows(prepared: Prepared) -> int:
    return prepared.n if isinstance(prepared, _Columns) else len(prepared)


class LogisticScorer(FeatureScorerMixin, ClassifierMixin, BaseEstimator):
    """Regularized logistic regression on encoded features, calibrated, with confidence and explanations.

    **Encoding** (one scikit-learn transformer per feature, fitted on the training rows, no labels):

    * categorical: missing becomes the level ``"(missing)"``; ``OneHotEncoder(min_frequency=min_frequency,
      handle_unknown="infrequent_if_exist")``: levels seen fewer than ``min_frequency`` times share one
      "infrequent" column, and a level never seen in training is put in that column (all zeros when no
      level was infrequent);
    * numeric: ``signed_log1p`` (counts and durations are right-skewed), median imputation with a
      missing-indicator column (only for features that had missing values in training), then with
      ``numeric_transform="spline"`` (default) a cubic B-spline basis of ``spline_knots`` uniform knots on
      that log scale (``SplineTransformer(extrapolation="constant")``: a value beyond the training range
      scores like the range's end, it is not extrapolated), and ``StandardScaler`` on every column (the L2
      penalty then treats every column alike). ``"log1p"`` keeps one log column, ``"none"`` the raw
      number.

    **Defaults**, measured on the X Education leads without ``lead_number`` (5 stratified folds with seed 7,
    not the seed-42 folds of the acceptance report; pooled out-of-fold AUC / log loss): raw numbers 0.8654 /
    0.4402, one log1p column 0.8452 / 0.4637 (time on site keeps paying off beyond where a log flattens),
    splines with 5, 8, 12, 16 and 24 knots 0.8718, 0.8732, 0.8756 / 0.4252, 0.8755, 0.8738: 12 knots. The
    ``min_frequency`` of 5, 10, 20 or 40 changed AUC by less than 0.001 there; on Olist (forward in time
    within the first 80% of leads) 5 gave a lower log loss than 10 (0.4078 against 0.4115).

    **Fit**: ``C`` (inverse L2 strength) is chosen on the grid ``Cs`` by pooled held-out log loss over
    ``StratifiedKFold(cv, shuffle=True, random_state)`` (lbfgs, warm-started along the grid; the encoder,
    fitted without labels on all rows, is shared by the folds). The ``cv`` fold models at the chosen ``C``
    give out-of-fold margins, used for calibration and kept for ``confidence``; the final model is refitted
    on all rows at that ``C``. Calibration: ``"auto"`` picks none or sigmoid (Platt) by cross-validated log
    loss on the out-of-fold margins (``calibration.choose_calibrator``; ties go to none); ``"none"``,
    ``"sigmoid"`` or ``"isotonic"`` force one. Isotonic is not among the automatic choices: its steps tie
    leads and cost ranking. Measured (AUC / log loss / ECE): X Education seed-7 folds none 0.8756 / 0.4252 /
    0.0147, sigmoid 0.8754 / 0.4255 / 0.0164, isotonic 0.8738 / 0.4256 / 0.0048; Olist forward in time,
    the last 20% of leads, isotonic (chosen by an automatic choice that allowed it, for a k-fold log loss
    lower by 0.002) 0.6683 / 0.3042 against 0.6916 / 0.3006 without calibration.

    **Confidence**: ``agreement * coverage`` in [0, 1], defined as in ``PropensityScorer``: ``agreement =
    1 - min(1, 2 z sd)`` with ``sd`` the standard deviation (ddof=1) of the calibrated probabilities the
    ``cv`` fold models give the lead, and ``coverage = 1 - u / n_features`` with ``u`` the number of the
    lead's values outside training support (see ``out_of_range``).

    **Explanations** (exact): with ``z`` the encoded row, ``w`` the coefficients, ``b`` the intercept and
    ``mu`` the training mean of each encoded column, the raw log-odds is ``b + w.z = base + sum_j c_j`` with
    ``base = b + w.mu`` (the log-odds of the average training lead's encoding) and ``c_j = sum over the
    encoded columns k of feature j of w_k (z_k - mu_k)``. For a linear model these are the exact SHAP
    values with the training data as background (Lundberg & Lee 2017, linear SHAP); they are in log-odds of
    the raw (uncalibrated) model, like ``PropensityScorer``'s TreeSHAP values.

    Args:
        categorical: names of categorical features (values: ``str``, None when missing).
        numeric: names of numeric features (float64, NaN when missing).
        descriptions: feature -> plain words for explanations.
        units: feature -> unit of a numeric feature.
        Cs: grid of inverse L2 strengths tried.
        min_frequency: fewest training leads for a category to get its own column.
        numeric_transform: ``"log1p"`` (signed) or ``"none"``.
        calibration: ``"auto"`` (measured), ``"none"``, ``"sigmoid"`` or ``"isotonic"``.
        cv: folds for choosing ``C``, the out-of-fold margins and the fold models (>= 2).
        random_state: seed of the folds.
        max_iter: lbfgs iterations per fit.
        tol: lbfgs stopping tolerance (scikit-learn's default).
        confidence_z: z of the agreement band (1.96 = 95% under a normal approximation).

    Attributes:
        encoder_: the fitted ``ColumnTransformer`` (one transformer per feature).
        coef_: coefficients (d,) over the encoded columns; ``intercept_``: float.
        C_: the chosen inverse L2 strength; ``cv_log_loss_``: pooled held-out log loss per C (len(Cs),).
        fold_coef_, fold_intercept_: the ``cv`` fold models at ``C_``, shapes (cv, d) and (cv,).
        column_mean_: training mean of each encoded column (d,); ``base_value_``: ``intercept_ +
            coef_ @ column_mean_``.
        feature_slices_: per model column, the slice of its encoded columns.
        calibrator_, calibration_, calibration_report_: as in ``PropensityScorer``.
        feature_names_in_, n_features_in_, classes_: scikit-learn conventions.
        support_low_, support_high_, missing_seen_, categories_seen_: training support.
        feature_texts_: how each column is written in explanations.

    """

    def __init__(
        self,
        categorical: Sequence[str],
        numeric: Sequence[str],
        descriptions: Mapping[str, str] | None = None,
        units: Mapping[str, str] | None = None,
        Cs: Sequence[float] = DEFAULT_CS,
        min_frequency: int = 5,
        numeric_transform: NumericTransform = "spline",
        spline_knots: int = 12,
        calibration: LogisticCalibration = "auto",
        cv: int = 5,
        random_state: int = 42,
        max_iter: int = 2000,
        tol: float = 1e-4,
        confidence_z: float = 1.96,
    ):
        self.categorical = categorical
        self.numeric = numeric
        self.descriptions = descriptions
        self.units = units
        self.Cs = Cs
        self.min_frequency = min_frequency
        self.numeric_transform = numeric_transform
        self.spline_knots = spline_knots
        self.calibration = calibration
        self.cv = cv
        self.random_state = random_state
        self.max_iter = max_iter
        self.tol = tol
        self.confidence_z = confidence_z

    # ------------------------------------------------------------------ training

    def fit_oof(self, X: pd.DataFrame, y: ArrayLike) -> NDArray[np.float64]:
        """``fit``, returning the out-of-fold raw margins (n,) of the fold models at the chosen ``C``.

        Learns the encoding, chooses ``C`` by cross-validation, fits, and calibrates. BLAS runs on one
        thread here: the matrices are small (thousands x about a hundred), and on a busy machine a
        multi-threaded BLAS made the lbfgs fits hundreds of times slower (measured: 411 s against 1.6 s for
        the same fit on a 2-core machine with a load average of 10).
        """
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit_oof(X, y)

    def _fit_oof(self, X: pd.DataFrame, y: ArrayLike) -> NDArray[np.float64]:
        X, y_arr = check_fit_input(X, y, self.categorical, self.numeric)
        self._check_params()
        names = self._set_model_columns(X)
        cat_set = set(self.categorical)
        prepared = self._prepare(X, frame=True)
        self._set_support(prepared, cat_set)

        self.encoder_ = ColumnTransformer(
            [(c, self._feature_transformer(c in cat_set), [c]) for c in names],
            sparse_threshold=0.0,
            verbose_feature_names_out=False,
        )
        Z = np.asarray(self.encoder_.fit_transform(prepared), dtype=np.float64)
        self.feature_slices_ = [self.encoder_.output_indices_[c] for c in names]
        self.column_mean_ = Z.mean(axis=0)
        self.category_columns_ = {c: self._category_columns(c) for c in names if c in cat_set}

        oof = self._choose_c(Z, y_arr)
        final = self._model(self.C_).fit(Z, y_arr)
        self.coef_ = np.asarray(final.coef_[0], dtype=np.float64)
        self.intercept_ = float(final.intercept_[0])
        self.base_value_ = float(self.intercept_ + self.coef_ @ self.column_mean_)

        methods: tuple[CalibrationMethod, ...] = (
            ("none", "sigmoid") if self.calibration == "auto" else (self.calibration,)
        )
        chosen, report = choose_calibrator(
            oof, y_arr, n_splits=int(self.cv), random_state=self.random_state, methods=methods
        )
        self._set_calibration(oof, y_arr, chosen, report, C=self.C_)
        self.feature_texts_ = self._feature_texts(names, cat_set)
        self.classes_ = np.array([0, 1])
        return oof

    def _check_params(self) -> None:
        check_choice("calibration", self.calibration, get_args(LogisticCalibration))
        check_choice("numeric_transform", self.numeric_transform, get_args(NumericTransform))
        check_at_least("cv", self.cv, 2)
        if not len(self.Cs) or min(self.Cs) <= 0:
            raise ValueError("Cs must be a non-empty list of positive numbers")
        check_at_least("min_frequency", self.min_frequency, 1)

    def _feature_transformer(self, categorical: bool) -> Any:
        if categorical:
            return OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                min_frequency=int(self.min_frequency),
                sparse_output=False,
                dtype=np.float64,
            )
        steps: list[Any] = []
        if self.numeric_transform in ("log1p", "spline"):
            steps.append(FunctionTransformer(signed_log1p, feature_names_out="one-to-one"))
        steps.append(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True))
        if self.numeric_transform == "spline":
            # column 0 is the imputed value, column 1 (when present) the missing indicator
            spline = SplineTransformer(
                n_knots=int(self.spline_knots),
                degree=3,
                knots="uniform",
                extrapolation="constant",
                include_bias=False,
            )
            steps.append(
                ColumnTransformer([("spline", spline, [0])], remainder="passthrough", sparse_threshold=0.0)
            )
        steps.append(StandardScaler())
        return make_pipeline(*steps)

    def _model(self, C: float) -> LogisticRegression:
        return LogisticRegression(C=float(C), max_iter=int(self.max_iter), tol=float(self.tol))

    def _choose_c(self, Z: NDArray[np.float64], y: NDArray[np.int64]) -> NDArray[np.float64]:
        """Pick ``C_`` by pooled held-out log loss; keep the fold models at ``C_``; return their OOF margins."""
        grid = sorted(float(c) for c in self.Cs)
        skf = StratifiedKFold(n_splits=int(self.cv), shuffle=True, random_state=self.random_state)
        folds = list(skf.split(Z, y))
        margins = np.empty((len(grid), len(y)))
        coefs = np.empty((len(grid), len(folds), Z.shape[1]))
        intercepts = np.empty((len(grid), len(folds)))
        for f, (train, test) in enumerate(folds):
            model = LogisticRegression(
                C=grid[0], max_iter=int(self.max_iter), tol=float(self.tol), warm_start=True
            )
            for g, C in enumerate(grid):  # from strong to weak regularization, warm-started
                model.set_params(C=C)
                with warnings.catch_warnings():
                    warnings.simplefilter("error", ConvergenceWarning)
                    model.fit(Z[train], y[train])
                coefs[g, f] = model.coef_[0]
                intercepts[g, f] = model.intercept_[0]
                margins[g, test] = Z[test] @ model.coef_[0] + model.intercept_[0]
        losses = np.array([metrics.log_loss(y, _expit_clip(m)) for m in margins])
        best = int(np.argmin(losses))  # first minimum: the strongest regularization among ties
        self.C_ = grid[best]
        self.cv_log_loss_ = losses
        self.fold_coef_ = coefs[best]
        self.fold_intercept_ = intercepts[best]
        return margins[best]

    def _prepare(self, X: pd.DataFrame, frame: bool = False) -> Prepared:
        """Model columns as the encoder expects them: categories as ``str`` with ``MISSING_LEVEL``, floats.

        Returns a DataFrame (what ``encoder_`` takes) for more than ``_SMALL_BATCH`` leads or when ``frame``
        is True; else a ``_Columns`` (the same arrays without building a DataFrame, about a millisecond for
        one lead), which only the fast path reads.
        """
        pos = check_columns(X, list(self.feature_names_in_))
        cat_set = set(self.categorical)
        data: dict[str, NDArray[Any]] = {}
        for name, p in zip(self.feature_names_in_, pos, strict=True):
            series = X.iloc[:, p]
            if name in cat_set:
                values = series.to_numpy(dtype=object)
                missing = is_missing_array(values)
                out = values.astype(str).astype(object)
                out[missing] = MISSING_LEVEL
                data[name] = out
            else:
                data[name] = series.to_numpy(dtype=np.float64, na_value=np.nan)
        if len(X) <= _SMALL_BATCH and not frame:
            return _Columns(data, len(X))
        return pd.DataFrame(data, index=pd.RangeIndex(len(X)), columns=list(self.feature_names_in_))

    def _set_support(self, prepared: pd.DataFrame, cat_set: set[str]) -> None:
        f = self.n_features_in_
        low = np.full(f, np.inf)
        high = np.full(f, -np.inf)
        missing_seen = np.zeros(f, dtype=bool)
        seen: dict[str, frozenset[str]] = {}
        for j, c in enumerate(self.feature_names_in_):
            values = prepared[c].to_numpy()
            if c in cat_set:
                missing_seen[j] = bool((values == MISSING_LEVEL).any())
                seen[c] = frozenset(str(v) for v in set(values)) - {MISSING_LEVEL}
            else:
                missing_seen[j], low[j], high[j] = numeric_support(values)
        self.support_low_ = low
        self.support_high_ = high
        self.missing_seen_ = missing_seen
        self.categories_seen_ = seen

    # ------------------------------------------------------------------ prediction

    def encode(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Encoded matrix (n, d) of the leads (the logistic regression's input).

        Raises:
            NotFittedError: before ``fit``.
            TypeError: ``X`` is not a DataFrame.
            ValueError: a feature column is missing, or a numeric value is not a number.

        """
        require_fitted(self, "coef_")
        return self._encode(self._prepare(require_frame(X)))

    def _encode(self, prepared: Prepared) -> NDArray[np.float64]:
        if isinstance(prepared, pd.DataFrame) and len(prepared) > _SMALL_BATCH:
            return np.asarray(self.encoder_.transform(prepared), dtype=np.float64)
        return self._encode_small(prepared)

    def _category_columns(self, name: str) -> tuple[dict[str, int], int]:
        """For the fast path: category -> its one-hot column (absolute), and the column of unseen values.

        Read off the fitted ``OneHotEncoder`` itself by encoding every training category and one value it
        never saw, so the fast path cannot disagree with it; -1 means "no column" (all zeros).
        """
        encoder = self.encoder_.named_transformers_[name]
        start = self.encoder_.output_indices_[name].start
        levels = [str(v) for v in encoder.categories_[0]]
        probe = pd.DataFrame({name: np.array([*levels, _NEVER_SEEN], dtype=object)})
        onehot = np.asarray(encoder.transform(probe))
        cols = [start + int(np.argmax(r)) if r.any() else -1 for r in onehot]
        return dict(zip(levels, cols[:-1], strict=True)), cols[-1]

    def _encode_small(self, prepared: Prepared) -> NDArray[np.float64]:
        """``encoder_.transform`` for a few leads without the ``ColumnTransformer`` overhead (same numbers).

        Categories are looked up in ``category_columns_``; numbers go through the fitted steps' learned
        values (imputer median, spline transformer, scaler mean and scale) with the same operations.
        """
        n = _n_rows(prepared)
        out = np.zeros((n, len(self.coef_)), dtype=np.float64)
        rows = np.arange(n)
        for name, sl in zip(self.feature_names_in_, self.feature_slices_, strict=True):
            values = np.asarray(prepared[name])
            table = self.category_columns_.get(name)
            if table is not None:
                lookup, unseen = table
                cols = np.array([lookup.get(v, unseen) for v in values], dtype=np.intp)
                hit = cols >= 0
                out[rows[hit], cols[hit]] = 1.0
            else:
                out[:, sl] = self._numeric_columns(name, values.astype(np.float64))
        return out

    def _numeric_columns(self, name: str, x: NDArray[np.float64]) -> NDArray[np.float64]:
        steps = self.encoder_.named_transformers_[name].named_steps
        if "functiontransformer" in steps:
            x = signed_log1p(x)
        imputer = steps["simpleimputer"]
        missing = np.isnan(x)
        filled = np.where(missing, imputer.statistics_[0], x)[:, None]
        parts = [filled]
        if "columntransformer" in steps:
            parts = [steps["columntransformer"].named_transformers_["spline"].transform(filled)]
        if imputer.indicator_ is not None and len(imputer.indicator_.features_):  # missing-only indicator
            parts.append(missing[:, None].astype(np.float64))
        block = np.hstack(parts)
        scaler = steps["standardscaler"]
        out: NDArray[np.float64] = (block - scaler.mean_) / scaler.scale_
        return out

    def decision_function(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Raw margins (n,): log-odds of the uncalibrated logistic regression, ``intercept_ + Z @ coef_``."""
        return self._raw(self.encode(X))

    predict_raw = decision_function

    def _raw(self, Z: NDArray[np.float64]) -> NDArray[np.float64]:
        out: NDArray[np.float64] = Z @ self.coef_ + self.intercept_
        return out

    def predict_proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Calibrated probabilities, shape (n, 2): column 1 is P(conversion).

        Raises:
            NotFittedError: before ``fit``.
            TypeError, ValueError: bad input.

        """
        raw = self._raw(self.encode(X))
        return proba_columns(self.calibrator_.transform(raw))

    def predict(self, X: pd.DataFrame) -> NDArray[np.int64]:
        """Class (n,): 1 where the calibrated probability is at least 0.5."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def fold_margins(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Raw margins of each of the ``cv`` fold models at ``C_``, shape (cv, n)."""
        return self._fold_raw(self.encode(X))

    def _fold_raw(self, Z: NDArray[np.float64]) -> NDArray[np.float64]:
        out: NDArray[np.float64] = self.fold_coef_ @ Z.T + self.fold_intercept_[:, None]
        return out

    def confidence(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Trust in each lead's probability, shape (n,), in [0, 1] (formula in the class docstring).

        Raises:
            NotFittedError: before ``fit``.
            TypeError, ValueError: bad input.

        """
        require_fitted(self, "coef_")
        prepared = self._prepare(require_frame(X))
        return self._confidence(self._encode(prepared), self._unsupported(prepared))

    def _confidence(self, Z: NDArray[np.float64], unsupported: NDArray[np.bool_]) -> NDArray[np.float64]:
        return self._committee_confidence(self._fold_raw(Z), unsupported)

    def unsupported(self, X: pd.DataFrame) -> NDArray[np.bool_]:
        """Mask (n, n_features_in_): True where a value lies outside the training support.

        Outside support: a category never seen in training (an infrequent one that was seen is inside), a
        number outside the training [min, max], or a missing value in a feature never missing in training.

        Raises:
            NotFittedError: before ``fit``.
            TypeError, ValueError: bad input.

        """
        require_fitted(self, "coef_")
        return self._unsupported(self._prepare(require_frame(X)))

    def _unsupported(self, prepared: Prepared) -> NDArray[np.bool_]:
        n = _n_rows(prepared)
        out = np.zeros((n, self.n_features_in_), dtype=bool)
        for j, c in enumerate(self.feature_names_in_):
            values = np.asarray(prepared[c])
            seen = self.categories_seen_.get(c)
            if seen is not None:
                missing = values == MISSING_LEVEL
                if n <= _SMALL_BATCH:  # a few set lookups beat building an index
                    unseen = np.fromiter((v not in seen for v in values), dtype=bool, count=n)
                else:
                    unseen = pd.Index(list(seen), dtype=object).get_indexer(values) < 0
                out[:, j] = np.where(missing, ~self.missing_seen_[j], unseen)
            else:
                out[:, j] = outside_support(
                    values, self.support_low_[j], self.support_high_[j], self.missing_seen_[j]
                )
        return out

    def out_of_range(self, X: pd.DataFrame) -> NDArray[np.bool_]:
        """Mask (n,): True where any feature value lies outside training support (see ``unsupported``)."""
        return np.asarray(self.unsupported(X).any(axis=1), dtype=bool)

    # ------------------------------------------------------------------ explanations

    def contributions(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Exact per-feature log-odds contributions, shape (n, n_features_in_ + 1).

        Column j (model column order) is ``sum over feature j's encoded columns k of coef_k * (z_k -
        column_mean_k)``; the last column is ``base_value_``. Each row sums to ``decision_function``
        (up to float rounding, about 1e-15 relative).

        Raises:
            NotFittedError: before ``fit``.
            TypeError, ValueError: bad input.

        """
        return self._contributions(self.encode(X))

    def _contributions(self, Z: NDArray[np.float64]) -> NDArray[np.float64]:
        weighted = (Z - self.column_mean_) * self.coef_
        out = np.empty((len(Z), self.n_features_in_ + 1), dtype=np.float64)
        for j, sl in enumerate(self.feature_slices_):
            out[:, j] = weighted[:, sl].sum(axis=1)
        out[:, -1] = self.base_value_
        return out

    def _values(self, X: pd.DataFrame) -> NDArray[Any]:
        pos = check_columns(X, list(self.feature_names_in_))
        return X.iloc[:, list(pos)].to_numpy(dtype=object)

    def explain(self, X: pd.DataFrame, top_k: int = MAX_FACTORS) -> list[Explanation]:
        """Top factors of each lead, in plain words, from the exact contributions.

        Returns:
            One ``Explanation`` per lead (method ``"linear"`` once the contract accepts it, see
            ``explain.explanation_method``), base value ``base_value_``: up to ``top_k`` factors that
            raised the score and up to ``top_k`` that lowered it, strongest first, nonzero only.

        Raises:
            NotFittedError: before ``fit``.
            TypeError, ValueError: bad input or ``top_k`` outside 0..3.

        """
        X = require_frame(X)
        contrib = self.contributions(X)
        return self._explanations(contrib, self._values(X), top_k)

    def _explanations(
        self, contrib: NDArray[np.float64], values: NDArray[Any], top_k: int
    ) -> list[Explanation]:
        return build_explanations(contrib, values, self.feature_texts_, top_k, explanation_method("linear"))

    def assess(self, X: pd.DataFrame, explain: bool = True, top_k: int = MAX_FACTORS) -> Assessment:
        """Probability, confidence and (optionally) explanations from one encoding pass.

        Raises:
            NotFittedError: before ``fit``.
            TypeError, ValueError: bad input.

        """
        require_fitted(self, "coef_")
        X = require_frame(X)
        prepared = self._prepare(X)
        Z = self._encode(prepared)
        p = self.calibrator_.transform(self._raw(Z))
        unsupported = self._unsupported(prepared)
        conf = self._confidence(Z, unsupported)
        explanations = self._explanations(self._contributions(Z), self._values(X), top_k) if explain else None
        return Assessment(p, conf, explanations, np.asarray(unsupported.any(axis=1), dtype=bool))


def _expit_clip(margins: NDArray[np.float64]) -> NDArray[np.float64]:
    """Logistic of the margins, clipped like the calibrators so log loss stays finite."""
    return fit_calibrator("none", margins, np.zeros(0, dtype=np.int64)).transform(margins)
