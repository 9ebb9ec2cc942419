"""Probability calibration of raw model margins: isotonic, sigmoid (Platt) or none, chosen by measurement.

Both calibrators map a raw margin (log-odds of the uncalibrated model, shape (n,)) to a probability and
are stored as a few numbers (thresholds or two coefficients), so applying them is one ``np.interp`` or
one ``exp`` per lead and pickles small. Outputs are clipped to ``[PROBA_FLOOR, 1 - PROBA_FLOOR]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import StratifiedKFold

from leadgate.scoring import metrics

CalibrationMethod = Literal["isotonic", "sigmoid", "none"]

#: Lowest (and 1 - highest) calibrated probability. With a few thousand training leads no calibrator
#: can support a probability closer to 0 or 1 than about 1/n; 1e-3 also keeps log loss finite when an
#: isotonic step is exactly 0 or 1.
PROBA_FLOOR = 1e-3


@dataclass(frozen=True)
class IsotonicCalibrator:
    """Piecewise-linear monotone map from margin to probability (Zadrozny & Elkan 2002).

    Fitted with scikit-learn's ``IsotonicRegression(out_of_bounds="clip")`` and stored as its
    ``X_thresholds_``/``y_thresholds_``; ``transform`` is ``np.interp`` over them, which is what
    ``IsotonicRegression.predict`` computes (linear interpolation, clipped at both ends).

    Attributes:
        x: margin thresholds, increasing, shape (m,).
        y: probabilities at the thresholds, non-decreasing, shape (m,).

    """

    x: NDArray[np.float64]
    y: NDArray[np.float64]

    @classmethod
    def fit(cls, margins: NDArray[np.float64], y: NDArray[np.int64]) -> IsotonicCalibrator:
        """Fit on margins (n,) and 0/1 outcomes (n,)."""
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        iso.fit(margins, y.astype(np.float64))
        return cls(np.asarray(iso.X_thresholds_, dtype=np.float64), np.asarray(iso.y_thresholds_, np.float64))

    def transform(self, margins: NDArray[np.float64]) -> NDArray[np.float64]:
        """Probabilities (n,) for margins (n,), clipped to ``[PROBA_FLOOR, 1 - PROBA_FLOOR]``."""
        return np.clip(np.interp(margins, self.x, self.y), PROBA_FLOOR, 1.0 - PROBA_FLOOR)


@dataclass(frozen=True)
class SigmoidCalibrator:
    """Platt scaling: ``p = 1 / (1 + exp(-(a * margin + b)))``.

    ``a`` and ``b`` minimise the log loss against Platt's smoothed targets ``(N+ + 1) / (N+ + 2)`` for
    positives and ``1 / (N- + 2)`` for negatives (Platt 1999, "Probabilistic outputs for support vector
    machines"; Lin, Lin & Weng 2007, "A note on Platt's probabilistic outputs"), the same fit as
    scikit-learn's ``CalibratedClassifierCV(method="sigmoid")``.

    Attributes:
        a: slope on the margin.
        b: intercept.

    """

    a: float
    b: float

    @classmethod
    def fit(cls, margins: NDArray[np.float64], y: NDArray[np.int64]) -> SigmoidCalibrator:
        """Fit on margins (n,) and 0/1 outcomes (n,).

        Raises:
            RuntimeError: if the optimiser does not converge.

        """
        n_pos = float(y.sum())
        n_neg = float(len(y) - n_pos)
        t = np.where(y == 1, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
        m = margins.astype(np.float64)

        def loss_grad(ab: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            z = ab[0] * m + ab[1]
            # log(1 + exp(z)) - t z, the logistic loss written stably
            loss = float(np.sum(np.logaddexp(0.0, z) - t * z))
            r = _expit(z) - t
            return loss, np.array([float(np.sum(r * m)), float(np.sum(r))])

        res = minimize(loss_grad, x0=np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
        if not res.success:
            raise RuntimeError(f"Platt scaling did not converge: {res.message}")
        return cls(float(res.x[0]), float(res.x[1]))

    def transform(self, margins: NDArray[np.float64]) -> NDArray[np.float64]:
        """Probabilities (n,) for margins (n,), clipped to ``[PROBA_FLOOR, 1 - PROBA_FLOOR]``."""
        return np.clip(_expit(self.a * margins + self.b), PROBA_FLOOR, 1.0 - PROBA_FLOOR)


@dataclass(frozen=True)
class IdentityCalibrator:
    """No calibration: ``p = 1 / (1 + exp(-margin))``, for models whose margins are already log-odds.

    A regularized logistic regression fitted by maximum likelihood is calibrated on its training
    distribution by construction (its score equations make mean predictions match outcomes); whether a
    calibrator still helps out of fold is measured (``choose_calibrator`` with ``"none"`` among the
    methods).
    """

    @classmethod
    def fit(cls, margins: NDArray[np.float64], y: NDArray[np.int64]) -> IdentityCalibrator:
        """Nothing to learn; the arguments are accepted for a uniform interface."""
        return cls()

    def transform(self, margins: NDArray[np.float64]) -> NDArray[np.float64]:
        """Probabilities (n,) for margins (n,), clipped to ``[PROBA_FLOOR, 1 - PROBA_FLOOR]``."""
        return np.clip(_expit(np.asarray(margins, dtype=np.float64)), PROBA_FLOOR, 1.0 - PROBA_FLOOR)


Calibrator = IsotonicCalibrator | SigmoidCalibrator | IdentityCalibrator


def _expit(z: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic
    return out


def fit_calibrator(
    method: CalibrationMethod, margins: NDArray[np.float64], y: NDArray[np.int64]
) -> Calibrator:
    """Fit the named calibrator on margins (n,) and 0/1 outcomes (n,).

    Raises:
        ValueError: for an unknown method.

    """
    if method == "isotonic":
        return IsotonicCalibrator.fit(margins, y)
    if method == "sigmoid":
        return SigmoidCalibrator.fit(margins, y)
    if method == "none":
        return IdentityCalibrator()
    raise ValueError(f"unknown calibration method {method!r}: use 'isotonic', 'sigmoid' or 'none'")


def choose_calibrator(
    margins: NDArray[np.float64],
    y: NDArray[np.int64],
    *,
    n_splits: int = 5,
    random_state: int = 42,
    methods: Sequence[CalibrationMethod] = ("sigmoid", "isotonic"),
) -> tuple[CalibrationMethod, dict[str, object]]:
    """Pick a calibrator (by default isotonic or sigmoid) by cross-validated log loss on out-of-fold margins.

    The margins are already out-of-fold (each from a model that did not see that lead), but a calibrator
    scored on the very points it was fitted on flatters isotonic regression (it can follow noise). So
    the calibrators are fitted on ``n_splits - 1`` parts of the margins and scored on the held-out part
    (``StratifiedKFold(n_splits, shuffle=True, random_state)``); the pooled held-out predictions give
    log loss, Brier score and ECE. The method with the lowest **log loss** wins; ties go to the method
    listed first in ``methods`` (list the simpler maps first: none, then sigmoid, then isotonic). Log
    loss is the criterion because it is a strictly proper scoring rule that punishes confident errors
    hardest, which is what calibration must avoid.

    Args:
        margins: out-of-fold raw margins (n,).
        y: outcomes (n,), 0/1.
        n_splits: folds used to score the calibrators.
        random_state: seed of the folds.
        methods: candidate methods, in order of preference on ties.

    Returns:
        ``(chosen_method, report)`` where ``report`` is
        ``{"criterion": "log_loss", "<method>": {"log_loss", "brier", "ece"} for each method,
        "chosen": method}``.

    Raises:
        ValueError: ``methods`` is empty or names an unknown method.

    """
    if not methods:
        raise ValueError("choose_calibrator needs at least one method")
    skf = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    held_out: dict[CalibrationMethod, NDArray[np.float64]] = {m: np.empty(len(y)) for m in methods}
    for train, test in skf.split(margins.reshape(-1, 1), y):
        for method in methods:
            cal = fit_calibrator(method, margins[train], y[train])
            held_out[method][test] = cal.transform(margins[test])
    scores: dict[str, dict[str, float]] = {
        method: {
            "log_loss": metrics.log_loss(y, p),
            "brier": metrics.brier_score(y, p),
            "ece": metrics.expected_calibration_error(y, p),
        }
        for method, p in held_out.items()
    }
    chosen: CalibrationMethod = methods[0]
    for method in methods[1:]:
        if scores[method]["log_loss"] < scores[chosen]["log_loss"]:
            chosen = method
    report: dict[str, object] = {"criterion": "log_loss", **scores, "chosen": chosen}
    return chosen, report
