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
from typing import Annotated, Any

import typer
from rich.table import Table

from leadgate.cli_common import (
    DbUrl,
    ProjectOpt,
    Resolved,
    _engine,
    _fail,
    _redact,
    _url,
    configure_cli_logging,
    console,
    err_console,
    friendly,
    resolve,
)
from leadgate.cli_leads import (
    _print_summary,
    _qualify,
    explain_cmd,
    import_cmd,
    load_qualifier,
    outcomes_import,
    qualify_cmd,
)
from leadgate.cli_models import evaluate_cmd, train_cmd
from leadgate.config import get_settings
from leadgate.logs import configure_logging

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


@db_app.command("upgrade")
@friendly
def db_upgrade(database_url: DbUrl = None) -> None:
    """Create or migrate the database schema to the latest version (every command also does this first)."""
    from leadgate.db import upgrade

    url = _url(database_url)
    upgrade(url)
    console.print(f"database at [bold]{_redact(url)}[/] is at the latest schema")


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
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Also run a delivery worker (outbox, SLA scheduler) in this process, as `leadgate worker` does.",
        ),
    ] = False,
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
    # JSON lines from uvicorn and the app alike; leadgate's own access record (leadgate.api.middleware)
    # replaces uvicorn's, which would log the client address and the raw query string
    configure_logging(settings.log_level, settings.log_file)
    background = _background_worker(settings) if worker else None
    try:
        _serve(uvicorn, create_app(settings, chat_factory=factory), host, port, settings)
    finally:
        if background is not None:
            background.stop()


def _background_worker(settings: Any) -> Any:
    """A ``leadgate worker`` (delivery and the SLA scheduler) in a daemon thread of this process; started."""
    import threading

    from leadgate.actions.worker import build_worker
    from leadgate.sla.job import sla_job

    worker = build_worker(
        _engine(settings.database_url), settings, jobs=[sla_job(settings)], poll_interval=0.2
    )
    threading.Thread(target=worker.run, name="leadgate-worker", daemon=True).start()
    console.print("delivery worker running in this process (outbox, SLA scheduler; see docs/worker.md)")
    return worker


def _serve(uvicorn: Any, app_: Any, host: str, port: int, settings: Any) -> None:
    uvicorn.run(
        app_,
        host=host,
        port=port,
        log_config=None,
        log_level=settings.log_level.lower(),
        access_log=False,
        # the app reads X-Forwarded-For itself, from LEADGATE_TRUSTED_PROXIES only (leadgate.api.ratelimit);
        # uvicorn's own default would trust it from 127.0.0.1
        proxy_headers=False,
    )


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
    """The main job on the embedded default: migrate, train on the bundled leads, qualify them all, serve.

    The server runs a delivery worker in its process (``serve --worker``): leads that arrive while it runs
    are routed to the example reps and their actions delivered (the bundled file itself is a history, so it
    is qualified without routing).

    A database without any API key gets an ``admin`` key, printed once, for the README's ``curl`` example;
    one without any staff account gets the local admin ``admin@example.com`` with a random password,
    printed once with the sign-in URL, so the staff pages open at once (demo database only: a database
    that has accounts gets none).
    """
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
    _first_admin_key(database_url)
    _first_admin_user(database_url)
    if serve:
        serve_cmd(host=None, port=None, project=project, database_url=database_url, chat=True, worker=True)


def _first_admin_key(database_url: str | None) -> None:
    """Create and print an ``admin`` API key for the demo database, once: only while it has no key at all."""
    from leadgate.db import write_lock
    from leadgate.governance.api_keys import count_keys, create_key

    engine = _engine(database_url)
    try:
        with write_lock(engine), engine.begin() as conn:
            if count_keys(conn):
                console.print("API keys: this database has some already (`leadgate keys list`)")
                return
            key, row = create_key(conn, name="quickstart", role="admin", created_by="quickstart")
    finally:
        engine.dispose()
    console.print(
        f"admin API key {row.prefix} for this demo database (shown once, keep it):", highlight=False
    )
    console.print(f"export LEADGATE_KEY={key}", highlight=False, soft_wrap=True)


DEMO_ADMIN_EMAIL = "admin@example.com"
"""The local admin account ``quickstart`` creates in a demo database without any staff account."""


def _first_admin_user(database_url: str | None) -> None:
    """Create and print a local ``admin`` sign-in for the demo database, once: only while it has no user."""
    import secrets

    from leadgate.audit.access import record_access, whoami
    from leadgate.db import write_lock
    from leadgate.governance.users import count_users, create_user

    password = secrets.token_urlsafe(18)  # 24 characters, 144 random bits
    engine = _engine(database_url)
    try:
        with write_lock(engine), engine.begin() as conn:
            if count_users(conn):
                console.print("staff accounts: this database has some already (`leadgate users list`)")
                return
            user = create_user(
                conn,
                email=DEMO_ADMIN_EMAIL,
                role="admin",
                created_by="quickstart",
                password=password,
                display_name="Demo admin",
            )
            record_access(
                conn,
                actor=whoami(),
                role=None,
                action="user_create",
                route="quickstart",
                object_type="user",
                object_ids=[str(user.id)],
                detail={"role": "admin", "demo": True},
            )
    finally:
        engine.dispose()
    settings = get_settings()
    console.print("staff sign-in for this demo database (shown once, keep it):", highlight=False)
    console.print(f"  url:      http://{settings.host}:{settings.port}/staff/sign-in", highlight=False)
    console.print(f"  email:    {user.email}", highlight=False)
    console.print(f"  password: {password}", highlight=False, soft_wrap=True)


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
    from leadgate.config import get_settings
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
