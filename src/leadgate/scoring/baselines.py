"""Baselines the propensity model must beat, each with the same estimator contract.

* ``MauticPointsScorer``: marketing-automation points (Mautic style), summed and mapped to a probability.
* ``OdooNaiveBayesScorer``: Odoo CRM's predictive lead scoring (naive Bayes over field-value frequencies).
* ``LogisticBaseline``: one-hot + standardised logistic regression (scikit-learn).

All take ``categorical`` and ``numeric`` feature lists, ``fit(X: DataFrame, y)`` returns self, learned state
ends in ``_``, and ``predict_proba`` returns (n, 2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from leadgate.scoring._data import (
    check_columns,
    check_feature_lists,
    check_fit_input,
    check_labels,
    is_missing_array,
    proba_columns,
    require_fitted,
    require_frame,
)

if TYPE_CHECKING:
    from typing import Self

_MISSING = "(missing)"


def _quantile_edges(values: NDArray[np.float64], n_bins: int) -> NDArray[np.float64]:
    """Distinct inner quantile edges of the non-missing values (at most ``n_bins - 1``)."""
    finite = values[~np.isnan(values)]
    if len(finite) == 0:
        return np.empty(0)
    qs = np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1])
    return np.unique(qs)


def _bin_labels(values: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[Any]:
    """Bin index as a string per value (``x <= edge`` goes to the lower bin); None when missing."""
    idx = np.searchsorted(edges, values, side="left")
    out = np.array([f"bin{i}" for i in idx], dtype=object)
    out[np.isnan(values)] = None
    return out


def _checked_input(X: Any, categorical: Sequence[str], numeric: Sequence[str]) -> pd.DataFrame:
    """``X`` as a DataFrame holding every field. Raises ``TypeError`` / ``ValueError`` otherwise."""
    X = require_frame(X)
    check_columns(X, [*categorical, *numeric])
    return X


def _checked_fit_input(
    X: Any, y: ArrayLike, categorical: Sequence[str], numeric: Sequence[str]
) -> tuple[pd.DataFrame, NDArray[np.int64]]:
    """``(X, y)`` checked for ``fit``: field lists, columns and 0/1 labels of matching length."""
    X, y_arr = check_fit_input(X, y, categorical, numeric)
    check_columns(X, [*categorical, *numeric])
    return X, y_arr


def _field_values(
    X: pd.DataFrame, categorical: Sequence[str], numeric: Sequence[str], edges: dict[str, NDArray[np.float64]]
) -> dict[str, NDArray[Any]]:
    """Per field, the values a points or naive-Bayes table is keyed by (arrays of shape (n,)).

    Categories are kept as they are; numbers are binned by ``edges``.
    """
    out: dict[str, NDArray[Any]] = {c: X[c].to_numpy(dtype=object) for c in categorical}
    for c in numeric:
        out[c] = _bin_labels(X[c].to_numpy(dtype=np.float64, na_value=np.nan), edges[c])
    return out


class MauticPointsScorer(ClassifierMixin, BaseEstimator):
    """Mautic-style points: each field value or behaviour tier is worth whole points, summed per lead.

    Mautic scores contacts with "point actions", a fixed number of points (positive or negative) awarded
    when a contact matches a condition or does something (visits a page, submits a form), accumulated into
    one total per contact (Mautic user documentation, ``docs/points/points.rst`` in
    ``mautic/user-documentation``). Here a marketer's point table is imitated from the training data only:

    * categorical field = value, for values held by at least ``min_support`` training leads:
      ``points = round(points_per_logodds * ln(odds(value) / odds(all)))``, with 0.5 added to each count
      (Haldane-Anscombe correction) so small cells stay finite;
    * numeric behaviour (visits, time on site, ...): tiers at the training quantiles (``n_tiers``), each tier
      pointed the same way;
    * a missing value, a rare value, or a value not in the table scores 0 (no rule fires).

    The sum of points is mapped to a probability by isotonic regression fitted on the training leads'
    points (monotone, so more points never means a lower probability), which makes log loss, Brier and ECE
    comparable with the other scorers. The points ignore correlations between fields (a lead from a good
    source AND with a good occupation counts both), as a hand-made table does.

    Args:
        categorical: categorical feature names.
        numeric: numeric feature names (behaviours).
        points_per_logodds: points for one unit of log odds ratio (10: doubling the odds is worth +7).
        min_support: fewest training leads a value needs to earn points.
        n_tiers: quantile tiers per numeric behaviour.

    """

    def __init__(
        self,
        categorical: Sequence[str],
        numeric: Sequence[str],
        points_per_logodds: float = 10.0,
        min_support: int = 30,
        n_tiers: int = 5,
    ):
        self.categorical = categorical
        self.numeric = numeric
        self.points_per_logodds = points_per_logodds
        self.min_support = min_support
        self.n_tiers = n_tiers

    def fit(self, X: pd.DataFrame, y: ArrayLike) -> Self:
        """Derive the points table and the points -> probability map from (X, y).

        Raises:
            TypeError: ``X`` is not a DataFrame.
            ValueError: missing columns or bad labels.

        """
        X, y_arr = _checked_fit_input(X, y, self.categorical, self.numeric)
        pos_all, neg_all = float(y_arr.sum()), float(len(y_arr) - y_arr.sum())
        self.tier_edges_ = {
            c: _quantile_edges(X[c].to_numpy(dtype=np.float64, na_value=np.nan), self.n_tiers)
            for c in self.numeric
        }
        table: dict[str, dict[str, int]] = {}
        for c, values in self._values(X).items():
            present = ~is_missing_array(values)
            frame = pd.DataFrame({"v": values[present], "y": y_arr[present]})
            grouped = frame.groupby("v")["y"].agg(["sum", "count"])
            points: dict[str, int] = {}
            for value, row in grouped.iterrows():
                if row["count"] < self.min_support:
                    continue
                pos, neg = float(row["sum"]), float(row["count"] - row["sum"])
                lor = math.log((pos + 0.5) / (neg + 0.5)) - math.log((pos_all + 0.5) / (neg_all + 0.5))
                pts = round(float(self.points_per_logodds) * lor)
                if pts != 0:
                    points[str(value)] = int(pts)
            table[c] = points
        self.points_table_ = table
        train_points = self.points(X)
        self.isotonic_ = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
            train_points, y_arr.astype(np.float64)
        )
        self.classes_ = np.array([0, 1])
        return self

    def _values(self, X: pd.DataFrame) -> dict[str, NDArray[Any]]:
        return _field_values(X, self.categorical, self.numeric, self.tier_edges_)

    def points(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Total points per lead, shape (n,).

        Raises:
            NotFittedError: before ``fit``.

        """
        require_fitted(self, "points_table_")
        X = _checked_input(X, self.categorical, self.numeric)
        total = np.zeros(len(X), dtype=np.float64)
        for c, values in self._values(X).items():
            pts = self.points_table_.get(c, {})
            total += np.array([pts.get(v, 0) if isinstance(v, str) else 0 for v in values], dtype=np.float64)
        return total

    def predict_proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Probabilities (n, 2) from the isotonic map of total points.

        Raises:
            NotFittedError: before ``fit``.

        """
        require_fitted(self, "isotonic_")
        p = np.asarray(self.isotonic_.predict(self.points(X)), dtype=np.float64)
        return proba_columns(np.clip(p, 0.0, 1.0))

    def predict(self, X: pd.DataFrame) -> NDArray[np.int64]:
        """Class (n,): 1 where the probability is at least 0.5."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)


