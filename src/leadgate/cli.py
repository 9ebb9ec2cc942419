"""The ``leadgate`` command line (typer + rich).

Commands: ``init`` (draft a project from a CSV), ``db upgrade``, ``import``, ``outcomes import``, ``train``,
``evaluate``, ``qualify``, ``explain``, ``policy check``, ``models list``, ``audit verify``, ``serve`` and
``quickstart`` (the README's main job). ``--project DIR`` (or ``LEADGATE_PROJECT``, or a ``leadgate.yaml``
in the current folder) names the mapping, feature set, fit rules, policy and model, so no flag is repeated.
Every error a user can act on is one line on stderr and exit code 1 (``friendly``).
The database is ``LEADGATE_DATABASE_URL`` (default: SQLite ``leadgate.db`` in the working directory),
or ``--database-url`` on any command.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leadgate.config import get_settings

if TYPE_CHECKING:
    from leadgate.project import Project

app = typer.Typer(help="leadgate: explainable, auditable lead qualification.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
policy_app = typer.Typer(help="Qualification policies.", no_args_is_help=True)
models_app = typer.Typer(help="The model registry.", no_args_is_help=True)
audit_app = typer.Typer(help="The decision audit log.", no_args_is_help=True)
schemas_app = typer.Typer(help="Published JSON Schemas of the data contracts.", no_args_is_help=True)
outcomes_app = typer.Typer(
    help="Outcomes of leads (converted, won, lost): training labels.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(policy_app, name="policy")
app.add_typer(models_app, name="models")
app.add_typer(audit_app, name="audit")
app.add_typer(schemas_app, name="schemas")
app.add_typer(outcomes_app, name="outcomes")


def _init_command() -> None:
    from leadgate.cli_init import init_cmd

    app.command("init")(init_cmd)


_init_command()


def _nlu_app() -> typer.Typer:
    from leadgate.cli_nlu import nlu_app

    return nlu_app


app.add_typer(_nlu_app(), name="nlu", help="Intent and entity understanding of chat messages.")

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # file:line:col lines stay whole

DbUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL; default LEADGATE_DATABASE_URL or sqlite."),
]
MappingOpt = Annotated[
    Path | None,
    typer.Option(
        "--mapping", exists=True, dir_okay=False, help="Column-mapping YAML (default: the project's)."
    ),
]
ProjectOpt = Annotated[
    Path | None,
    typer.Option(
        "--project",
        exists=True,
        help="Project folder (or its leadgate.yaml); default LEADGATE_PROJECT, else ./leadgate.yaml if present.",
    ),
]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Finish an interrupted run of this file.")]
RestartOpt = Annotated[
    bool, typer.Option("--restart", help="Abandon an interrupted run of this file and start over.")
]


def _url(database_url: str | None) -> str:
    return database_url or get_settings().database_url


def _fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


F = TypeVar("F", bound=Callable[..., Any])


def friendly(fn: F) -> F:
    """Turn the errors a user can act on into one line on stderr and exit code 1 (no traceback).

    ``LeadgateError`` (every error leadgate raises on purpose), a missing file, and a database that
    cannot be reached. Anything else is a bug and keeps its traceback.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sqlalchemy.exc import OperationalError

        from leadgate.errors import LeadgateError

        try:
            return fn(*args, **kwargs)
        except LeadgateError as exc:
            raise _fail(str(exc)) from exc
        except FileNotFoundError as exc:
            raise _fail(f"file not found: {exc.filename or exc}") from exc
        except OperationalError as exc:
            first = str(exc.orig or exc).strip().splitlines()[0]
            raise _fail(f"database error: {first}") from exc

    return wrapper  # type: ignore[return-value]


