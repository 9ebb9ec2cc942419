"""Honest evaluation: every candidate model and every baseline, stratified k-fold and forward in time.

``evaluate`` writes report.json, report.md and calibration.png. When the leads have a time order, the
forward-in-time figures (trained only on earlier leads) are the headline: they are what deployment sees.
Stratified k-fold is reported next to them, with how much it overstates them. The report also holds the
single-feature leak audit (``leadgate.scoring.leakage``), the stage changes of the mapping, the share of
test leads outside the training range, and the champion ``train`` would choose (``select_model``'s rule).
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
from typing import TYPE_CHECKING, Any

import lightgbm
import numpy as np
import pandas as pd
import sklearn
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray

from leadgate.scoring import metrics
from leadgate.scoring._data import check_labels, require_frame
from leadgate.scoring.baselines import LogisticBaseline, MauticPointsScorer, OdooNaiveBayesScorer
from leadgate.scoring.leakage import LEAK_AUC_THRESHOLD, single_feature_auc
from leadgate.scoring.metrics import METRIC_NAMES, N_BINS, TOP_FRACTION
from leadgate.scoring.selection import (
    MIN_TRAIN_PER_CLASS,
    SELECTION_METRIC,
    Evaluation,
    EvaluationError,
    HeldOut,
    Split,
    candidate_factories,
    check_order,
    choose_champion,
    drop_thin_steps,
    forward_splits,
    held_out_all,
    kfold_splits,
)

if TYPE_CHECKING:
    from leadgate.features import FeatureSet

__all__ = [
    "BASELINES",
    "LOW_CONFIDENCE_SHARE",
    "N_BINS",
    "TOP_FRACTION",
    "EvaluationError",
    "evaluate",
    "score_metrics",
]

#: Baselines run by ``evaluate``: report key -> class built as ``cls(categorical, numeric)``.
BASELINES: dict[str, Callable[[Sequence[str], Sequence[str]], Any]] = {
    "mautic_points": MauticPointsScorer,
    "odoo_naive_bayes": OdooNaiveBayesScorer,
    "logistic_regression": LogisticBaseline,
}

#: Share of leads with the lowest confidence compared with the rest in the confidence check.
LOW_CONFIDENCE_SHARE = 0.2

#: Metrics where a higher value is better (the others, brier, log_loss and ece, are better lower).
HIGHER_IS_BETTER = frozenset({"roc_auc", "pr_auc", "lift_at_10", "precision_at_10"})


def score_metrics(y: NDArray[np.int64], p: NDArray[np.float64]) -> dict[str, float]:
    """Every report metric of probabilities ``p`` (n,) of outcomes ``y`` (n,): see ``metrics.summary``."""
    return metrics.summary(y, p)


def evaluate(
    X: pd.DataFrame,
    y: ArrayLike,
    feature_set: FeatureSet,
    report_dir: Path,
    *,
    order: ArrayLike | None = None,
    time_axis: str | None = None,
    order_is_time: bool = False,
    folds: int = 5,
    seed: int = 42,
    candidates: Mapping[str, Callable[[], Any]] | None = None,
    baselines: Mapping[str, Callable[[Sequence[str], Sequence[str]], Any]] | None = None,
    stage_changes: Sequence[str] | None = None,
    audit_leaks: bool = True,
) -> dict[str, Any]:
    """Evaluate the candidates and the baselines by stratified k-fold and, with a time order, forward in time.

    * **k-fold**: ``StratifiedKFold(folds, shuffle=True, random_state=seed)``, the same folds for every
      scorer; metrics on the pooled out-of-fold probabilities of all n leads.
    * **forward** (only when ``order`` is given): ``selection.forward_splits(order, folds)``, an expanding
      window over ``folds + 1`` time blocks; metrics on the pooled predictions of blocks 1..folds.

    Every scorer gets every metric of ``metrics.summary`` in both. The champion is the candidate
    ``select_model`` would choose from the same figures (lowest held-out log loss of the headline
    evaluation). The leak audit gives each feature's single-feature held-out AUC
    (``leakage.single_feature_auc``, ``folds`` folds, ``seed``) and flags those at or above
    ``leakage.LEAK_AUC_THRESHOLD``.

    Args:
        X: leads, DataFrame (n, features) with every feature of ``feature_set``.
        y: outcomes (n,), 0/1.
        feature_set: the feature set; candidates are built from it, baselines read its categorical and
            numeric lists, and its ``ref`` is recorded.
        report_dir: directory for report.json, report.md and calibration.png (created if needed).
        order: int64 sort key per lead (n,): epoch nanoseconds of the mapping's time column, or the row
            index when the file is declared time-ordered; None when the leads have no time order.
        time_axis: what ``order`` is, in words, shown in the report (``"time column 'first_contact_date'"``,
            ``"file order (declared time_ordered)"``); None: "the given order".
        order_is_time: ``order`` holds epoch nanoseconds (block limits are shown as UTC times); else the
            keys (row numbers, a sequence number) are shown as they are.
        folds: k of both evaluations (k folds; k forward steps over k + 1 blocks).
        seed: seed of the k-fold splits, of the candidates and of the leak audit.
        candidates: name -> builder of an unfitted scorer; default ``selection.candidate_factories``.
        baselines: name -> ``cls(categorical, numeric)``; default ``BASELINES``.
        stage_changes: lines describing mapping stage changes since the last version (shown first).
        audit_leaks: run the single-feature leak audit.

    Returns:
        The report.json content (JSON types only), with the keys:

        * ``headline`` (``forward`` or ``kfold``) and ``deployment`` (the sentence on which figure
          predicts deployment, as in report.md);
        * ``champion``: ``name``, ``evaluation``, ``criterion`` (``log_loss``), ``reason``;
          ``candidates`` and ``baseline_names``: the scorer names, in report order;
        * ``evaluations``: ``kfold`` and (with an order) ``forward``, each with ``split`` (description),
          ``n_tested``, ``base_rate``, ``scorers`` (name -> the 7 metrics, ``roc_auc_per_split``,
          ``kind`` candidate/baseline, ``seconds``, ``out_of_range_share``), and for forward ``blocks``;
        * ``kfold_vs_forward`` (with an order): scorer -> metric -> ``{kfold, forward, difference}``
          (difference = k-fold minus forward);
        * ``model`` and ``baselines``: the champion's and the baselines' headline metrics (shortcuts);
        * ``out_of_range_share``: evaluation -> share of the champion's tested leads with a value outside
          its training support (None when the scorer cannot tell);
        * ``leakage``: ``threshold``, ``threshold_source``, ``method``, ``features`` (name -> ``{kind, auc,
          flagged}``, highest AUC first), ``flagged`` (None when ``audit_leaks`` is False);
        * ``stage_changes``; ``confidence`` (champion, headline evaluation, when it has one); ``meta``.

    Raises:
        TypeError: ``X`` is not a DataFrame.
        ValueError: bad labels or ``order``; ``EvaluationError`` when a split cannot be made (too few
            leads of a class for the folds, too few distinct times, a training part with one class).

    """
    X = require_frame(X)
    y_arr = check_labels(y, len(X))
    keys = None if order is None else check_order(order, len(X))
    started = time.perf_counter()
    report_dir = Path(report_dir)
    categorical, numeric = list(feature_set.categorical), list(feature_set.numeric)
    makers = dict(candidate_factories(feature_set, seed) if candidates is None else candidates)
    if not makers:
        raise ValueError("evaluate needs at least one candidate model")
    baseline_makers = {
        name: partial(maker, categorical, numeric)
        for name, maker in (BASELINES if baselines is None else baselines).items()
    }
    clash = sorted(set(makers) & set(baseline_makers))
    if clash:
        raise ValueError(f"candidate and baseline share a name: {', '.join(clash)}")

    split_sets: dict[str, list[Split]] = {"kfold": kfold_splits(y_arr, folds, seed)}
    if keys is not None:
        split_sets["forward"] = drop_thin_steps(forward_splits(keys, folds), y_arr)
    headline: Evaluation = "forward" if keys is not None else "kfold"
    axis = time_axis or "the given order"
    builders: dict[str, Callable[[], Any]] = {**makers, **baseline_makers}

    runs: dict[str, dict[str, HeldOut]] = {
        evaluation: held_out_all(builders, X, y_arr, splits, keep_models=set(makers))
        for evaluation, splits in split_sets.items()
    }

    evaluations: dict[str, Any] = {}
    for evaluation, splits in split_sets.items():
        evaluations[evaluation] = _evaluation_block(
            evaluation, splits, runs[evaluation], set(makers), y_arr, folds, seed, keys, axis, order_is_time
        )
    head_scorers = evaluations[headline]["scorers"]
    champion, reason = choose_champion({k: head_scorers[k] for k in makers}, headline)

    report: dict[str, Any] = {
        "headline": headline,
        "deployment": _deployment_sentence(headline, axis, champion, evaluations),
        "stage_changes": list(stage_changes or []),
        "champion": {
            "name": champion,
            "evaluation": headline,
            "criterion": SELECTION_METRIC,
            "reason": reason,
        },
        "candidates": list(makers),
        "baseline_names": list(baseline_makers),
        "evaluations": evaluations,
        "model": {k: head_scorers[champion][k] for k in (*METRIC_NAMES, "roc_auc_per_split")},
        "baselines": {
            k: {m: head_scorers[k][m] for m in (*METRIC_NAMES, "roc_auc_per_split")} for k in baseline_makers
        },
    }
    report["out_of_range_share"] = {
        evaluation: block["scorers"][champion]["out_of_range_share"]
        for evaluation, block in evaluations.items()
    }
    if keys is not None:
        report["kfold_vs_forward"] = {
            name: {
                m: {
                    "kfold": evaluations["kfold"]["scorers"][name][m],
                    "forward": evaluations["forward"]["scorers"][name][m],
                    "difference": evaluations["kfold"]["scorers"][name][m]
                    - evaluations["forward"]["scorers"][name][m],
                }
                for m in METRIC_NAMES
            }
            for name in [*makers, *baseline_makers]
        }
    report["leakage"] = _leak_audit(X, y_arr, feature_set, folds, seed) if audit_leaks else None
    champion_run = runs[headline][champion]
    if champion_run.confidence is not None:
        tested = champion_run.tested
        report["confidence"] = _confidence_check(
            y_arr[tested], champion_run.proba[tested], champion_run.confidence[tested]
        )
    fold_of = np.empty(len(y_arr), dtype=np.int64)
    for k, (_, test) in enumerate(split_sets["kfold"]):
        fold_of[test] = k
    calibration = {
        evaluation: {
            name: [getattr(m, "calibration_", None) for m in run.models]
            for name, run in by_name.items()
            if any(getattr(m, "calibration_", None) for m in run.models)
        }
        for evaluation, by_name in runs.items()
    }
    proto = makers[champion]()
    report["meta"] = {
        "n": len(y_arr),
        "base_rate": float(y_arr.mean()),
        "folds": folds,
        "seed": seed,
        "feature_set": feature_set.ref,
        "features": {"categorical": categorical, "numeric": numeric},
        "time_order": None if keys is None else axis,
        "order_is_time": order_is_time,
        "fold_assignment_sha256": hashlib.sha256(fold_of.tobytes()).hexdigest(),
        "champion_class": type(proto).__name__,
        "champion_params": _jsonable(proto.get_params()) if hasattr(proto, "get_params") else {},
        "calibration_per_split": calibration,
        "calibration_chosen": {
            evaluation: {
                name: Counter(c for c in chosen if c).most_common(1)[0][0] for name, chosen in by_name.items()
            }
            for evaluation, by_name in calibration.items()
        },
        "metrics_on": "pooled held-out probabilities (k-fold: all n leads; forward: every lead after the "
        "first time block)",
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
    report = _jsonable(report)
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    curves = {
        name: run.proba[run.tested]
        for name, run in runs[headline].items()
        if name in (champion, *baseline_makers)
    }
    tested = runs[headline][champion].tested
    title = "forward in time" if headline == "forward" else "stratified k-fold"
    _plot_calibration(y_arr[tested], curves, champion, title, report_dir / "calibration.png")
    (report_dir / "report.md").write_text(_markdown(report), encoding="utf-8")
    return report


# ----------------------------------------------------------------------------------------- report parts


def _evaluation_block(
    evaluation: str,
    splits: Sequence[Split],
    runs: Mapping[str, HeldOut],
    candidate_names: set[str],
    y: NDArray[np.int64],
    folds: int,
    seed: int,
    keys: NDArray[np.int64] | None,
    axis: str,
    order_is_time: bool,
) -> dict[str, Any]:
    any_run = next(iter(runs.values()))
    tested = any_run.tested
    scorers: dict[str, Any] = {}
    for name, run in runs.items():
        block: dict[str, Any] = run.metrics(y)
        block["roc_auc_per_split"] = [
            metrics.roc_auc(y[test], run.proba[test]) if 0 < y[test].sum() < len(test) else None
            for _, test in splits
        ]
        block["kind"] = "candidate" if name in candidate_names else "baseline"
        block["out_of_range_share"] = run.out_of_range_share()
        block["seconds"] = run.seconds
        scorers[name] = block
    out: dict[str, Any] = {
        "n_tested": int(tested.sum()),
        "base_rate": float(y[tested].mean()),
        "scorers": scorers,
    }
    if evaluation == "kfold":
        out["split"] = (
            f"StratifiedKFold(n_splits={folds}, shuffle=True, random_state={seed}), the same folds for every "
            "scorer; every lead tested once"
        )
    else:
        assert keys is not None
        out["split"] = (
            f"expanding window over {axis}: {folds + 1} contiguous time blocks, step i trains on blocks "
            f"0..i-1 and tests on block i (i = 1..{folds}); the first block is never tested"
        )
        if len(splits) < folds:
            out["split"] += (
                f"; the first {folds - len(splits)} step(s) were dropped: their training part held fewer than "
                f"{MIN_TRAIN_PER_CLASS} leads of an outcome (their blocks only train later steps)"
            )
        out["blocks"] = [
            {
                "step": i + 1,
                "n_train": len(train),
                "n_test": len(test),
                "train_base_rate": float(y[train].mean()),
                "test_base_rate": float(y[test].mean()),
                "train_last": _key_text(int(keys[train].max()), order_is_time),
                "test_first": _key_text(int(keys[test].min()), order_is_time),
                "test_last": _key_text(int(keys[test].max()), order_is_time),
            }
            for i, (train, test) in enumerate(splits)
        ]
    return out


def _key_text(key: int, is_time: bool) -> str | int:
    """An order key as an ISO-8601 UTC time (``is_time``: epoch ns) or the key itself (row or sequence number)."""
    if not is_time:
        return key
    return pd.Timestamp(key, unit="ns", tz="UTC").floor("s").strftime("%Y-%m-%dT%H:%M:%SZ")


def _deployment_sentence(headline: str, axis: str, champion: str, evaluations: Mapping[str, Any]) -> str:
    """Which figure predicts deployment, in words, with how much k-fold overstates it."""
    if headline == "kfold":
        return (
            "No time order was declared (no `time_column` in the mapping and the file is not declared "
            "`time_ordered`), so only stratified k-fold is available: it trains on leads from every "
            "period, including later ones, and overstates what deployment will see when conversion drifts "
            "over time. Declare a time column (or `time_ordered: true`) to get the forward-in-time figure."
        )
    kf = evaluations["kfold"]["scorers"][champion]
    fw = evaluations["forward"]["scorers"][champion]
    d_auc = kf["roc_auc"] - fw["roc_auc"]
    d_ll = fw["log_loss"] - kf["log_loss"]
    how = (
        f"k-fold puts the champion's ({champion}) AUC at {kf['roc_auc']:.3f} against {fw['roc_auc']:.3f} "
        f"forward ({'overstating' if d_auc >= 0 else 'understating'} it by {abs(d_auc):.3f}) and its log "
        f"loss at {kf['log_loss']:.4f} against {fw['log_loss']:.4f} forward "
        f"({'understating' if d_ll >= 0 else 'overstating'} it by {abs(d_ll):.4f})"
    )
    return (
        f"The leads have a time order ({axis}). The forward-in-time figures predict deployment: each "
        "model is trained only on leads that arrived before the ones it is tested on, as it will be "
        "once deployed. Stratified k-fold mixes later leads into training: " + how + "."
    )


def _leak_audit(
    X: pd.DataFrame, y: NDArray[np.int64], feature_set: FeatureSet, folds: int, seed: int
) -> dict[str, Any]:
    features: dict[str, Any] = {}
    for f in feature_set.features:
        auc = single_feature_auc(X[f.name].tolist(), y, f.kind, n_splits=folds, seed=seed)
        features[f.name] = {"kind": f.kind, "auc": auc, "flagged": auc >= LEAK_AUC_THRESHOLD}
    ordered = dict(sorted(features.items(), key=lambda kv: -kv[1]["auc"]))
    return {
        "threshold": LEAK_AUC_THRESHOLD,
        "threshold_source": "leadgate.scoring.leakage.LEAK_AUC_THRESHOLD",
        "method": f"out-of-fold ROC AUC of a one-feature target-rate model, StratifiedKFold({folds}, seed {seed})",
        "features": ordered,
        "flagged": [name for name, v in ordered.items() if v["flagged"]],
    }


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


def _plot_calibration(
    y: NDArray[np.int64], curves: Mapping[str, NDArray[np.float64]], champion: str, title: str, path: Path
) -> None:
    fig = Figure(figsize=(11, 4.8))
    FigureCanvasAgg(fig)
    ax, hist = fig.subplots(1, 2)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
    for name, p in curves.items():
        mean_p, rate, count = metrics.reliability_curve(y, p, N_BINS)
        filled = count > 0
        ece = metrics.expected_calibration_error(y, p, N_BINS)
        width = 2 if name == champion else 1.2
        label = f"{name} (champion)" if name == champion else name
        ax.plot(mean_p[filled], rate[filled], marker="o", linewidth=width, label=f"{label} (ECE {ece:.3f})")
        hist.hist(p, bins=np.linspace(0, 1, 21), histtype="step", linewidth=width, label=label)
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="mean predicted probability (10 equal-width bins)",
        ylabel="observed conversion rate",
        title=f"Reliability, held out ({title})",
    )
    ax.legend(loc="upper left", fontsize=8)
    hist.set(xlim=(0, 1), xlabel="predicted probability", ylabel="leads", title="Score distribution")
    hist.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# -------------------------------------------------------------------------------------------- markdown


def _fmt(v: Any, digits: int = 4) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _metrics_table(block: Mapping[str, Any], champion: str) -> list[str]:
    lines = [
        "| scorer | " + " | ".join(METRIC_NAMES) + " | outside training range |",
        "|---|" + "---:|" * (len(METRIC_NAMES) + 1),
    ]
    for name, s in block["scorers"].items():
        label = f"**{name}** (champion)" if name == champion else name
        if s["kind"] == "baseline":
            label += " (baseline)"
        oor = s["out_of_range_share"]
        lines.append(
            f"| {label} | "
            + " | ".join(_fmt(s[m]) for m in METRIC_NAMES)
            + f" | {'-' if oor is None else f'{oor:.1%}'} |"
        )
    return lines


def _markdown(report: Mapping[str, Any]) -> str:
    meta = report["meta"]
    champion = report["champion"]
    evaluations = report["evaluations"]
    headline = report["headline"]
    lines = ["# Scoring evaluation", ""]
    if report["stage_changes"]:
        lines += [
            "> **Stage changes in the column mapping** (a column moved to `pre_decision` may leak the outcome;",
            "> check the leak audit below):",
            ">",
            *[f"> - {line}" for line in report["stage_changes"]],
            "",
        ]
    leakage = report.get("leakage")
    if leakage and leakage["flagged"]:
        lines += [
            f"> **Likely leaks**: {', '.join(f'`{f}`' for f in leakage['flagged'])} "
            f"{'predicts' if len(leakage['flagged']) == 1 else 'predict'} the outcome alone with a held-out "
            f"AUC of {leakage['threshold']:.2f} or more; "
            "a value recorded after the outcome looks like this. See the leak audit.",
            "",
        ]
    lines += [
        f"Feature set `{meta['feature_set']}`, {meta['n']} leads, base rate {meta['base_rate']:.1%}.",
        "",
        "## Which figure predicts deployment",
        "",
        report["deployment"].replace("The forward-in-time figures", "The **forward-in-time** figures"),
        "",
        f"**Champion: `{champion['name']}`** (what `leadgate train` would choose): {champion['reason']}.",
        "",
    ]
    oor = report["out_of_range_share"]
    if oor.get(headline) is not None:
        where = "forward test leads" if headline == "forward" else "held-out leads"
        line = (
            f"**Outside the training range**: {oor[headline]:.1%} of the {where} had a value outside the "
            f"support of the champion that scored them"
        )
        if headline == "forward" and oor.get("kfold") is not None:
            line += f" (k-fold: {oor['kfold']:.1%}; new leads drift out of the range k-fold trains on)"
        lines += [line + ".", ""]
    order = ["forward", "kfold"] if headline == "forward" else ["kfold"]
    titles = {"forward": "Forward in time", "kfold": "Stratified k-fold"}
    for evaluation in order:
        block = evaluations[evaluation]
        tag = (
            " (headline: predicts deployment)" if evaluation == headline else " (for comparison: optimistic)"
        )
        lines += [
            f"## {titles[evaluation]}{tag}",
            "",
            f"Split: {block['split']}. {block['n_tested']} leads tested, base rate {block['base_rate']:.1%}.",
            "",
            *_metrics_table(block, champion["name"]),
            "",
        ]
    lines += [
        "Higher is better for roc_auc, pr_auc (average precision), lift_at_10 and precision_at_10 "
        f"(top {meta['top_fraction']:.0%} by probability); lower is better for brier, log_loss and ece "
        f'({meta["ece_bins"]} equal-width bins, weighted by count). "Outside training range": share of '
        "tested leads with a value outside the support of the model that scored them (a number outside the "
        "training min..max, a category or a missing value never seen in training).",
        "",
    ]
    if "kfold_vs_forward" in report:
        diff = report["kfold_vs_forward"]
        lines += [
            "## How much k-fold overstates",
            "",
            "k-fold minus forward, per scorer (positive AUC and negative log loss mean k-fold looks better).",
            "",
            "| scorer | AUC k-fold | AUC forward | AUC diff | log loss k-fold | log loss forward | log loss diff |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, d in diff.items():
            a, ll = d["roc_auc"], d["log_loss"]
            lines.append(
                f"| {name} | {a['kfold']:.4f} | {a['forward']:.4f} | {a['difference']:+.4f} | "
                f"{ll['kfold']:.4f} | {ll['forward']:.4f} | {ll['difference']:+.4f} |"
            )
        lines += [
            "",
            "### Forward time blocks",
            "",
            "| step | trained on | tested on | train until | test from | test until | test base rate | "
            f"{champion['name']} AUC |",
            "|---:|---:|---:|---|---|---|---:|---:|",
        ]
        per_block = evaluations["forward"]["scorers"][champion["name"]]["roc_auc_per_split"]
        for b, auc in zip(evaluations["forward"]["blocks"], per_block, strict=True):
            lines.append(
                f"| {b['step']} | {b['n_train']} | {b['n_test']} | {b['train_last']} | {b['test_first']} | "
                f"{b['test_last']} | {b['test_base_rate']:.1%} | {_fmt(auc)} |"
            )
        lines.append("")
    if leakage is not None:
        lines += [
            "## Leak audit",
            "",
            f"Each feature alone: {leakage['method']}. Flagged at AUC >= {leakage['threshold']:.2f} "
            f"(`{leakage['threshold_source']}`): one column doing as well as a whole honest model is the "
            "signature of a value recorded after the outcome. A flag asks for a human decision; it proves "
            "nothing either way.",
            "",
            "| feature | kind | single-feature AUC | flag |",
            "|---|---|---:|---|",
        ]
        for name, f in leakage["features"].items():
            lines.append(
                f"| {name} | {f['kind']} | {f['auc']:.3f} | {'**likely leak**' if f['flagged'] else ''} |"
            )
        lines.append("")
    chosen = meta["calibration_chosen"].get(headline, {})
    if chosen:
        lines += [
            "Calibration chosen (most splits, headline evaluation): "
            + ", ".join(f"{k}: {v}" for k, v in chosen.items())
            + ".",
            "",
        ]
    if "confidence" in report:
        c = report["confidence"]
        q = c["quantiles"]
        lines += [
            f"## Confidence of the champion ({titles[headline].lower()})",
            "",
            f"Quantiles: min {q['p0']:.3f}, p10 {q['p10']:.3f}, median {q['p50']:.3f}, p90 {q['p90']:.3f}.",
            "",
            "| group | n | brier | ece | mean abs error | roc_auc |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for g in ("low", "rest"):
            b = c[g]
            label = f"lowest {c['low_share']:.0%}" if g == "low" else "others"
            lines.append(
                f"| {g} ({label}) | {b['n']} | {_fmt(b.get('brier'))} | {_fmt(b.get('ece'))} | "
                f"{_fmt(b.get('mean_abs_error'))} | {_fmt(b.get('roc_auc'))} |"
            )
        lines.append("")
    lines += [f"![reliability curves, {titles[headline].lower()}](calibration.png)", ""]
    return "\n".join(lines)
