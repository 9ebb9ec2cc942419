"""The ``leadgate`` commands on leads: ``import``, ``outcomes import``, ``qualify`` and ``explain``.

The command functions are plain typer command functions; ``leadgate.cli`` registers them on its app.
``quickstart`` reuses ``_qualify`` and ``_print_summary``; ``load_qualifier`` builds the project's qualifier.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leadgate.cli_common import (
    _NO_PROJECT_HINT,
    DbUrl,
    ExplainOpt,
    FeaturesOpt,
    MappingOpt,
    ProjectOpt,
    Resolved,
    RestartOpt,
    ResumeOpt,
    _count_rows,
    _engine,
    _fail,
    _progress,
    _record_mapping,
    console,
    err_console,
    friendly,
    resolve,
)
from leadgate.config import get_settings


@friendly
def import_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file to import.")],
    mapping: MappingOpt = None,
    project: ProjectOpt = None,
    resume: ResumeOpt = False,
    restart: RestartOpt = False,
    chunk_size: Annotated[int, typer.Option(min=1, help="Rows per transaction.")] = 5000,
    database_url: DbUrl = None,
) -> None:
    """Import leads from a CSV file; rejected rows go to the dead-letter table with their reason."""
    from leadgate.pipeline import import_file

    column_mapping = resolve(project, mapping=mapping).mapping_obj()
    engine = _engine(database_url)
    try:
        _record_mapping(engine, column_mapping)
        total = _count_rows(file)
        with _progress() as progress:
            task = progress.add_task("importing", total=total, rate="")
            summary = import_file(
                engine,
                file,
                column_mapping,
                resume=resume,
                restart=restart,
                chunk_size=chunk_size,
                progress=lambda n: progress.advance(task, n),
            )
            progress.update(task, completed=summary.rows_committed)
    finally:
        engine.dispose()
    if summary.status == "already_completed":
        console.print(
            f"import run {summary.run_id} of {file.name} already finished at {summary.finished_at}: nothing to do"
        )
        return
    table = Table(title=f"import run {summary.run_id}")
    for col in ("rows", "imported", "updated", "unchanged", "rejected", "resumed from row"):
        table.add_column(col, justify="right")
    table.add_row(
        str(summary.rows_committed),
        str(summary.imported),
        str(summary.updated),
        str(summary.unchanged),
        str(summary.rejected),
        str(summary.resumed_from),
    )
    console.print(table)
    if summary.rejected:
        console.print(f"{summary.rejected} rejected rows are in the dead_letters table with their reasons")


@friendly
def outcomes_import(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Outcomes CSV (e.g. closed deals).")
    ],
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping", exists=True, dir_okay=False, help="Outcomes mapping YAML (default: the project's)."
        ),
    ] = None,
    project: ProjectOpt = None,
    database_url: DbUrl = None,
) -> None:
    """Store outcomes (lead id, converted / opportunity created / won / lost, and when), idempotently.

    Rejected rows go to the dead-letter table with their reason. Training labels a lead by the positive
    outcomes known at its cut-off.
    """
    from leadgate.audit.outcomes import load_outcomes_mapping, read_outcomes, write_outcomes
    from leadgate.db import write_lock
    from leadgate.db.store import write_dead_letters
    from leadgate.pipeline import outcome_dead_letter_rows

    r = resolve(project)
    path = mapping or r.outcomes
    if path is None:
        raise _fail("no outcomes mapping given: " + _NO_PROJECT_HINT.format(flag="mapping"))
    spec = load_outcomes_mapping(path)
    records = read_outcomes(file, spec)
    engine = _engine(database_url)
    try:
        with write_lock(engine), engine.begin() as conn:
            stored = write_outcomes(conn, records.rows)
            write_dead_letters(conn, outcome_dead_letter_rows(spec.source, file, records.rejected))
    finally:
        engine.dispose()
    console.print(
        f"{len(records.rows) + len(records.rejected)} rows: {stored} outcomes stored, "
        f"{len(records.rows) - stored} already stored, {len(records.rejected)} rejected (dead letters)",
        highlight=False,
    )
    for number, _, reason in records.rejected[:5]:
        err_console.print(f"  row {number}: {reason}", highlight=False)


@friendly
def qualify_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file of leads.")],
    mapping: MappingOpt = None,
    project: ProjectOpt = None,
    out: Annotated[Path | None, typer.Option("--out", dir_okay=False, help="Decisions CSV to write.")] = None,
    explain: ExplainOpt = "routed",
    policy: Annotated[
        Path | None,
        typer.Option("--policy", exists=True, dir_okay=False, help="Policy YAML (default: the project's)."),
    ] = None,
    features: FeaturesOpt = None,
    model: Annotated[
        str | None,
        typer.Option(help="Model reference name[@alias|@version] (default: the project's champion)."),
    ] = None,
    resume: ResumeOpt = False,
    restart: RestartOpt = False,
    chunk_size: Annotated[int, typer.Option(min=1, help="Rows per transaction.")] = 5000,
    database_url: DbUrl = None,
) -> None:
    """Import, score and decide every lead of a file; store the decisions (audited) and write --out."""
    if explain not in ("all", "routed", "none"):
        raise _fail(f"--explain must be all, routed or none, not {explain!r}")
    r = resolve(project, mapping=mapping, policy=policy, model=model, features=features)
    summary = _qualify(file, r, out, explain, resume, restart, chunk_size, database_url)
    _print_summary(summary, out, r)


def load_qualifier(r: Resolved, engine):  # type: ignore[no-untyped-def]
    """The project's ``Qualifier``: its model (or the rule fallback), policy and fit rules.

    Args:
        r: The resolved project and flags (policy, model reference, feature set, fit rules).
        engine: An engine on the database holding the model registry.

    Returns:
        The ``leadgate.pipeline.Qualifier`` that scores and decides leads.
    """
    from leadgate.pipeline import Qualifier

    fs = r.feature_set() if r.features is not None else None
    return Qualifier.load(
        engine, r.policy_obj(), model_ref=r.model_ref, feature_set=fs, fit_rules=r.fit_rules_obj()
    )


def _qualify(file, r: Resolved, out, explain, resume, restart, chunk_size, database_url):  # type: ignore[no-untyped-def]
    """Qualify every lead of ``file`` with a progress bar; returns the run's summary (``qualify``, ``quickstart``)."""
    from leadgate.pipeline import check_policy_fields, qualify_file

    column_mapping = r.mapping_obj()
    engine = _engine(database_url)
    try:
        qualifier = load_qualifier(r, engine)
        check_policy_fields(qualifier.policy, column_mapping)
        if qualifier.model is None:
            err_console.print(
                f"[yellow]no model registered as {r.model_ref}: every lead is scored by the rule fallback[/]"
            )
        else:
            qualifier.feature_set.check_sources(column_mapping.stages())
        _record_mapping(engine, column_mapping)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
        total = _count_rows(file)
        with _progress() as progress:
            task = progress.add_task("qualifying", total=total, rate="")
            started = time.perf_counter()

            def advance(n: int) -> None:
                progress.advance(task, n)
                done = progress.tasks[0].completed
                progress.update(task, rate=f"{done / max(time.perf_counter() - started, 1e-9):,.0f} leads/s")

            summary = qualify_file(
                engine,
                file,
                column_mapping,
                qualifier,
                out=out,
                explain=explain,
                resume=resume,
                restart=restart,
                chunk_size=chunk_size,
                progress=advance,
            )
    finally:
        engine.dispose()
    return summary