class OdooNaiveBayesScorer(ClassifierMixin, BaseEstimator):
    """Odoo CRM predictive lead scoring: naive Bayes over per-field value frequencies of won/lost leads.

    Follows ``crm.lead._pls_get_naive_bayes_probabilities`` and ``_pls_update_frequency_table`` in Odoo's
    ``addons/crm/models/crm_lead.py`` (odoo/odoo, read at commit 0015f11c6480502f817e95c454b82b6beee8dd86):

    * a frequency table counts, for every (field, value), the won and the lost leads, each count starting
      at 0.1 ("we add 0.1 ... to avoid zero frequency issues; should be +1 but it weights too much on small
      recordset");
    * unset values are not counted and do not enter a lead's score;
    * ``P(value | won) = won(value) / sum of won over the field's values`` (likewise for lost), so each field
      is normalised by its own total, and the priors are ``P(won) = won / (won + lost)``;
    * ``S_won = P(won) * prod P(value | won)``, ``S_lost`` likewise, and
      ``probability = S_won / (S_won + S_lost)``; a value absent from the table is skipped.

    Adaptations, stated: Odoo's fields are all categorical (stage, country, source, ...), so numeric
    features are cut into ``n_bins`` training quantile bins and used as categorical values; there is no
    sales team here (Odoo keeps one table per team); the product is computed as a sum of logs; Odoo
    rounds the percentage to 2 decimals, so the output is clipped to [0.0001, 0.9999] (the same grain)
    which also keeps log loss finite. No recalibration is applied: this is the probability Odoo shows.

    Args:
        categorical: categorical feature names.
        numeric: numeric feature names (binned).
        smoothing: start value of each won/lost count (Odoo: 0.1).
        n_bins: quantile bins per numeric feature.

    """

    def __init__(
        self, categorical: Sequence[str], numeric: Sequence[str], smoothing: float = 0.1, n_bins: int = 10
    ):
        self.categorical = categorical
        self.numeric = numeric
        self.smoothing = smoothing
        self.n_bins = n_bins

    def fit(self, X: pd.DataFrame, y: ArrayLike) -> Self:
        """Build the frequency table from (X, y).

        Raises:
            TypeError: ``X`` is not a DataFrame.
            ValueError: missing columns or bad labels.

        """
        X, y_arr = _checked_fit_input(X, y, self.categorical, self.numeric)
        self.bin_edges_ = {
            c: _quantile_edges(X[c].to_numpy(dtype=np.float64, na_value=np.nan), self.n_bins)
            for c in self.numeric
        }
        won_total, lost_total = float(y_arr.sum()), float(len(y_arr) - y_arr.sum())
        self.log_prior_ = math.log(won_total / (won_total + lost_total)) - math.log(
            lost_total / (won_total + lost_total)
        )
        # log P(value | won) - log P(value | lost), per field and value
        table: dict[str, dict[str, float]] = {}
        frequencies: dict[str, dict[str, tuple[float, float]]] = {}
        for c, values in self._values(X).items():
            present = ~is_missing_array(values)
            counts: dict[str, list[float]] = {}
            for v, label in zip(values[present], y_arr[present], strict=True):
                cell = counts.setdefault(str(v), [self.smoothing, self.smoothing])
                cell[0 if label == 1 else 1] += 1.0
            field_won = sum(w for w, _ in counts.values())
            field_lost = sum(lo for _, lo in counts.values())
            frequencies[c] = {v: (w, lo) for v, (w, lo) in counts.items()}
            table[c] = {
                v: math.log(w / field_won) - math.log(lo / field_lost) for v, (w, lo) in counts.items()
            }
        self.frequencies_ = frequencies
        self.log_likelihood_ratio_ = table
        self.classes_ = np.array([0, 1])
        return self

    def _values(self, X: pd.DataFrame) -> dict[str, NDArray[Any]]:
        return _field_values(X, self.categorical, self.numeric, self.bin_edges_)

    def predict_proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """``S_won / (S_won + S_lost)`` per lead, as (n, 2).

        Raises:
            NotFittedError: before ``fit``.

        """
        require_fitted(self, "log_likelihood_ratio_")
        X = _checked_input(X, self.categorical, self.numeric)
        logit = np.full(len(X), self.log_prior_, dtype=np.float64)
        for c, values in self._values(X).items():
            llr = self.log_likelihood_ratio_[c]
            logit += np.array([llr.get(str(v), 0.0) if isinstance(v, str) else 0.0 for v in values])
        p = 1.0 / (1.0 + np.exp(-logit))
        return proba_columns(np.clip(p, 1e-4, 1.0 - 1e-4))

    def predict(self, X: pd.DataFrame) -> NDArray[np.int64]:
        """Class (n,): 1 where the probability is at least 0.5."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)


class LogisticBaseline(ClassifierMixin, BaseEstimator):
    """Logistic regression on one-hot categories and standardised numbers (scikit-learn).

    Categorical: missing -> its own level ``"(missing)"``; ``OneHotEncoder(min_frequency=min_frequency,
    handle_unknown="infrequent_if_exist")`` (rare and unseen values share one column). Numeric: median
    imputation with a missing-indicator column, then ``StandardScaler``. ``LogisticRegression`` with L2
    strength ``1 / C`` and the lbfgs solver.

    Args:
        categorical: categorical feature names.
        numeric: numeric feature names.
        C: inverse L2 regularisation strength.
        min_frequency: fewest training leads for a category to get its own column.
        max_iter: lbfgs iterations.

    """

    def __init__(
        self,
        categorical: Sequence[str],
        numeric: Sequence[str],
        C: float = 1.0,
        min_frequency: int = 10,
        max_iter: int = 5000,
    ):
        self.categorical = categorical
        self.numeric = numeric
        self.C = C
        self.min_frequency = min_frequency
        self.max_iter = max_iter

    def _prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        X = _checked_input(X, self.categorical, self.numeric)
        data: dict[str, Any] = {}
        for c in self.categorical:
            values = X[c].to_numpy(dtype=object).copy()
            values[is_missing_array(values)] = _MISSING
            data[c] = values.astype(str)
        for c in self.numeric:
            data[c] = X[c].to_numpy(dtype=np.float64, na_value=np.nan)
        return pd.DataFrame(data)

    def fit(self, X: pd.DataFrame, y: ArrayLike) -> Self:
        """Fit the pipeline.

        Raises:
            TypeError: ``X`` is not a DataFrame.
            ValueError: missing columns or bad labels.

        """
        prepared = self._prepare(X)
        y_arr = check_labels(y, len(prepared))
        check_feature_lists(self.categorical, self.numeric)
        transformers: list[tuple[str, Any, list[str]]] = []
        if self.categorical:
            encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=self.min_frequency)
            transformers.append(("categorical", encoder, list(self.categorical)))
        if self.numeric:
            numeric = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
            transformers.append(("numeric", numeric, list(self.numeric)))
        self.pipeline_ = Pipeline(
            [
                ("features", ColumnTransformer(transformers)),
                ("model", LogisticRegression(C=self.C, max_iter=self.max_iter)),
            ]
        ).fit(prepared, y_arr)
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Probabilities (n, 2).

        Raises:
            NotFittedError: before ``fit``.

        """
        require_fitted(self, "pipeline_")
        p = self.pipeline_.predict_proba(self._prepare(X))[:, 1]
        return proba_columns(np.asarray(p, dtype=np.float64))

    def predict(self, X: pd.DataFrame) -> NDArray[np.int64]:
        """Class (n,): 1 where the probability is at least 0.5."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)
