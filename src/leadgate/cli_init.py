"""``leadgate init FILE.csv``: draft a commented project (mapping, features, policy, leadgate.yaml) from an export.

``init_cmd`` is a plain typer command function; ``leadgate.cli`` registers it with
``app.command("init")(init_cmd)``. The inference itself lives in ``leadgate.ingest.draft``; this module
only parses options, writes the files and prints what was inferred and what to run next.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from leadgate.ingest.draft import Draft

_console = Console()
_err = Console(stderr=True, soft_wrap=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    _err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def init_cmd(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="The CSV export (any delimiter or encoding).")
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Project folder to write (default: a new folder named after the file)."),
    ] = None,
    label: Annotated[
        str | None,
        typer.Option(
            "--label", help="Header of the outcome column (default: inferred from names and values)."
        ),
    ] = None,
    positive: Annotated[
        list[str] | None,
        typer.Option(
            "--positive",
            help="With --label: a value meaning a positive outcome (repeatable); every other value is negative.",
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Project name (default: from the file name, snake_case).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files of an existing draft.")] = False,
) -> None:
    """Draft a commented project from FILE: column mapping, feature set, policy and leadgate.yaml.

    Sniffs the delimiter and encoding, infers column types, proposes the id, label and time columns,
    finds missing-value tokens and constant columns, and names the columns that predict the label
    suspiciously well on their own. Nothing is final: review the files, then evaluate.
    """
    from leadgate.errors import LeadgateError
    from leadgate.ingest.draft import draft_project, write_draft

    try:
        draft = draft_project(file, label=label, positive=positive or None, name=name)
        folder = out if out is not None else file.parent / draft.name
        written = write_draft(draft, folder, force=force)
    except LeadgateError as exc:
        raise _fail(str(exc)) from exc
    except OSError as exc:
        raise _fail(f"{file}: {exc.strerror or exc}") from exc
    _summary(draft, folder, written)


def _summary(draft: Draft, folder: Path, written: list[Path]) -> None:
    from leadgate.scoring.leakage import LEAK_AUC_THRESHOLD

    delim = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(draft.delimiter, draft.delimiter)
    _console.print(
        f"[bold]{draft.source.name}[/]: {draft.n_rows} rows, {len(draft.columns)} columns, "
        f"{draft.encoding}{' with BOM' if draft.bom else ''}, {delim}-delimited",
        highlight=False,
    )
    table = Table(show_edge=False, pad_edge=False)
    for head in ("column", "type", "stage", "feature", "note"):
        table.add_column(head, overflow="fold")
    for col in draft.columns:
        role = (
            "id"
            if col.stage == "id"
            else "label"
            if col.stage == "label"
            else "time"
            if col.header == draft.time_column
            else col.stage
        )
        note = col.excluded.split(":")[0].split(" (")[0] if col.feature is None and col.excluded else ""
        if col.header in draft.leaks:
            note = f"[bold red]likely leak[/] (AUC {col.auc:.3f} alone)"
        elif col.missing_values:
            note = (
                (note + "; " if note else "")
                + "missing: "
                + ", ".join(repr(v) for v in col.missing_values[1:])
            )
        table.add_row(col.header, col.type, role, col.feature or "-", note)
    _console.print(table)
    facts = [
        ("id column", draft.id_column or "none (ids hashed from each row's content)"),
        ("label", draft.label_column or "none"),
        ("time column", draft.time_column or "none"),
    ]
    if draft.base_rate is not None:
        facts.append(
            ("base rate", f"{draft.base_rate:.1%} of {draft.n_positive + draft.n_negative} labelled rows")
        )
    for key, value in facts:
        _console.print(f"  {key}: {value}", highlight=False)
    if draft.leaks:
        _console.print(
            f"[bold yellow]Likely recorded after the outcome[/] (held-out AUC >= {LEAK_AUC_THRESHOLD} alone): "
            + ", ".join(draft.leaks)
            + ". Set stage: post_decision in mapping.yaml if so.",
            highlight=False,
        )
    for warning in draft.warnings:
        _console.print(f"[yellow]note:[/] {warning}", highlight=False)
    _console.print("Wrote " + ", ".join(str(p) for p in written), highlight=False)
    project = shlex.quote(str(folder))
    steps = ["review every comment in mapping.yaml, features.yaml and policy.yaml"]
    if draft.label_column is None:
        steps.append(
            f"leadgate outcomes import OUTCOMES.csv --mapping {project}/outcomes.yaml   "
            "(this file has no label; then uncomment `outcomes:` in leadgate.yaml)"
        )
    steps += [
        f"leadgate evaluate --project {project}",
        f"leadgate train --project {project}",
        f"leadgate qualify {shlex.quote(str(draft.source))} --project {project}",
    ]
    _console.print("[bold]Next:[/]")
    for i, step in enumerate(steps, 1):
        _console.print(f"  {i}. {step}", highlight=False, soft_wrap=True)
