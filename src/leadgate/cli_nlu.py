"""``leadgate nlu``: build the intent model, parse one message, or evaluate the classifier on a JSONL file.

``nlu_app`` is a typer sub-application; ``leadgate.cli`` mounts it as ``leadgate nlu``. The intent model is
an artifact in ``nlu_cache_dir`` (``LEADGATE_NLU_CACHE_DIR``): ``leadgate nlu build`` trains and stores it
ahead of time (at setup, or in a Docker build); ``parse`` and ``evaluate`` load it, and build it first
only when it is missing or stale.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from leadgate.chat.nlu.evaluate import EvaluationReport, SubsetReport

nlu_app = typer.Typer(help="Intent and entity recognition for the chat front door.", no_args_is_help=True)

_console = Console()
_err = Console(stderr=True)

SHORT_NAMES: dict[str, str] = {
    "greet": "greet",
    "goodbye": "bye",
    "affirm": "aff",
    "deny": "deny",
    "inform": "inf",
    "demo_request": "demo",
    "pricing": "price",
    "product_question": "prod",
    "support": "supp",
    "job_seeker": "job",
    "spam": "spam",
    "human_handoff": "human",
    "out_of_scope": "oos",
}
"""Column headers of the confusion matrix (a legend is printed under it)."""


def _fail(message: str, code: int = 1) -> typer.Exit:
    _err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


@nlu_app.command("build")
def build(
    force: Annotated[
        bool, typer.Option("--force", help="Retrain even when a valid model is stored.")
    ] = False,
    cache_dir: Annotated[
        Path | None,
        typer.Option("--cache-dir", help="Where to store the model (default: the nlu_cache_dir setting)."),
    ] = None,
) -> None:
    """Train the intent model on the shipped data and store it in the cache (no-op when it is current).

    Prints the model file, its cache key, whether it was built or already current, and the time taken.
    """
    from leadgate.chat.nlu.intent import build_default_model, use_embeddings
    from leadgate.config import get_settings

    settings = get_settings()
    model, info = build_default_model(
        use_embeddings(settings.nlu_embeddings), cache_dir or settings.nlu_cache_dir, force=force
    )
    typer.echo(f"path: {info.path}")
    typer.echo(f"key: {info.key}")
    typer.echo(f"status: {'built (' + info.reason + ')' if info.built else 'current (loaded)'}")
    typer.echo(f"intents: {len(model.intents_)}")
    typer.echo(f"seconds: {info.seconds:.2f}")
    if not info.stored:
        raise _fail(f"the model could not be written to {info.path} (see the warning above)")


@nlu_app.command("parse")
def parse(
    text: Annotated[str, typer.Argument(help="The visitor's message.")],
    now: Annotated[
        str | None,
        typer.Option("--now", help="Reference time for relative dates (ISO 8601); default: now, UTC."),
    ] = None,
    region: Annotated[
        str,
        typer.Option(
            "--region", help="Default region (ISO 3166-1 alpha-2) for phone numbers and numeric dates."
        ),
    ] = "US",
) -> None:
    """Print the intent, its ranking and the entities of TEXT as JSON."""
    from leadgate.chat.nlu.interpreter import default_nlu

    reference: datetime | None = None
    if now is not None:
        try:
            reference = datetime.fromisoformat(now)
        except ValueError as exc:
            raise typer.BadParameter(f"not an ISO 8601 date-time: {now!r}", param_hint="--now") from exc
    nlu = default_nlu(warm_up=False)
    try:
        result = nlu.parse(text, now=reference, region=region)
    except ValueError as exc:
        raise _fail(str(exc), code=2) from exc
    typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))


@nlu_app.command("evaluate")
def evaluate(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="JSONL with 'text', 'mapped_intent' and 'mapping'."),
    ],
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    errors: Annotated[
        int, typer.Option("--errors", min=0, help="Also list this many misclassified rows.")
    ] = 0,
) -> None:
    """Report accuracy, macro-F1, per-intent precision/recall/F1 and confusion matrices.

    Overall and on the rows whose ``mapping`` is ``direct``. The eval label ``enter_data`` is scored as
    leadgate's ``inform``.
    """
    from leadgate.chat.nlu.evaluate import EvalDataError, evaluate_file
    from leadgate.chat.nlu.intent import default_intent_classifier

    classifier = default_intent_classifier()

    def classify(texts: list[str]) -> list[tuple[str, float]]:
        return [(p.name, p.confidence) for p in classifier.predict_many(texts)]

    try:
        report = evaluate_file(file, classify, max_errors=errors)
    except EvalDataError as exc:
        raise _fail(str(exc)) from exc
    if json_output:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return
    _print_report(report)


def _print_report(report: EvaluationReport) -> None:
    mapping = ", ".join(f"{k} -> {v}" for k, v in report.label_mapping.items())
    _console.print(f"[bold]{report.source}[/]  (label mapping: {mapping})")
    summary = Table(title="Intent classification")
    for col in ("subset", "rows", "accuracy", "macro-F1"):
        summary.add_column(col, justify="left" if col == "subset" else "right")
    for sub in (report.overall, report.direct):
        if sub is not None:
            summary.add_row(sub.name, str(sub.n), f"{sub.accuracy:.4f}", f"{sub.macro_f1:.4f}")
    _console.print(summary)
    for sub in (report.overall, report.direct):
        if sub is not None:
            _print_subset(sub)
    if report.errors:
        table = Table(title="Misclassified rows")
        for col in ("gold", "predicted", "conf", "mapping", "text"):
            table.add_column(col)
        for e in report.errors:
            table.add_row(
                str(e["gold"]),
                str(e["predicted"]),
                f"{e['confidence']:.2f}",
                str(e["mapping"]),
                str(e["text"]),
            )
        _console.print(table)


def _print_subset(sub: SubsetReport) -> None:
    table = Table(title=f"Per intent ({sub.name}, {sub.n} rows)")
    for col in ("intent", "eval label", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="left" if col in ("intent", "eval label") else "right")
    for m in sorted(sub.per_intent, key=lambda m: m.f1):
        table.add_row(
            m.intent,
            ", ".join(m.eval_labels),
            f"{m.precision:.3f}",
            f"{m.recall:.3f}",
            f"{m.f1:.3f}",
            str(m.support),
        )
    _console.print(table)
    cm = Table(title=f"Confusion matrix ({sub.name}; rows: gold, columns: predicted)")
    cm.add_column("gold")
    for label in sub.labels:
        cm.add_column(SHORT_NAMES.get(label, label), justify="right")
    for label, row in zip(sub.labels, sub.confusion, strict=False):
        cm.add_row(SHORT_NAMES.get(label, label), *(str(x) if x else "." for x in row))
    _console.print(cm)
    legend = ", ".join(f"{SHORT_NAMES.get(lab, lab)}={lab}" for lab in sub.labels)
    _console.print(f"[dim]{legend}[/]")
