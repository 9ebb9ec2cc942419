"""The ``leadgate`` commands on models: ``train`` and ``evaluate``.

The command functions are plain typer command functions; ``leadgate.cli`` registers them on its app
(``quickstart`` calls ``train_cmd`` directly). Both read the labelled leads through ``_training_data``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from leadgate.cli_common import (
    AllowRejectedOpt,
    CutoffOpt,
    DataOpt,
    DbUrl,
    FeaturesOpt,
    MappingOpt,
    ProjectOpt,
    Resolved,
    _engine,
    _record_mapping,
    console,
    err_console,
    friendly,
    resolve,
)


def _training_data(r: Resolved, engine, allow_rejected: bool, cutoff: datetime | None):  # type: ignore[no-untyped-def]
    """The labelled leads of ``train`` and ``evaluate`` and the stage changes of the mapping, summarized."""
    from leadgate.project import DEFAULT_MAX_REJECTED_SHARE
    from leadgate.training import load_training_data

    mapping = r.mapping_obj()
    positive: tuple[str, ...] = ("converted", "won")
    window: int | None = None
    if r.outcomes is not None:
        from leadgate.audit.outcomes import load_outcomes_mapping

        outcomes_mapping = load_outcomes_mapping(r.outcomes)
        positive = tuple(outcomes_mapping.positive)
        window = outcomes_mapping.label_window_days
    share = r.project.spec.evaluation.max_rejected_share if r.project else DEFAULT_MAX_REJECTED_SHARE
    if cutoff is not None and cutoff.tzinfo is None:
        cutoff = cutoff.replace(tzinfo=UTC)
    changes = _record_mapping(engine, mapping)
    td = load_training_data(
        r.need("data"),
        mapping,
        r.feature_set(),
        engine=engine,
        positive_outcomes=positive,
        label_window_days=window,
        cutoff=cutoff,
        max_rejected_share=None if allow_rejected else share,
    )
    console.print(f"data: {td.summary()}; labels from {td.label_source}", highlight=False)
    if td.rejected:
        console.print(
            f"[yellow]{td.rejected} rows rejected ({td.rejected_share:.1%}), left out of training:[/] "
            + "; ".join(f"{reason} ({n})" for reason, n in td.rejected_reasons[:3]),
            highlight=False,
        )
    return td, changes


@friendly
def train_cmd(
    data: DataOpt = None,
    mapping: MappingOpt = None,
    features: FeaturesOpt = None,
    project: ProjectOpt = None,
    name: Annotated[
        str | None, typer.Option(help="Registry name of the model (default: the project's).")
    ] = None,
    cutoff: CutoffOpt = None,
    allow_rejected: AllowRejectedOpt = False,
    candidate: Annotated[
        list[str] | None,
        typer.Option(
            "--candidate",
            help="Only these candidates (lightgbm, logistic, blend; repeat the option); default the project's "
            "evaluation.candidates, else all three.",
        ),
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """Choose the best model (forward in time when the data has a time order) and register it as NAME@champion.

    Candidates: calibrated LightGBM, regularized logistic regression and their blend; the one with the lowest
    held-out log loss wins. Refuses a feature set that reads a post-decision column (no leakage).
    """
    from leadgate.training import train_and_register

    r = resolve(project, mapping=mapping, features=features, model=name, data=data)
    names = candidate or (list(r.project.spec.evaluation.candidates) if r.project else None)
    engine = _engine(database_url)
    try:
        td, _ = _training_data(r, engine, allow_rejected, cutoff)
        folds = r.project.spec.evaluation.folds if r.project else 5
        with console.status(f"training on {len(td.labels)} leads ({td.feature_set.ref})"):
            registered = train_and_register(engine, td, r.model_name, folds=folds, candidates=names)
    finally:
        engine.dispose()
    m = registered.metrics
    sel = m["selection"]
    console.print(
        f"registered [bold]{registered.ref}[/] (alias champion): {sel['champion']}, sha256 "
        f"{registered.content_hash[:16]}…, {m['n_train']} leads, base rate {m['base_rate']:.3f}",
        highlight=False,
    )
    console.print(f"why: {sel['reason']}", highlight=False)
    table = Table(title=f"candidates, held-out ({sel['evaluation']})")
    metrics = ("roc_auc", "log_loss", "brier", "ece")
    table.add_column("model")
    for col in metrics:
        table.add_column(col, justify="right")
    for cname, values in sel["candidates"].items():
        table.add_row(cname, *(f"{values[k]:.4f}" if k in values else "-" for k in metrics))
    console.print(table)


@friendly
def evaluate_cmd(
    data: DataOpt = None,
    mapping: MappingOpt = None,
    features: FeaturesOpt = None,
    project: ProjectOpt = None,
    report_dir: Annotated[
        Path | None,
        typer.Option("--report-dir", file_okay=False, help="Where reports go (default: reports/)."),
    ] = None,
    folds: Annotated[
        int | None, typer.Option(min=2, help="Folds / forward blocks (default: project's or 5).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Fold seed.")] = 42,
    cutoff: CutoffOpt = None,
    allow_rejected: AllowRejectedOpt = False,
    database_url: DbUrl = None,
) -> None:
    """Stratified k-fold and forward-in-time evaluation of the candidate models against the baselines.

    Baselines: Mautic-style points, Odoo-style naive Bayes, logistic regression (same splits). Also a
    single-feature leak audit and the stage changes since the previous mapping version. Writes report.json,
    report.md and calibration.png.
    """
    from leadgate.scoring.evaluate import evaluate

    r = resolve(project, mapping=mapping, features=features, data=data)
    engine = _engine(database_url)
    try:
        td, changes = _training_data(r, engine, allow_rejected, cutoff)
    finally:
        engine.dispose()
    k = folds or (r.project.spec.evaluation.folds if r.project else 5)
    out_dir = report_dir or ((r.project.root if r.project else Path.cwd()) / "reports")
    with console.status(f"evaluating on {len(td.labels)} leads ({td.feature_set.ref})"):
        report = evaluate(
            td.frame,
            td.labels,
            td.feature_set,
            out_dir,
            folds=k,
            seed=seed,
            order=td.order,
            time_axis=td.order_source,
            order_is_time=td.order_is_time,
            stage_changes=changes,
        )
    _print_report(report)
    console.print(f"reports written to {out_dir}/ (report.json, report.md, calibration.png)")


def _print_report(report: dict[str, Any]) -> None:
    """The evaluation tables (headline first), the champion, likely leaks and stage changes."""
    metrics = ("roc_auc", "pr_auc", "brier", "log_loss", "ece", "lift_at_10")
    names = {"forward": "forward in time", "kfold": "stratified k-fold"}
    headline = report["headline"]
    order = [headline, *(e for e in report["evaluations"] if e != headline)]
    for evaluation in order:
        block = report["evaluations"][evaluation]
        title = f"{names.get(evaluation, evaluation)}: {block.get('split', '')}"
        if evaluation == headline:
            title = "[bold]headline[/] " + title
        table = Table(title=title)
        table.add_column("scorer")
        for col in metrics:
            table.add_column(col, justify="right")
        for label, values in block["scorers"].items():
            mark = " (champion)" if label == report["champion"]["name"] else ""
            table.add_row(label + mark, *(f"{values[c]:.4f}" if c in values else "-" for c in metrics))
        console.print(table)
    console.print(report["deployment"], highlight=False)
    console.print(f"champion: {report['champion']['name']}: {report['champion']['reason']}", highlight=False)
    leakage = report.get("leakage") or {}
    for name in leakage.get("flagged", []):
        auc = leakage["features"][name]["auc"]
        err_console.print(
            f"[yellow]likely leak:[/] feature {name} alone gives held-out AUC {auc:.3f} (threshold "
            f"{leakage['threshold']}): was it recorded after the outcome? then declare it post_decision",
            highlight=False,
        )
    for line in report.get("stage_changes", []):
        err_console.print(f"[yellow]stage changed:[/] {line}", highlight=False)