def _print_summary(summary, out: Path | None, r: Resolved | None = None) -> None:  # type: ignore[no-untyped-def]
    """The tiers and actions of a qualify run, its rows, and a warning when the model extrapolates."""
    from leadgate.project import DEFAULT_MAX_OUT_OF_RANGE_SHARE

    imp = summary.imported
    if imp.status == "already_completed":
        console.print(
            f"qualify run {imp.run_id} of this file already finished at {imp.finished_at}: nothing to do "
            f"({summary.decisions} decisions on record)",
            highlight=False,
        )
    table = Table(title=f"{summary.decisions} decisions in {summary.seconds:.1f} s")
    table.add_column("tier")
    table.add_column("leads", justify="right")
    table.add_column("share", justify="right")
    for tier in ("hot", "warm", "nurture", "disqualified"):
        n = summary.tiers.get(tier, 0)
        table.add_row(tier, str(n), f"{n / max(summary.decisions, 1):.1%}")
    console.print(table)
    actions = Table(title="actions")
    actions.add_column("action")
    actions.add_column("leads", justify="right")
    for action, n in sorted(summary.actions.items()):
        actions.add_row(action, str(n))
    console.print(actions)
    console.print(
        f"rows {imp.rows_committed}: {imp.imported} new leads, {imp.updated} updated, {imp.unchanged} unchanged, "
        f"{imp.rejected} rejected (dead letters); {summary.explained} explained inline"
        + (f"; decisions written to {out}" if out else ""),
        highlight=False,
    )
    limit = (
        r.project.spec.monitoring.max_out_of_range_share
        if r and r.project
        else DEFAULT_MAX_OUT_OF_RANGE_SHARE
    )
    share = summary.out_of_range_share
    console.print(
        f"out of training range: {summary.out_of_range} leads ({share:.1%}) have a feature value the model "
        "never saw in training (their confidence is lowered)",
        highlight=False,
    )
    if share > limit:
        err_console.print(
            f"[yellow]warning:[/] {share:.1%} of these leads fall outside the training range (more than "
            f"{limit:.0%}): the model is extrapolating; retrain it on recent leads (`leadgate train`)",
            highlight=False,
        )


