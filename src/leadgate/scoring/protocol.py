"""``ModelScorer``: what every model scorer the Qualifier can hold provides.

Implemented by ``PropensityScorer`` (LightGBM), ``LogisticScorer`` (regularized logistic regression) and
``BlendScorer`` (their blend). It is a structural ``typing.Protocol``: a class conforms by having these
methods, without inheriting from it; ``isinstance(obj, ModelScorer)`` checks that the methods exist
(``runtime_checkable``), not their signatures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import pandas as pd

    from leadgate.contracts.decision import Explanation
    from leadgate.scoring.propensity import Assessment


@runtime_checkable
class ModelScorer(Protocol):
    """A fitted, calibrated conversion model with confidence, explanations and a training-support check.

    All methods take a DataFrame of leads (n rows, every declared feature column; extra columns ignored)
    as built by ``FeatureSet.frame_from_records``, and raise ``NotFittedError`` before ``fit``.
    """

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyperparameters (scikit-learn ``BaseEstimator.get_params``)."""
        ...

    def predict_proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Calibrated probabilities (n, 2): column 1 is P(conversion)."""
        ...

    def confidence(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Trust in each lead's probability (n,), in [0, 1] (1 = fully trusted)."""
        ...

    def out_of_range(self, X: pd.DataFrame) -> NDArray[np.bool_]:
        """Mask (n,): True where any feature value lies outside the training support.

        Outside support: a number outside the training [min, max], a category never seen in training, or a
        missing value in a feature that was never missing in training.
        """
        ...

    def explain(self, X: pd.DataFrame, top_k: int = 3) -> list[Explanation]:
        """One plain-words ``Explanation`` per lead (up to ``top_k`` factors on each side)."""
        ...

    def assess(self, X: pd.DataFrame, explain: bool = True, top_k: int = 3) -> Assessment:
        """Probability (n,), confidence (n,) and, when ``explain``, explanations, in one pass."""
        ...
