"""What every ``leadgate`` command shares: the consoles, errors, options, the database and the project.

``console`` and ``err_console`` are the one pair of rich consoles every command prints to (tests widen
them through ``leadgate.cli``, which re-exports the same objects). ``friendly`` turns the errors a user can
act on into one line on stderr and exit code 1. ``resolve`` reads the project (``--project``,
``LEADGATE_PROJECT`` or ``./leadgate.yaml``) and the flags into a ``Resolved``. Heavy modules are imported
inside the functions, so ``leadgate --help`` stays fast.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from leadgate.config import get_settings

log = logging.getLogger("leadgate.cli")

if TYPE_CHECKING:
    from leadgate.project import Project

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # file:line:col lines stay whole

# --------------------------------------------------------------------------- options

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

# --------------------------------------------------------------------------- errors


def _url(database_url: str | None) -> str:
    """``--database-url``, else the configured one (``LEADGATE_DATABASE_URL`` or the SQLite default)."""
    return database_url or get_settings().database_url


def _fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: MESSAGE`` on stderr; return the ``typer.Exit`` for the caller to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


F = TypeVar("F", bound=Callable[..., Any])


def configure_cli_logging() -> None:
    """Set up the JSON log records of a CLI command.

    To ``LEADGATE_LOG_FILE`` at ``LEADGATE_LOG_LEVEL`` when a file is set, else to stderr, warnings and
    errors only (the command's own output stays readable). See docs/logging.md.
    """
    from leadgate.config import Settings
    from leadgate.logs import configure_logging

    settings = Settings()
    if settings.log_file is not None:
        configure_logging(settings.log_level, settings.log_file)
    else:
        level = max(logging.getLevelName(settings.log_level), logging.WARNING)
        configure_logging(level)


def friendly(fn: F) -> F:
    """Turn the errors a user can act on into one line on stderr and exit code 1 (no traceback).

    ``LeadgateError`` (every error leadgate raises on purpose), a missing file, and a database that
    cannot be reached. Anything else is a bug and keeps its traceback.

    Args:
        fn: The command function to wrap.

    Returns:
        The wrapped function, with ``fn``'s name, docstring (its help text) and signature.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sqlalchemy.exc import OperationalError

        from leadgate.errors import LeadgateError

        started = time.perf_counter()
        log.info("command started", extra={"command": fn.__name__})
        try:
            result = fn(*args, **kwargs)
        except LeadgateError as exc:
            log.info("command failed", extra={"command": fn.__name__, "error": type(exc).__name__})
            raise _fail(str(exc)) from exc
        except FileNotFoundError as exc:
            log.info("command failed", extra={"command": fn.__name__, "error": "FileNotFoundError"})
            raise _fail(f"file not found: {exc.filename or exc}") from exc
        except OperationalError as exc:
            log.info("command failed", extra={"command": fn.__name__, "error": "OperationalError"})
            first = str(exc.orig or exc).strip().splitlines()[0]
            raise _fail(f"database error: {first}") from exc
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        log.info("command finished", extra={"command": fn.__name__, "duration_ms": duration_ms})
        return result

    return wrapper  # type: ignore[return-value]


# --------------------------------------------------------------------------- database and progress


def _engine(database_url: str | None):  # type: ignore[no-untyped-def]
    """An engine on the database, migrated to the latest schema first (new databases need no extra step)."""
    from leadgate.db import make_engine, upgrade

    url = _url(database_url)
    upgrade(url)
    return make_engine(url)


def _redact(url: str) -> str:
    """The database URL with its password masked, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _progress() -> Progress:
    """The progress bar of ``import`` and ``qualify`` (rows done of the file's rows, rate, elapsed)."""
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
    """The number of data rows of a CSV file (its lines less the header), counted without parsing."""
    with open(path, "rb") as fh:
        lines = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
    with open(path, "rb") as fh:
        fh.seek(-1, 2)
        ends_with_newline = fh.read(1) == b"\n"
    return max(0, lines - 1 + (0 if ends_with_newline else 1))


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
    """Flags first, then the project file (``--project``, ``LEADGATE_PROJECT``, ``./leadgate.yaml``).

    Prints the project's name and file when there is one.

    Args:
        project: ``--project`` (a folder or its ``leadgate.yaml``), or None to look further.
        mapping: ``--mapping``; None takes the project's.
        features: ``--features``; None takes the project's.
        policy: ``--policy``; None takes the project's.
        model: ``--model`` / ``--name``; None takes the project's.
        data: ``--data``; None takes the project's.

    Returns:
        The project (or None) and the paths each flag or the project names.
    """
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
    """Record the mapping's version; warn on stderr of each stage that changed since the last one."""
    from leadgate.db import write_lock
    from leadgate.registry.mappings import record_mapping_version

    with write_lock(engine), engine.begin() as conn:
        changes = record_mapping_version(conn, mapping)
    for line in changes:
        err_console.print(f"[yellow]stage changed:[/] {line}", highlight=False)
    return changes
