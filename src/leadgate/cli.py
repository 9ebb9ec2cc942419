"""The ``leadgate`` command line (typer + rich).

Commands: ``db upgrade``, ``import``, ``train``, ``evaluate``, ``qualify``, ``explain``, ``policy check``,
``models list``, ``audit verify``, ``serve`` and ``quickstart`` (the README's main job).
The database is ``LEADGATE_DATABASE_URL`` (default: SQLite ``leadgate.db`` in the working directory),
or ``--database-url`` on any command.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leadgate.config import get_settings

app = typer.Typer(help="leadgate: explainable, auditable lead qualification.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
policy_app = typer.Typer(help="Qualification policies.", no_args_is_help=True)
models_app = typer.Typer(help="The model registry.", no_args_is_help=True)
audit_app = typer.Typer(help="The decision audit log.", no_args_is_help=True)
schemas_app = typer.Typer(help="Published JSON Schemas of the data contracts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(policy_app, name="policy")
app.add_typer(models_app, name="models")
app.add_typer(audit_app, name="audit")
app.add_typer(schemas_app, name="schemas")


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
    Path, typer.Option("--mapping", exists=True, dir_okay=False, help="Column-mapping YAML.")
]


def _url(database_url: str | None) -> str:
    return database_url or get_settings().database_url


def _fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


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
def db_upgrade(database_url: DbUrl = None) -> None:
    """Create or migrate the database schema to the latest version."""
    from leadgate.db import upgrade

    url = _url(database_url)
    upgrade(url)
    console.print(f"database at [bold]{_redact(url)}[/] is at the latest schema")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file to import.")],
    mapping: MappingOpt,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish an interrupted import of this file.")
    ] = False,
    chunk_size: Annotated[int, typer.Option(min=1, help="Rows per transaction.")] = 5000,
    database_url: DbUrl = None,
) -> None:
    """Import leads from a CSV file; rejected rows go to the dead-letter table with their reason."""
    from leadgate.db import make_engine
    from leadgate.ingest import FileFormatError, MappingError, load_mapping
    from leadgate.pipeline import ImportInProgressError, import_file

    try:
        column_mapping = load_mapping(mapping)
    except MappingError as exc:
        raise _fail(str(exc)) from exc
    engine = make_engine(_url(database_url))
    total = _count_rows(file)
    try:
        with _progress() as progress:
            task = progress.add_task("importing", total=total, rate="")
            summary = import_file(
                engine,
                file,
                column_mapping,
                resume=resume,
                chunk_size=chunk_size,
                progress=lambda n: progress.advance(task, n),
            )
            progress.update(task, completed=summary.rows_committed)
    except (ImportInProgressError, FileFormatError) as exc:
        raise _fail(str(exc)) from exc
    finally:
        engine.dispose()
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
        "--features", exists=True, dir_okay=False, help="Feature-set YAML (default: the shipped one)."
    ),
]
ExplainOpt = Annotated[
    str, typer.Option("--explain", help="Explanations computed inline: all, routed (sent to sales) or none.")
]


def _feature_set(path: Path | None):  # type: ignore[no-untyped-def]
    from leadgate.defaults import default_path
    from leadgate.features import load_feature_set

    return load_feature_set(path or default_path("features.yaml"))


def _load_mapping(path: Path):  # type: ignore[no-untyped-def]
    from leadgate.ingest import MappingError, load_mapping

    try:
        return load_mapping(path)
    except MappingError as exc:
        raise _fail(str(exc)) from exc


def _training_data(data: Path, mapping: Path, features: Path | None):  # type: ignore[no-untyped-def]
    from leadgate.features import LeakageError
    from leadgate.pipeline import load_training_data

    try:
        return load_training_data(data, _load_mapping(mapping), _feature_set(features))
    except (LeakageError, ValueError) as exc:
        raise _fail(str(exc)) from exc


@app.command("train")
def train_cmd(
    data: Annotated[Path, typer.Option("--data", exists=True, dir_okay=False, help="Labelled CSV.")],
    mapping: MappingOpt,
    features: FeaturesOpt = None,
    name: Annotated[str, typer.Option(help="Registry name of the model.")] = "propensity",
    database_url: DbUrl = None,
) -> None:
    """Train the calibrated LightGBM propensity model and register it as ``NAME@champion``.

    Refuses a feature set that reads a post-decision column (no leakage).
    """
    from leadgate.db import make_engine
    from leadgate.pipeline import train_and_register

    td = _training_data(data, mapping, features)
    engine = make_engine(_url(database_url))
    try:
        with console.status(f"training on {len(td.labels)} leads ({td.feature_set.ref})"):
            registered = train_and_register(engine, td, name)
    finally:
        engine.dispose()
    m = registered.metrics
    console.print(
        f"registered [bold]{registered.ref}[/] (alias champion), sha256 {registered.content_hash[:16]}…, "
        f"{m['n_train']} leads, base rate {m['base_rate']:.3f}, calibration {m['calibration']}"
    )


@app.command("evaluate")
def evaluate_cmd(
    data: Annotated[Path, typer.Option("--data", exists=True, dir_okay=False, help="Labelled CSV.")],
    mapping: MappingOpt,
    report_dir: Annotated[Path, typer.Option("--report-dir", file_okay=False, help="Where reports go.")],
    features: FeaturesOpt = None,
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Fold seed.")] = 42,
) -> None:
    """Stratified k-fold evaluation of the model against three baselines.

    Baselines: Mautic-style points, Odoo-style naive Bayes, logistic regression (same folds).
    Writes report.json, report.md and calibration.png.
    """
    from leadgate.scoring import PropensityScorer, evaluate

    td = _training_data(data, mapping, features)
    with console.status(f"{folds}-fold cross-validation on {len(td.labels)} leads"):
        report = evaluate(
            td.frame,
            td.labels,
            td.feature_set.ref,
            lambda: PropensityScorer.from_feature_set(td.feature_set),
            report_dir,
            n_splits=folds,
            seed=seed,
        )
    table = Table(title=f"{folds}-fold CV, seed {seed}, {len(td.labels)} leads ({td.feature_set.ref})")
    metrics = ("roc_auc", "pr_auc", "brier", "log_loss", "ece", "lift_at_10", "precision_at_10")
    table.add_column("scorer")
    for col in metrics:
        table.add_column(col, justify="right")
    rows = {"model": report["model"], **report["baselines"]}
    for label, values in rows.items():
        table.add_row(label, *(f"{values[k]:.4f}" for k in metrics))
    console.print(table)
    console.print(f"reports written to {report_dir}/ (report.json, report.md, calibration.png)")


@app.command("qualify")
def qualify_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file of leads.")],
    mapping: MappingOpt,
    out: Annotated[Path | None, typer.Option("--out", dir_okay=False, help="Decisions CSV to write.")] = None,
    explain: ExplainOpt = "routed",
    policy: Annotated[
        Path | None,
        typer.Option("--policy", exists=True, dir_okay=False, help="Policy YAML (default: shipped)."),
    ] = None,
    model: Annotated[
        str, typer.Option(help="Model reference name[@alias|@version].")
    ] = "propensity@champion",
    resume: Annotated[bool, typer.Option("--resume", help="Finish an interrupted run of this file.")] = False,
    chunk_size: Annotated[int, typer.Option(min=1, help="Rows per transaction.")] = 5000,
    database_url: DbUrl = None,
) -> None:
    """Import, score and decide every lead of a file; store the decisions (audited) and write --out."""
    if explain not in ("all", "routed", "none"):
        raise _fail(f"--explain must be all, routed or none, not {explain!r}")
    summary = _qualify(file, mapping, out, explain, policy, model, resume, chunk_size, database_url)
    _print_summary(summary, out)


def _qualify(file, mapping, out, explain, policy, model, resume, chunk_size, database_url):  # type: ignore[no-untyped-def]
    from leadgate.db import make_engine
    from leadgate.defaults import default_path
    from leadgate.ingest import FileFormatError
    from leadgate.pipeline import ImportInProgressError, Qualifier, qualify_file
    from leadgate.policy import PolicyError, load_policy

    column_mapping = _load_mapping(mapping)
    try:
        loaded_policy = load_policy(policy or default_path("policy.yaml"))
    except PolicyError as exc:
        raise _fail(str(exc)) from exc
    engine = make_engine(_url(database_url))
    try:
        qualifier = Qualifier.load(engine, loaded_policy, model_ref=model)
        if qualifier.model is None:
            err_console.print(
                f"[yellow]no model registered as {model}: every lead is scored by the rule fallback[/]"
            )
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
                chunk_size=chunk_size,
                progress=advance,
            )
    except (ImportInProgressError, FileFormatError) as exc:
        raise _fail(str(exc)) from exc
    finally:
        engine.dispose()
    return summary


def _print_summary(summary, out: Path | None) -> None:  # type: ignore[no-untyped-def]
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
    imp = summary.imported
    console.print(
        f"rows {imp.rows_committed}: {imp.imported} new leads, {imp.updated} updated, {imp.unchanged} unchanged, "
        f"{imp.rejected} rejected (dead letters); {summary.explained} explained inline"
        + (f"; decisions written to {out}" if out else "")
    )


@app.command("explain")
def explain_cmd(
    lead_id: Annotated[str, typer.Argument(help="Lead id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
    database_url: DbUrl = None,
) -> None:
    """Show a lead's latest decision and why: the top factors that raised and lowered its score.

    An explanation not computed when the lead was qualified is computed now and stored.
    """
    from leadgate.db import make_engine, store
    from leadgate.defaults import default_path
    from leadgate.pipeline import Qualifier, decision_from_row, explain_stored
    from leadgate.policy import load_policy

    engine = make_engine(_url(database_url))
    try:
        qualifier = Qualifier.load(
            engine, load_policy(get_settings().policy_file or default_path("policy.yaml"))
        )
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


@app.command("serve")
def serve_cmd(
    host: Annotated[str | None, typer.Option(help="Interface (default LEADGATE_HOST or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default LEADGATE_PORT or 8000).")] = None,
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
    if database_url:
        settings = Settings(**{**settings.model_dump(), "database_url": database_url})
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
def quickstart_cmd(
    data: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="Labelled leads.")] = Path(
        "examples/xeducation/Leads.csv"
    ),
    mapping: Annotated[Path, typer.Option(exists=True, dir_okay=False)] = Path(
        "examples/xeducation/mapping.yaml"
    ),
    out: Annotated[Path, typer.Option(dir_okay=False, help="Decisions CSV.")] = Path("out/decisions.csv"),
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the API at the end.")] = True,
    database_url: DbUrl = None,
) -> None:
    """The main job on the embedded default: migrate, train on the bundled leads, qualify them all, serve."""
    from leadgate.db import make_engine
    from leadgate.registry import ModelNotFoundError, load_model

    db_upgrade(database_url)
    engine = make_engine(_url(database_url))
    try:
        with engine.connect() as conn:
            load_model(conn, "propensity@champion")
        have_model = True
    except ModelNotFoundError:
        have_model = False
    finally:
        engine.dispose()
    if have_model:
        console.print("model propensity@champion already registered: not retraining")
    else:
        train_cmd(data=data, mapping=mapping, features=None, name="propensity", database_url=database_url)
    out.parent.mkdir(parents=True, exist_ok=True)
    # resume=True: finish an interrupted earlier run of the same file, else start a new run
    summary = _qualify(data, mapping, out, "routed", None, "propensity@champion", True, 5000, database_url)
    _print_summary(summary, out)
    if serve:
        serve_cmd(host=None, port=None, database_url=database_url, chat=True)


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
def audit_verify(database_url: DbUrl = None) -> None:
    """Recompute the decision hash chain; exits 1 at the first record that does not verify."""
    from leadgate.db import make_engine
    from leadgate.pipeline import verify_audit_log

    engine = make_engine(_url(database_url))
    try:
        checked, head, problem = verify_audit_log(engine)
    finally:
        engine.dispose()
    if problem is not None:
        raise _fail(problem)
    console.print(f"audit chain intact: {checked} decisions, head {head[:16]}…")


@models_app.command("list")
def models_list(database_url: DbUrl = None) -> None:
    """List registered model versions and their aliases."""
    from leadgate.db import make_engine
    from leadgate.registry import list_models

    engine = make_engine(_url(database_url))
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