def _engine(database_url: str | None):  # type: ignore[no-untyped-def]
    """An engine on the database, migrated to the latest schema first (new databases need no extra step)."""
    from leadgate.db import make_engine, upgrade

    url = _url(database_url)
    upgrade(url)
    return make_engine(url)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _count_rows(path: Path) -> int:
    with open(path, "rb") as fh:
        lines = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
    with open(path, "rb") as fh:
        fh.seek(-1, 2)
        ends_with_newline = fh.read(1) == b"\n"
    return max(0, lines - 1 + (0 if ends_with_newline else 1))


@db_app.command("upgrade")
@friendly
def db_upgrade(database_url: DbUrl = None) -> None:
    """Create or migrate the database schema to the latest version (every command also does this first)."""
    from leadgate.db import upgrade

    url = _url(database_url)
    upgrade(url)
    console.print(f"database at [bold]{_redact(url)}[/] is at the latest schema")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# --------------------------------------------------------------------------- project resolution

_NO_PROJECT_HINT = "pass --{flag} FILE, or --project DIR (a folder with a leadgate.yaml; `leadgate init FILE.csv` drafts one)"


@dataclass
class Resolved:
    """What a command uses: the project (if any) and the files named by flags or by the project."""

    project: Project | None
    mapping: Path | None = None
    features: Path | None = None
    policy: Path | None = None
    fit_rules: Path | None = None
    model: str | None = None
    outcomes: Path | None = None
    data: Path | None = None

    def need(self, what: str) -> Path:
        """The path of ``what`` (``mapping``, ``features``, ``policy``, ``data``) or a one-line error."""
        value = getattr(self, what)
        if value is None:
            flag = {"data": "data", "mapping": "mapping", "features": "features", "policy": "policy"}[what]
            raise _fail(f"no {what} given: " + _NO_PROJECT_HINT.format(flag=flag))
        return value

    def mapping_obj(self):  # type: ignore[no-untyped-def]
        """The column mapping, loaded (one-line errors)."""
        from leadgate.ingest import load_mapping

        return load_mapping(self.need("mapping"))

    def feature_set(self):  # type: ignore[no-untyped-def]
        """The feature set, loaded."""
        from leadgate.features import load_feature_set

        return load_feature_set(self.need("features"))

    def policy_obj(self):  # type: ignore[no-untyped-def]
        """The policy, loaded."""
        from leadgate.policy import load_policy

        return load_policy(self.need("policy"))

    def fit_rules_obj(self):  # type: ignore[no-untyped-def]
        """The fit rules, loaded, or None when the project has none."""
        from leadgate.scoring import load_fit_rules

        return None if self.fit_rules is None else load_fit_rules(self.fit_rules)

    @property
    def model_ref(self) -> str:
        """``name@alias`` of the model to load (``--model``, else the project's champion)."""
        if self.model is None:
            return "propensity@champion"
        return self.model if "@" in self.model else f"{self.model}@champion"

    @property
    def model_name(self) -> str:
        """The registry name ``train`` registers under."""
        return self.model_ref.partition("@")[0]


def resolve(
    project: Path | None,
    *,
    mapping: Path | None = None,
    features: Path | None = None,
    policy: Path | None = None,
    model: str | None = None,
    data: Path | None = None,
) -> Resolved:
    """Flags first, then the project file (``--project``, ``LEADGATE_PROJECT``, ``./leadgate.yaml``)."""
    from leadgate.project import find_project, read_project

    found = find_project(project, get_settings().project)
    proj = read_project(found) if found is not None else None
    if proj is not None:
        console.print(f"project [bold]{proj.name}[/] ({found})", highlight=False)
        return Resolved(
            proj,
            mapping=mapping or proj.mapping_path,
            features=features or proj.features_path,
            policy=policy or proj.policy_path,
            fit_rules=proj.fit_rules_path,
            model=model or proj.model,
            outcomes=proj.outcomes_path,
            data=data or proj.data_path,
        )
    return Resolved(None, mapping=mapping, features=features, policy=policy, model=model, data=data)


