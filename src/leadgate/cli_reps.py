"""``leadgate reps``: check a reps file (line-precise, like ``policy check``) and list reps with their load.

``leadgate.cli`` registers ``reps_app``. The reps file format is ``docs/reps.md``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from leadgate.cli_common import DbUrl, _engine, console, err_console, friendly

if TYPE_CHECKING:
    from leadgate.yamlcheck import YamlIssue

reps_app = typer.Typer(
    help="Reps and teams (reps.yaml): check a file, list reps and their load.", no_args_is_help=True
)


def _print_issues(file: Path, issues: list[YamlIssue]) -> None:
    for issue in issues:
        err_console.print(
            f"{file}:{issue.line}:{issue.column}: {issue.path}: {issue.message}", highlight=False
        )


@reps_app.command("check")
def reps_check(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Reps YAML.")],
    calendars: Annotated[
        Path | None,
        typer.Option(
            "--calendars", exists=True, dir_okay=False, help="Also check a calendars file against these reps."
        ),
    ] = None,
) -> None:
    """Validate a reps file; prints ``file:line:column: path: message`` for each problem."""
    from leadgate.chat.booking import check_calendars_text
    from leadgate.reps import check_reps_text

    directory, issues = check_reps_text(file.read_text(encoding="utf-8"))
    if directory is None:
        _print_issues(file, issues)
        raise typer.Exit(1)
    console.print(
        f"{file}: ok ({directory.ref}, {len(directory.reps)} reps, {len(directory.teams)} teams)",
        highlight=False,
    )
    if calendars is not None:
        cal, cal_issues = check_calendars_text(calendars.read_text(encoding="utf-8"), directory)
        if cal is None:
            _print_issues(calendars, cal_issues)
            raise typer.Exit(1)
        console.print(f"{calendars}: ok ({cal.ref}, {len(cal.reps)} reps give demos)", highlight=False)


def _cap(value: int | None) -> str:
    return "-" if value is None else str(value)


@reps_app.command("list")
@friendly
def reps_list(
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            exists=True,
            dir_okay=False,
            help="Reps YAML (default: LEADGATE_REPS_FILE or the example).",
        ),
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="The instant to show (ISO 8601 with offset; default: now).")
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """List reps: team, active, weight, caps, today's and 30-day load (from assignments), out of office today."""
    from leadgate.config import get_settings
    from leadgate.errors import LeadgateError
    from leadgate.reps import load_reps
    from leadgate.reps.hours import zone
    from leadgate.reps.load import rep_loads

    directory = load_reps(file or get_settings().reps_file)
    now = datetime.now(UTC)
    if at is not None:
        try:
            now = datetime.fromisoformat(at)
        except ValueError as exc:
            raise LeadgateError(f"--at {at!r} is not an ISO 8601 date-time") from exc
        if now.tzinfo is None:
            raise LeadgateError(f"--at {at!r} needs a UTC offset, e.g. 2026-12-01T09:00:00+01:00")
    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            loads = {load.rep_id: load for load in rep_loads(conn, directory, now)}
    finally:
        engine.dispose()
    table = Table(title=f"{directory.ref} at {now.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    numbers = {"weight", "daily cap", "today", "30-day cap", "30 days"}
    for column in (
        "rep",
        "team",
        "active",
        "weight",
        "daily cap",
        "today",
        "30-day cap",
        "30 days",
        "out today",
    ):
        table.add_column(column, justify="right" if column in numbers else "left")
    for rep in directory.reps:
        load = loads[rep.id]
        day = now.astimezone(zone(rep.timezone)).date()
        absent = next((a for a in rep.out_of_office if a.start <= day <= a.end), None)
        table.add_row(
            rep.id,
            rep.team or "-",
            "yes" if rep.active else "no",
            f"{rep.weight:g}",
            _cap(rep.daily_cap),
            str(load.today),
            _cap(rep.monthly_cap),
            str(load.last_30_days),
            f"yes ({absent.reason})" if absent and absent.reason else ("yes" if absent else "no"),
        )
    console.print(table)
