"""Input checks and small helpers shared by the scorers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.exceptions import NotFittedError


def require_frame(X: Any, what: str = "X") -> pd.DataFrame:
    """Return ``X`` if it is a DataFrame.

    Raises:
        TypeError: naming the type received.

    """
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"{what} must be a pandas DataFrame (see FeatureSet.frame_from_records), got {type(X)!r}"
        )
    return X


def check_labels(y: ArrayLike, n: int) -> NDArray[np.int64]:
    """Outcomes as an int64 array (n,) of 0/1.

    Raises:
        ValueError: wrong length, values other than 0/1 (or booleans), or a single class.

    """
    arr = np.asarray(y)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"y must be 1-D with {n} values, got shape {arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    if not np.isin(arr, (0, 1)).all():
        raise ValueError("y must contain only 0/1 (or booleans)")
    out = arr.astype(np.int64)
    if out.min() == out.max():
        raise ValueError("y has a single class: both converted and not converted leads are needed")
    return out


def check_columns(X: pd.DataFrame, columns: Sequence[str]) -> NDArray[np.intp]:
    """Positions of ``columns`` in ``X``.

    Raises:
        ValueError: listing every column that ``X`` lacks.

    """
    pos = X.columns.get_indexer(list(columns))
    if (pos < 0).any():
        missing = [c for c, p in zip(columns, pos, strict=True) if p < 0]
        raise ValueError(f"input lacks feature column(s): {', '.join(missing)}")
    return np.asarray(pos, dtype=np.intp)


def check_feature_lists(categorical: Sequence[str], numeric: Sequence[str]) -> None:
    """Check that the declared feature lists are usable.

    Raises:
        ValueError: no feature at all, a duplicate, or a feature declared both categorical and numeric.

    """
    cat, num = list(categorical), list(numeric)
    if not cat and not num:
        raise ValueError("declare at least one categorical or numeric feature")
    both = sorted(set(cat) & set(num))
    if both:
        raise ValueError(f"feature(s) declared both categorical and numeric: {', '.join(both)}")
    all_names = cat + num
    dupes = sorted({c for c in all_names if all_names.count(c) > 1})
    if dupes:
        raise ValueError(f"duplicate feature name(s): {', '.join(dupes)}")


def check_fit_input(
    X: Any, y: ArrayLike, categorical: Sequence[str], numeric: Sequence[str]
) -> tuple[pd.DataFrame, NDArray[np.int64]]:
    """Check the start of ``fit``: ``X`` a DataFrame, 0/1 labels (n,) with both classes, usable feature lists.

    Returns:
        ``(X, y)`` with ``y`` as an int64 array (n,).

    Raises:
        TypeError: ``X`` is not a DataFrame.
        ValueError: bad labels (see ``check_labels``) or feature lists (see ``check_feature_lists``).

    """
    X = require_frame(X)
    y_arr = check_labels(y, len(X))
    check_feature_lists(categorical, numeric)
    return X, y_arr


def check_choice(name: str, value: Any, allowed: Sequence[str]) -> None:
    """Check that hyperparameter ``name`` is one of ``allowed`` (e.g. the ``get_args`` of its ``Literal``).

    Raises:
        ValueError: "``name`` must be 'a', 'b' or 'c', got ..." (the options in the order given).

    """
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed[:-1]) + f" or {allowed[-1]!r}"
        raise ValueError(f"{name} must be {options}, got {value!r}")


def check_at_least(name: str, value: Any, minimum: int) -> None:
    """Check that integer hyperparameter ``name`` is at least ``minimum``.

    Raises:
        ValueError: "``name`` must be >= ``minimum``".

    """
    if int(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}")


def numeric_support(values: NDArray[np.float64]) -> tuple[bool, float, float]:
    """Training support of one numeric column (n,): whether a value is missing (NaN), and [min, max].

    The range is (inf, -inf), which holds no number, when no value is present.
    """
    nan = np.isnan(values)
    present = values[~nan]
    if not len(present):
        return bool(nan.any()), math.inf, -math.inf
    return bool(nan.any()), float(present.min()), float(present.max())


def outside_support(
    values: NDArray[np.float64], low: ArrayLike, high: ArrayLike, missing_seen: ArrayLike
) -> NDArray[np.bool_]:
    """Mask, shaped like ``values``: True where a value lies outside the training support.

    Outside: a number below ``low`` or above ``high``, or a missing value (NaN) where ``missing_seen`` is
    False. ``low``, ``high`` and ``missing_seen`` broadcast against ``values``: scalars for one column (n,),
    arrays (f,) for a matrix (n, f).
    """
    nan = np.isnan(values)
    safe = np.where(nan, 0.0, values)
    outside = (safe < low) | (safe > high)
    return np.where(nan, np.logical_not(missing_seen), outside)


def require_fitted(estimator: object, attribute: str) -> None:
    """Raise sklearn's ``NotFittedError`` unless ``estimator`` has ``attribute`` (cheap, for the hot path)."""
    if not hasattr(estimator, attribute):
        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet: call 'fit' before using it."
        )


def is_missing(value: Any) -> bool:
    """Tell whether one value is missing: None, NaN (float or NumPy float) or ``pd.NA``."""
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def is_missing_array(values: NDArray[Any]) -> NDArray[np.bool_]:
    """Boolean mask (n,) of None / NaN in an object or float array."""
    return np.asarray(pd.isna(values), dtype=bool)


def proba_columns(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Stack P(class 1) (n,) into scikit-learn's ``predict_proba`` shape (n, 2): ``[1 - p, p]``."""
    out = np.empty((len(p), 2), dtype=np.float64)
    out[:, 1] = p
    out[:, 0] = 1.0 - p
    return out