def _record_mapping(engine, mapping) -> list[str]:  # type: ignore[no-untyped-def]
    from leadgate.db import write_lock
    from leadgate.registry.mappings import record_mapping_version

    with write_lock(engine), engine.begin() as conn:
        changes = record_mapping_version(conn, mapping)
    for line in changes:
        err_console.print(f"[yellow]stage changed:[/] {line}", highlight=False)
    return changes


@app.command("import")
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


FeaturesOpt = Annotated[
    Path | None,
    typer.Option(
        "--features", exists=True, dir_okay=False, help="Feature-set YAML (default: the project's)."
    ),
]
ExplainOpt = Annotated[
    str, typer.Option("--explain", help="Explanations computed inline: all, routed (sent to sales) or none.")
]
DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data", exists=True, dir_okay=False, help="Labelled leads file (default: the project's data)."
    ),
]
AllowRejectedOpt = Annotated[
    bool,
    typer.Option(
        "--allow-rejected", help="Go on when more rows are rejected than the project's max_rejected_share."
    ),
]
CutoffOpt = Annotated[
    datetime | None,
    typer.Option(
        "--cutoff",
        formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"],
        help="Training cut-off (UTC): only leads and outcomes known by then (default: now).",
    ),
]


def _training_data(r: Resolved, engine, allow_rejected: bool, cutoff: datetime | None):  # type: ignore[no-untyped-def]
    from leadgate.project import DEFAULT_MAX_REJECTED_SHARE
    from leadgate.training import load_training_data

    mapping = r.mapping_obj()
    positive: tuple[str, ...] = ("converted", "won")
    if r.outcomes is not None:
        from leadgate.audit.outcomes import load_outcomes_mapping

        positive = tuple(load_outcomes_mapping(r.outcomes).positive)
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


@app.command("train")
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
    database_url: DbUrl = None,
) -> None:
    """Choose the best model (forward in time when the data has a time order) and register it as NAME@champion.

    Candidates: calibrated LightGBM, regularized logistic regression and their blend; the one with the lowest
    held-out log loss wins. Refuses a feature set that reads a post-decision column (no leakage).
    """
    from leadgate.training import train_and_register

    r = resolve(project, mapping=mapping, features=features, model=name, data=data)
    engine = _engine(database_url)
    try:
        td, _ = _training_data(r, engine, allow_rejected, cutoff)
        folds = r.project.spec.evaluation.folds if r.project else 5
        with console.status(f"training on {len(td.labels)} leads ({td.feature_set.ref})"):
            registered = train_and_register(engine, td, r.model_name, folds=folds)
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


@app.command("evaluate")
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


@app.command("qualify")
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
    """The project's ``Qualifier``: its model (or the rule fallback), policy and fit rules."""
    from leadgate.pipeline import Qualifier

    fs = r.feature_set() if r.features is not None else None
    return Qualifier.load(
        engine, r.policy_obj(), model_ref=r.model_ref, feature_set=fs, fit_rules=r.fit_rules_obj()
    )


def _qualify(file, r: Resolved, out, explain, resume, restart, chunk_size, database_url):  # type: ignore[no-untyped-def]
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


@app.command("explain")
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
    from leadgate.defaults import default_path
    from leadgate.features import load_feature_set

    return load_feature_set(default_path("features.yaml"))


