"""The ``leadgate`` command line (typer + rich).

Commands: ``db upgrade``, ``import``, ``train``, ``evaluate``, ``qualify``, ``explain``, ``policy check``,
``models list``, ``audit verify``, ``serve`` and ``quickstart`` (the README's main job).
The database is ``LEADGATE_DATABASE_URL`` (default: SQLite ``leadgate.db`` in the working directory),
or ``--database-url`` on any command.
"""

from __future__ import annotations

import sys
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

console = Console()
err_console = Console(stderr=True)

DbUrl = Annotated[
    str | None, typer.Option("--database-url", help="SQLAlchemy URL; default LEADGATE_DATABASE_URL or sqlite.")
]
MappingOpt = Annotated[Path, typer.Option("--mapping", exists=True, dir_okay=False, help="Column-mapping YAML.")]


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
    resume: Annotated[bool, typer.Option("--resume", help="Finish an interrupted import of this file.")] = False,
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


@policy_app.command("check")
def policy_check(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Policy YAML.")]) -> None:
    """Validate a policy file; prints ``file:line:column: path: message`` for each problem."""
    from leadgate.policy import check_policy_file, load_policy

    issues = check_policy_file(file)
    if issues:
        for issue in issues:
            err_console.print(f"{file}:{issue.line}:{issue.column}: {issue.path}: {issue.message}", highlight=False)
        raise typer.Exit(1)
    policy = load_policy(file)
    console.print(f"{file}: ok ({policy.ref})", highlight=False)


@audit_app.command("verify")
def audit_verify(database_url: DbUrl = None) -> None:
    """Recompute the decision hash chain; exits 1 at the first record that does not verify."""
    from leadgate.audit import verify_chain
    from leadgate.db import make_engine
    from leadgate.db import store

    engine = make_engine(_url(database_url))
    try:
        with engine.connect() as conn:
            head, count = store.chain_head(conn)
            checked, broken = verify_chain(store.iter_decisions(conn))
    finally:
        engine.dispose()
    if broken is not None:
        raise _fail(f"chain broken at decision #{broken.position} ({broken.decision_id}): {broken.reason}")
    if checked != count:
        raise _fail(f"chain head counts {count} decisions but {checked} are stored")
    if checked and head is None:
        raise _fail("chain head missing")
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
        table.add_row(r["name"], str(r["version"]), ", ".join(r["aliases"]), r["content_hash"][:16], str(r["created_at"]))
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
    sys.exit(main())
