"""Cross-validated evaluation of a scorer against the baselines.

``evaluate`` writes report.json, report.md and calibration.png.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pandas as pd
import sklearn
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray
from sklearn.model_selection import StratifiedKFold

from leadgate.scoring import metrics
from leadgate.scoring._data import check_labels, require_frame
from leadgate.scoring.baselines import LogisticBaseline, MauticPointsScorer, OdooNaiveBayesScorer

#: Baselines run by ``evaluate``: report key -> class built as ``cls(categorical, numeric)``.
BASELINES: dict[str, Callable[[Sequence[str], Sequence[str]], Any]] = {
    "mautic_points": MauticPointsScorer,
    "odoo_naive_bayes": OdooNaiveBayesScorer,
    "logistic_regression": LogisticBaseline,
}

#: Share of leads in the top group for ``lift_at_10`` and ``precision_at_10``.
TOP_FRACTION = 0.1
#: Equal-width bins for ECE and the reliability curves.
N_BINS = 10
#: Share of leads with the lowest confidence compared with the rest in the confidence check.
LOW_CONFIDENCE_SHARE = 0.2


def score_metrics(y: NDArray[np.int64], p: NDArray[np.float64]) -> dict[str, float]:
    """Compute the report's metrics for pooled out-of-fold probabilities ``p`` (n,) of outcomes ``y`` (n,).

    Returns:
        ``roc_auc``, ``pr_auc`` (average precision), ``brier``, ``log_loss``, ``ece`` (10 equal-width
        bins, count-weighted), ``lift_at_10`` and ``precision_at_10`` (top 10% by probability); formulas
        and sources in ``leadgate.scoring.metrics``.

    """
    return {
        "roc_auc": metrics.roc_auc(y, p),
        "pr_auc": metrics.average_precision(y, p),
        "brier": metrics.brier_score(y, p),
        "log_loss": metrics.log_loss(y, p),
        "ece": metrics.expected_calibration_error(y, p, N_BINS),
        "lift_at_10": metrics.lift_at(y, p, TOP_FRACTION),
        "precision_at_10": metrics.precision_at(y, p, TOP_FRACTION),
    }


def _feature_lists(model: Any, X: pd.DataFrame) -> tuple[list[str], list[str]]:
    cat = getattr(model, "categorical", None)
    num = getattr(model, "numeric", None)
    if cat is not None and num is not None:
        return list(cat), list(num)
    numeric = [str(c) for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    return [str(c) for c in X.columns if str(c) not in numeric], numeric


def evaluate(
    X: pd.DataFrame,
    y: ArrayLike,
    feature_set_ref: str,
    make_model: Callable[[], Any],
    report_dir: Path,
    n_splits: int = 5,
    seed: int = 42,
    baselines: Mapping[str, Callable[[Sequence[str], Sequence[str]], Any]] | None = None,
) -> dict[str, Any]:
    """Stratified k-fold evaluation of ``make_model()`` and the baselines on the same folds.

    Every scorer is fitted on the training part of each fold of ``StratifiedKFold(n_splits, shuffle=True,
    random_state=seed)`` and predicts the held-out part; metrics are computed on the pooled out-of-fold
    probabilities of all n leads (per-fold model AUCs are reported too). The baselines read the feature
    lists of the model (its ``categorical`` and ``numeric`` attributes), else the column dtypes.

    Args:
        X: leads, DataFrame (n, features).
        y: outcomes (n,), 0/1.
        feature_set_ref: ``name@version`` of the feature set, recorded in the report.
        make_model: builds a fresh, unfitted scorer (``fit``, ``predict_proba``; ``confidence`` and
            ``calibration_`` are reported when present).
        report_dir: directory for report.json, report.md and calibration.png (created if needed).
        n_splits: folds.
        seed: seed of the folds.
        baselines: report key -> ``cls(categorical, numeric)``; defaults to ``BASELINES``.

    Returns:
        The report.json content: ``model`` and ``baselines`` (keyed ``mautic_points``,
        ``odoo_naive_bayes``, ``logistic_regression``) each with ``roc_auc``, ``pr_auc``, ``brier``,
        ``log_loss``, ``ece``, ``lift_at_10``, ``precision_at_10`` and fold AUCs; plus ``meta`` (n,
        base_rate, folds, seed, feature_set, calibration chosen per fold, per-fold model AUCs, ...) and
        ``confidence`` (when the model has one).

    Raises:
        TypeError: ``X`` is not a DataFrame.
        ValueError: bad labels, or fewer leads of a class than ``n_splits``.

    """
    X = require_frame(X)
    y_arr = check_labels(y, len(X))
    started = time.perf_counter()
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    proto = make_model()
    categorical, numeric = _feature_lists(proto, X)
    baseline_makers = dict(BASELINES if baselines is None else baselines)

    folds = list(StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(X, y_arr))
    fold_of = np.empty(len(y_arr), dtype=np.int64)
    for k, (_, test) in enumerate(folds):
        fold_of[test] = k

    def run(build: Callable[[], Any]) -> tuple[NDArray[np.float64], list[Any], float]:
        oof = np.empty(len(y_arr), dtype=np.float64)
        fitted = []
        t0 = time.perf_counter()
        for train, test in folds:
            est = build().fit(X.iloc[train], y_arr[train])
            oof[test] = np.asarray(est.predict_proba(X.iloc[test]), dtype=np.float64)[:, 1]
            fitted.append(est)
        return oof, fitted, time.perf_counter() - t0

    model_oof, model_fits, model_seconds = run(make_model)
    results: dict[str, tuple[NDArray[np.float64], float]] = {}
    for name, maker in baseline_makers.items():
        oof, _, seconds = run(partial(maker, categorical, numeric))
        results[name] = (oof, seconds)

    def block(oof: NDArray[np.float64], seconds: float) -> dict[str, Any]:
        out: dict[str, Any] = score_metrics(y_arr, oof)
        fold_auc = [metrics.roc_auc(y_arr[test], oof[test]) for _, test in folds]
        out["roc_auc_folds"] = fold_auc
        out["roc_auc_fold_mean"] = float(np.mean(fold_auc))
        out["roc_auc_fold_std"] = float(np.std(fold_auc, ddof=1)) if len(fold_auc) > 1 else 0.0
        out["cv_seconds"] = seconds
        return out

    model_block = block(model_oof, model_seconds)
    report: dict[str, Any] = {
        "model": model_block,
        "baselines": {name: block(oof, s) for name, (oof, s) in results.items()},
    }
    calibration = [getattr(m, "calibration_", None) for m in model_fits]
    report["meta"] = {
        "n": len(y_arr),
        "base_rate": float(y_arr.mean()),
        "folds": n_splits,
        "seed": seed,
        "split": f"StratifiedKFold(n_splits={n_splits}, shuffle=True, random_state={seed}), "
        "the same folds for every scorer",
        "fold_assignment_sha256": hashlib.sha256(fold_of.tobytes()).hexdigest(),
        "feature_set": feature_set_ref,
        "features": {"categorical": categorical, "numeric": numeric},
        "model_class": type(proto).__name__,
        "model_params": _jsonable(proto.get_params()) if hasattr(proto, "get_params") else {},
        "calibration_per_fold": calibration,
        "calibration_chosen": Counter(c for c in calibration if c).most_common(1)[0][0]
        if any(calibration)
        else None,
        "calibration_reports": [_jsonable(getattr(m, "calibration_report_", None)) for m in model_fits],
        "model_roc_auc_per_fold": model_block["roc_auc_folds"],
        "metrics_on": "pooled out-of-fold probabilities of all n leads",
        "ece_bins": N_BINS,
        "top_fraction": TOP_FRACTION,
        "versions": {
            "python": platform.python_version(),
            "lightgbm": lightgbm.__version__,
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": time.perf_counter() - started,
    }
    if all(hasattr(m, "confidence") and callable(m.confidence) for m in model_fits):
        conf = np.empty(len(y_arr), dtype=np.float64)
        for m, (_, test) in zip(model_fits, folds, strict=True):
            conf[test] = m.confidence(X.iloc[test])
        report["confidence"] = _confidence_check(y_arr, model_oof, conf)

    (report_dir / "report.json").write_text(json.dumps(_jsonable(report), indent=2) + "\n", encoding="utf-8")
    curves = {"model": model_oof, **{name: oof for name, (oof, _) in results.items()}}
    _plot_calibration(y_arr, curves, report_dir / "calibration.png")
    (report_dir / "report.md").write_text(_markdown(report), encoding="utf-8")
    return report


def _confidence_check(
    y: NDArray[np.int64], p: NDArray[np.float64], conf: NDArray[np.float64]
) -> dict[str, Any]:
    """Confidence quantiles, and Brier score / ECE / AUC of the least-confident 20% vs the rest."""
    cut = float(np.quantile(conf, LOW_CONFIDENCE_SHARE))
    low = conf <= cut
    out: dict[str, Any] = {
        "quantiles": {f"p{q}": float(np.quantile(conf, q / 100)) for q in (0, 5, 10, 25, 50, 75, 90, 100)},
        "low_share": LOW_CONFIDENCE_SHARE,
        "low_threshold": cut,
    }
    for name, mask in (("low", low), ("rest", ~low)):
        group: dict[str, Any] = {"n": int(mask.sum())}
        if mask.sum() > 0:
            group["brier"] = metrics.brier_score(y[mask], p[mask])
            group["ece"] = metrics.expected_calibration_error(y[mask], p[mask], N_BINS)
            group["mean_abs_error"] = float(np.mean(np.abs(y[mask] - p[mask])))
            if 0 < y[mask].sum() < mask.sum():
                group["roc_auc"] = metrics.roc_auc(y[mask], p[mask])
        out[name] = group
    return out


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    return repr(obj)


def _plot_calibration(y: NDArray[np.int64], curves: Mapping[str, NDArray[np.float64]], path: Path) -> None:
    fig = Figure(figsize=(11, 4.8))
    FigureCanvasAgg(fig)
    ax, hist = fig.subplots(1, 2)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
    for name, p in curves.items():
        mean_p, rate, count = metrics.reliability_curve(y, p, N_BINS)
        filled = count > 0
        ece = metrics.expected_calibration_error(y, p, N_BINS)
        ax.plot(
            mean_p[filled],
            rate[filled],
            marker="o",
            linewidth=2 if name == "model" else 1.2,
            label=f"{name} (ECE {ece:.3f})",
        )
        hist.hist(
            p,
            bins=np.linspace(0, 1, 21),
            histtype="step",
            linewidth=2 if name == "model" else 1.2,
            label=name,
        )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="mean predicted probability (10 equal-width bins)",
        ylabel="observed conversion rate",
        title="Reliability (pooled out-of-fold)",
    )
    ax.legend(loc="upper left", fontsize=8)
    hist.set(xlim=(0, 1), xlabel="predicted probability", ylabel="leads", title="Score distribution")
    hist.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


_COLUMNS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "ece",
    "lift_at_10",
    "precision_at_10",
    "roc_auc_fold_mean",
)


def _markdown(report: Mapping[str, Any]) -> str:
    meta = report["meta"]
    lines = [
        "# Scoring evaluation",
        "",
        f"Feature set `{meta['feature_set']}`, model `{meta['model_class']}`, {meta['n']} leads, "
        f"base rate {meta['base_rate']:.1%}.",
        f"Split: {meta['split']}. Metrics on {meta['metrics_on']}.",
        "",
        "| scorer | " + " | ".join(_COLUMNS) + " |",
        "|---|" + "---:|" * len(_COLUMNS),
    ]
    rows = [("model", report["model"]), *report["baselines"].items()]
    for name, block in rows:
        lines.append(f"| {name} | " + " | ".join(f"{block[c]:.4f}" for c in _COLUMNS) + " |")
    lines += [
        "",
        "Higher is better for roc_auc, pr_auc (average precision), lift_at_10 and precision_at_10 "
        "(top 10% by probability); lower is better for brier, log_loss and ece (10 equal-width bins, "
        "weighted by count).",
        "",
        "## Model per fold",
        "",
        "| fold | roc_auc | calibration |",
        "|---:|---:|---|",
    ]
    for k, (auc, cal) in enumerate(
        zip(meta["model_roc_auc_per_fold"], meta["calibration_per_fold"], strict=True)
    ):
        lines.append(f"| {k} | {auc:.4f} | {cal} |")
    lines += ["", f"Calibration chosen (most folds): **{meta['calibration_chosen']}**.", ""]
    if "confidence" in report:
        c = report["confidence"]
        q = c["quantiles"]
        lines += [
            "## Confidence",
            "",
            f"Quantiles: min {q['p0']:.3f}, p10 {q['p10']:.3f}, median {q['p50']:.3f}, p90 {q['p90']:.3f}.",
            "",
            "| group | n | brier | ece | mean abs error | roc_auc |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for g in ("low", "rest"):
            b = c[g]
            auc = f"{b['roc_auc']:.4f}" if "roc_auc" in b else "-"
            label = f"lowest {c['low_share']:.0%}" if g == "low" else "others"
            lines.append(
                f"| {g} ({label}) | {b['n']} | "
                f"{b.get('brier', float('nan')):.4f} | {b.get('ece', float('nan')):.4f} | "
                f"{b.get('mean_abs_error', float('nan')):.4f} | {auc} |"
            )
        lines.append("")
    lines += ["![reliability curves](calibration.png)", ""]
    return "\n".join(lines)