@friendly
def explain_cmd(
    lead_id: Annotated[str, typer.Argument(help="Lead id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
    project: ProjectOpt = None,
    database_url: DbUrl = None,
) -> None:
    """Show a lead's latest decision and why: the top factors that raised and lowered its score.

    An explanation not computed when the lead was qualified is computed now and stored.
    """
    from leadgate.db import store
    from leadgate.pipeline import Qualifier, decision_from_row, explain_stored

    r = resolve(project)
    engine = _engine(database_url)
    try:
        if r.project is not None:
            qualifier = load_qualifier(r, engine)
        else:  # no project: the shipped example (X Education) policy and fit rules, as `serve` uses
            from leadgate.defaults import default_path
            from leadgate.policy import load_policy
            from leadgate.scoring import load_fit_rules

            policy = load_policy(get_settings().policy_file or default_path("policy.yaml"))
            features = _shipped_features()
            qualifier = Qualifier.load(engine, policy, feature_set=features, fit_rules=load_fit_rules())
        with engine.connect() as conn:
            row = store.latest_decision(conn, lead_id)
        if row is None:
            raise _fail(f"no decision for lead {lead_id!r}")
        explanation, computed = explain_stored(engine, qualifier, row)
        decision = decision_from_row(row, explanation)
    finally:
        engine.dispose()
    if as_json:
        console.print_json(decision.model_dump_json())
        return
    s = decision.score
    console.print(f"[bold]lead {decision.lead_id}[/]  decided {decision.decided_at:%Y-%m-%d %H:%M:%S} UTC")
    console.print(
        f"probability to convert [bold]{s.probability:.1%}[/] (confidence {s.confidence:.2f}, fit {s.fit_score:.0f}/100)"
        f" -> tier [bold]{decision.tier}[/], action [bold]{decision.action}[/]"
        + (" (human review required)" if decision.review_required else "")
    )
    console.print(
        f"scored by {s.scorer} {s.model_name}@{s.model_version} (sha256 {s.model_hash[:12]}…), "
        f"features {s.feature_set}, policy {decision.policy_version}",
        highlight=False,
    )
    if s.fallback_reason:
        console.print(f"fallback: {s.fallback_reason}")
    for reason in decision.reasons:
        console.print(f"  policy: {reason}", highlight=False)
    if s.explanation is not None:
        how = "at qualification" if computed == "inline" else "on first request (stored since)"
        console.print(f"explanation ({s.explanation.method}) computed {how}")
        console.print("[green]raised the score:[/]")
        for f in s.explanation.positive or []:
            console.print(f"  + {f.text}", highlight=False)
        console.print("[red]lowered the score:[/]")
        for f in s.explanation.negative or []:
            console.print(f"  - {f.text}", highlight=False)


def _shipped_features():  # type: ignore[no-untyped-def]
    """The shipped example (X Education) feature set, for ``explain`` without a project."""
    from leadgate.defaults import default_path
    from leadgate.features import load_feature_set

    return load_feature_set(default_path("features.yaml"))
