"""The ``leadgate`` command line (typer + rich).

Commands: ``init`` (draft a project from a CSV), ``db upgrade``, ``import``, ``outcomes import``, ``train``,
``evaluate``, ``qualify``, ``explain``, ``policy check``, ``models list``, ``audit verify``, ``keys``
(service API keys), ``serve`` and ``quickstart`` (the README's main job). ``--project DIR`` (or
``LEADGATE_PROJECT``, or a ``leadgate.yaml`` in the current folder) names the mapping, feature set, fit
rules, policy and model, so no flag is repeated.
Every error a user can act on is one line on stderr and exit code 1 (``friendly``).
The database is ``LEADGATE_DATABASE_URL`` (default: SQLite ``leadgate.db`` in the working directory),
or ``--database-url`` on any command.

This module holds the typer ``app``, its sub-apps and the registration of every command, plus the small
commands (``db upgrade``, ``policy check``, ``models list``, ``audit verify``, ``schemas export``,
``serve``, ``quickstart``). The rest lives beside it: ``cli_common`` (consoles, errors, options, project
resolution), ``cli_leads`` (``import``, ``outcomes import``, ``qualify``, ``explain``), ``cli_models``
(``train``, ``evaluate``), ``cli_init``, ``cli_nlu``, ``cli_keys`` (``keys create``, ``list``, ``rotate``,
``revoke``) and ``cli_users`` (``users create``, ``list``, ``disable``, ``set-password``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leadgate.cli_common import (
    DbUrl,
    Resolved,
    _engine,
    _fail,
    configure_cli_logging,
    console,
    err_console,
    friendly,
    resolve,
)
from leadgate.cli_leads import (
    explain_cmd,
    import_cmd,
    load_qualifier,
    outcomes_import,
    qualify_cmd,
)
from leadgate.cli_models import evaluate_cmd, train_cmd
from leadgate.cli_serve import db_upgrade, quickstart_cmd, serve_cmd
from leadgate.config import get_settings

__all__ = [
    "Resolved",
    "app",
    "audit_verify",
    "console",
    "db_upgrade",
    "err_console",
    "evaluate_cmd",
    "explain_cmd",
    "friendly",
    "import_cmd",
    "load_qualifier",
    "main",
    "models_list",
    "outcomes_import",
    "policy_check",
    "qualify_cmd",
    "quickstart_cmd",
    "resolve",
    "schemas_export",
    "serve_cmd",
    "train_cmd",
]

app = typer.Typer(help="leadgate: explainable, auditable lead qualification.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
policy_app = typer.Typer(help="Qualification policies.", no_args_is_help=True)
models_app = typer.Typer(help="The model registry.", no_args_is_help=True)
audit_app = typer.Typer(help="The decision audit log.", no_args_is_help=True)
schemas_app = typer.Typer(help="Published JSON Schemas of the data contracts.", no_args_is_help=True)
outcomes_app = typer.Typer(
    help="Outcomes of leads (converted, won, lost): training labels.", no_args_is_help=True
)


@app.callback()
def _logging() -> None:
    """Set up the JSON log records of the command (``LEADGATE_LOG_LEVEL``, ``LEADGATE_LOG_FILE``)."""
    configure_cli_logging()


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


def _chat_app() -> typer.Typer:
    from leadgate.cli_chat import chat_app

    return chat_app


app.add_typer(_chat_app(), name="chat", help="The chat assistant: check its branding and flow files.")


def _keys_app() -> typer.Typer:
    from leadgate.cli_keys import keys_app

    return keys_app


app.add_typer(_keys_app(), name="keys", help="Service API keys (sent as Authorization: Bearer).")


def _privacy_app() -> typer.Typer:
    from leadgate.cli_privacy import privacy_app

    return privacy_app


app.add_typer(_privacy_app(), name="privacy", help="Personal data: erasure, export (Art. 15) and retention.")


def _consent_app() -> typer.Typer:
    from leadgate.cli_consent import consent_app

    return consent_app


app.add_typer(_consent_app(), name="consent", help="A lead's consent: show it, record a new statement.")


def _users_app() -> typer.Typer:
    from leadgate.cli_users import users_app

    return users_app


app.add_typer(_users_app(), name="users", help="Staff accounts (sign-in to the staff pages).")


def _reps_app() -> typer.Typer:
    from leadgate.cli_reps import reps_app

    return reps_app


app.add_typer(
    _reps_app(), name="reps", help="Reps and teams (reps.yaml): check a file, list reps and their load."
)


def _outbox_app() -> typer.Typer:
    from leadgate.cli_outbox import outbox_app

    return outbox_app


app.add_typer(
    _outbox_app(), name="outbox", help="The delivery outbox: list, show, replay; check destinations."
)


def _worker_command() -> None:
    from leadgate.cli_worker import worker_cmd

    app.command("worker")(worker_cmd)


_worker_command()


def _email_app() -> typer.Typer:
    from leadgate.cli_email import email_app

    return email_app


app.add_typer(_email_app(), name="email", help="Enquiry mails: import .eml files, poll an IMAP mailbox.")

# commands are listed by `leadgate --help` in the order they are registered here
app.command("import")(import_cmd)
app.command("train")(train_cmd)
app.command("evaluate")(evaluate_cmd)
app.command("qualify")(qualify_cmd)
app.command("explain")(explain_cmd)
outcomes_app.command("import")(outcomes_import)


db_app.command("upgrade")(friendly(db_upgrade))
app.command("serve")(serve_cmd)
app.command("quickstart")(quickstart_cmd)


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
def audit_verify(
    database_url: DbUrl = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            "--checkpoints",
            dir_okay=False,
            help="Signed checkpoint file to check the chain against (needs LEADGATE_AUDIT_KEY[_FILE]).",
        ),
    ] = None,
) -> None:
    """Verify the decision log, the work-event log and the access log; exit 1 at a problem.

    The decision log: chain, leads, explanations, checkpoints; the work-event log: assignments, overrides,
    SLA escalations, outcomes.
    """
    from leadgate.audit.access import verify_access_log
    from leadgate.audit.checkpoint import AuditKeyError, audit_key, read_checkpoints
    from leadgate.audit.events import verify_events
    from leadgate.pipeline import verify_audit_log

    key = None
    if checkpoints is not None:
        key = audit_key(get_settings())
        if key is None:
            raise AuditKeyError(
                "--checkpoints needs the audit key: set LEADGATE_AUDIT_KEY or LEADGATE_AUDIT_KEY_FILE"
            )
    from leadgate.audit.log import erased_leads

    engine = _engine(database_url)
    try:
        checked, head, problem = verify_audit_log(engine, checkpoints, key, access=False)
        if problem is None:
            fields = [] if checkpoints is None else [c.fields for c in read_checkpoints(checkpoints, key)[0]]  # type: ignore[arg-type]
            with engine.connect() as conn:
                events, problem = verify_access_log(conn, checkpoints=fields)
        work = 0
        if problem is None:
            work, work_problem = verify_events(engine)
            problem = None if work_problem is None else f"work-event log: {work_problem}"
        erased = erased_leads(engine) if problem is None else 0
    finally:
        engine.dispose()
    if problem is not None:
        raise _fail(problem)
    console.print(f"audit chain intact: {checked} decisions, head {head[:16]}…")
    console.print(f"work-event log intact: {work} events (assignments, overrides, SLAs, outcomes)")
    console.print(f"access log intact: {events} events")
    if erased:
        console.print(
            f"{erased} leads erased under a tombstone (leadgate privacy): their stored data no longer "
            "gives their input_hash, accepted",
            highlight=False,
        )


@audit_app.command("access")
@friendly
def audit_access(
    actor: Annotated[
        str | None, typer.Option("--actor", help="Only this actor (user:3, key:abcd2345).")
    ] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only this action (read_pii, erase...).")
    ] = None,
    object_id: Annotated[
        str | None, typer.Option("--object", help="Only events about this object id.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many events.")] = 50,
    database_url: DbUrl = None,
) -> None:
    """List access-log events, newest first (who signed in, read personal data, erased, exported...)."""
    from rich.table import Table

    from leadgate.audit.access import iter_access

    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            rows = list(
                iter_access(
                    conn, actor=actor, action=action, object_id=object_id, limit=limit, newest_first=True
                )
            )
    finally:
        engine.dispose()
    table = Table(title=f"access log ({len(rows)} events, newest first)")
    for col in ("#", "at", "actor", "role", "action", "route", "objects"):
        table.add_column(col, no_wrap=col in ("#", "action"), overflow="fold")
    for r in rows:
        objects = ", ".join(r["object_ids"][:5]) + (" …" if len(r["object_ids"]) > 5 else "")
        table.add_row(
            str(r["id"]), r["at"], r["actor"], r["role"] or "-", r["action"], r["route"] or "-", objects
        )
    console.print(table)


@audit_app.command("checkpoint")
@friendly
def audit_checkpoint(database_url: DbUrl = None) -> None:
    """Verify the log, then append a signed checkpoint of its head (to start checkpointing an old chain)."""
    from leadgate.audit.checkpoint import record_head
    from leadgate.pipeline import verify_audit_log

    engine = _engine(database_url)
    try:
        checked, head, problem = verify_audit_log(engine)
        if problem is not None:
            raise _fail(problem)
        path = record_head(engine, checked, head)
    finally:
        engine.dispose()
    console.print(
        f"checkpoint of {checked} decisions, head {head[:16]}…, appended to {path}", highlight=False
    )


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