@app.command("serve")
@friendly
def serve_cmd(
    host: Annotated[str | None, typer.Option(help="Interface (default LEADGATE_HOST or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default LEADGATE_PORT or 8000).")] = None,
    project: ProjectOpt = None,
    database_url: DbUrl = None,
    chat: Annotated[
        bool, typer.Option("--chat/--no-chat", help="Serve the chat assistant, its API and the demo page.")
    ] = True,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) and the chat assistant with its demo page (/demo)."""
    import uvicorn

    from leadgate.api import create_app
    from leadgate.api.state import no_chat
    from leadgate.config import Settings

    settings = get_settings()
    if database_url or project:
        changes: dict[str, Any] = {"database_url": database_url or settings.database_url}
        if project is not None:
            changes["project"] = project
        settings = Settings(**{**settings.model_dump(), **changes})
    _engine(settings.database_url).dispose()  # migrate first
    host = host or settings.host
    port = port or settings.port
    factory = no_chat
    if chat:
        from leadgate.chat.runtime import build_chat

        factory = build_chat
    console.print(f"leadgate API on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    if chat:
        console.print(f"chat demo page: http://{host}:{port}/demo")
    uvicorn.run(create_app(settings, chat_factory=factory), host=host, port=port, log_level="info")


@app.command("quickstart")
@friendly
def quickstart_cmd(
    project: Annotated[
        Path,
        typer.Option("--project", exists=True, help="Project folder (default: the bundled X Education one)."),
    ] = Path("examples/xeducation"),
    out: Annotated[Path, typer.Option(dir_okay=False, help="Decisions CSV.")] = Path("out/decisions.csv"),
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the API at the end.")] = True,
    database_url: DbUrl = None,
) -> None:
    """The main job on the embedded default: migrate, train on the bundled leads, qualify them all, serve."""
    from leadgate.registry import ModelNotFoundError, load_model

    db_upgrade(database_url)
    r = resolve(project)
    data = r.need("data")
    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            load_model(conn, r.model_ref)
        have_model = True
    except ModelNotFoundError:
        have_model = False
    finally:
        engine.dispose()
    if have_model:
        console.print(f"model {r.model_ref} already registered: not retraining")
    else:
        train_cmd(project=project, database_url=database_url)
    # resume=True: finish an interrupted earlier run of the same file; a finished one is not repeated
    summary = _qualify(data, r, out, "routed", True, False, 5000, database_url)
    _print_summary(summary, out, r)
    if serve:
        serve_cmd(host=None, port=None, project=project, database_url=database_url, chat=True)


@policy_app.command("check")
def policy_check(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Policy YAML.")],
) -> None:
    """Validate a policy file; prints ``file:line:column: path: message`` for each problem."""
    from leadgate.policy import check_policy_file, load_policy

    issues = check_policy_file(file)
    if issues:
        for issue in issues:
            err_console.print(
                f"{file}:{issue.line}:{issue.column}: {issue.path}: {issue.message}", highlight=False
            )
        raise typer.Exit(1)
    policy = load_policy(file)
    console.print(f"{file}: ok ({policy.ref})", highlight=False)


@audit_app.command("verify")
@friendly
def audit_verify(database_url: DbUrl = None) -> None:
    """Recompute the decision hash chain; exits 1 at the first record that does not verify."""
    from leadgate.pipeline import verify_audit_log

    engine = _engine(database_url)
    try:
        checked, head, problem = verify_audit_log(engine)
    finally:
        engine.dispose()
    if problem is not None:
        raise _fail(problem)
    console.print(f"audit chain intact: {checked} decisions, head {head[:16]}…")


@models_app.command("list")
@friendly
def models_list(database_url: DbUrl = None) -> None:
    """List registered model versions and their aliases."""
    from leadgate.registry import list_models

    engine = _engine(database_url)
    with engine.connect() as conn:
        rows = list_models(conn)
    engine.dispose()
    table = Table(title="models")
    for col in ("name", "version", "aliases", "sha256", "created"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["name"],
            str(r["version"]),
            ", ".join(r["aliases"]),
            r["content_hash"][:16],
            str(r["created_at"]),
        )
    console.print(table)


@outcomes_app.command("import")
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


@schemas_app.command("export")
def schemas_export(
    directory: Annotated[Path, typer.Argument(file_okay=False, help="Output folder.")] = Path("schemas"),
) -> None:
    """Write the JSON Schema of every published contract (lead.v1, decision.v1, ...)."""
    from leadgate.contracts.schemas import export_schemas

    for path in export_schemas(directory):
        console.print(f"wrote {path}")


def main() -> None:
    """Entry point of the ``leadgate`` console script."""
    app()


if __name__ == "__main__":
    main()
