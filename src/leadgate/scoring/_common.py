"""``FeatureScorerMixin``: what the model scorers (LightGBM, logistic, blend) do the same way.

The mixin has methods only: no ``__init__`` and no state of its own. Hyperparameters stay in each scorer's
``__init__`` (scikit-learn's ``get_params`` and ``clone`` read them from there) and learned state is set by
the scorer's ``fit``, so models pickled before the mixin existed load and predict as before (a pickle
names the class and holds its attributes, not its bases).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from leadgate.scoring import metrics
from leadgate.scoring._data import check_columns
from leadgate.scoring.calibration import CalibrationMethod, Calibrator, fit_calibrator
from leadgate.scoring.explain import FeatureText

if TYPE_CHECKING:
    from typing import Self

    from leadgate.features import FeatureSet


class FeatureScorerMixin:
    """Shared methods of ``PropensityScorer``, ``LogisticScorer`` and ``BlendScorer``.

    The class using it (listed before ``BaseEstimator``) has the hyperparameters ``categorical``,
    ``numeric``, ``descriptions``, ``units`` and ``confidence_z``; ``fit`` sets ``calibrator_`` and
    ``n_features_in_``. ``fit`` here runs ``fit_oof``; a scorer without one (``BlendScorer``) defines its own.
    """

    categorical: Sequence[str]
    numeric: Sequence[str]
    descriptions: Mapping[str, str] | None
    units: Mapping[str, str] | None
    confidence_z: float
    calibrator_: Calibrator
    calibration_: CalibrationMethod
    calibration_report_: dict[str, object]
    feature_names_in_: NDArray[Any]
    n_features_in_: int

    if TYPE_CHECKING:

        def fit_oof(self, X: pd.DataFrame, y: ArrayLike) -> NDArray[np.float64]:
            """Fit, returning the out-of-fold raw margins (n,) (defined by the scorer)."""
            ...

    @classmethod
    def from_feature_set(cls, feature_set: FeatureSet, **params: Any) -> Self:
        """Build a scorer over the features of ``feature_set`` (kinds, descriptions, units) and ``params``."""
        features: dict[str, Any] = {
            "categorical": feature_set.categorical,
            "numeric": feature_set.numeric,
            "descriptions": {f.name: f.description for f in feature_set.features},
            "units": {f.name: f.unit for f in feature_set.features if f.unit},
        }
        return cls(**features, **params)

    def fit(self, X: pd.DataFrame, y: ArrayLike) -> Self:
        """Fit the scorer (``fit_oof``, see the class docstring for what is learned) and return it.

        Args:
            X: DataFrame (n, >= n_features) with every declared feature column (extra columns ignored).
            y: outcomes (n,), 0/1 or booleans, both classes present.

        Returns:
            self, fitted.

        Raises:
            TypeError: ``X`` is not a DataFrame.
            ValueError: a declared column is missing, bad labels, bad hyperparameters.

        """
        self.fit_oof(X, y)
        return self

    def _set_model_columns(self, X: pd.DataFrame) -> list[str]:
        """Set ``feature_names_in_`` and ``n_features_in_``: the declared features in the order of ``X``.

        Raises:
            ValueError: listing every declared feature column that ``X`` lacks.

        """
        declared = set(self.categorical) | set(self.numeric)
        check_columns(X, [*self.categorical, *self.numeric])
        names = [str(c) for c in X.columns if c in declared]
        self.feature_names_in_ = np.array(names, dtype=object)
        self.n_features_in_ = len(names)
        return names

    def _feature_texts(self, names: Sequence[str], categorical: set[str]) -> list[FeatureText]:
        """How each model column is written in explanations, from ``descriptions`` and ``units``."""
        descriptions = self.descriptions or {}
        units = self.units or {}
        return [
            FeatureText.build(c, descriptions.get(c), units.get(c), numeric=c not in categorical)
            for c in names
        ]

    def _set_calibration(
        self,
        oof: NDArray[np.float64],
        y: NDArray[np.int64],
        chosen: CalibrationMethod,
        report: dict[str, object],
        **extra: object,
    ) -> None:
        """Fit the ``chosen`` calibrator on the out-of-fold margins (n,) and keep it with its report.

        Sets ``calibration_``, ``calibration_report_`` (``report`` with the out-of-fold AUC of the margins,
        ``oof_roc_auc``, then ``extra``) and ``calibrator_``.
        """
        report["oof_roc_auc"] = metrics.roc_auc(y, oof)
        report.update(extra)
        self.calibration_ = chosen
        self.calibration_report_ = report
        self.calibrator_ = fit_calibrator(chosen, oof, y)

    def _committee_confidence(
        self, fold_margins: NDArray[np.float64], unsupported: NDArray[np.bool_]
    ) -> NDArray[np.float64]:
        """``agreement * coverage`` in [0, 1], shape (n,), from the fold models' margins (cv, n).

        ``agreement = 1 - min(1, 2 z sd)``, ``sd`` the standard deviation (ddof=1) of the calibrated fold
        probabilities and ``z = confidence_z``; ``coverage = 1 - u / n_features_in_``, ``u`` the number of
        True values in the lead's row of ``unsupported`` (n, n_features_in_).
        """
        probs = np.stack([self.calibrator_.transform(r) for r in fold_margins])
        sd = probs.std(axis=0, ddof=1)
        agreement = 1.0 - np.minimum(1.0, 2.0 * float(self.confidence_z) * sd)
        coverage = 1.0 - unsupported.sum(axis=1) / self.n_features_in_
        out: NDArray[np.float64] = np.clip(agreement * coverage, 0.0, 1.0)
        return out
