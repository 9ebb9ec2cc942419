"""``leadgate worker``: deliver the outbox and run the periodic jobs until SIGTERM / SIGINT.

Destinations come from ``LEADGATE_DESTINATIONS_FILE`` (default: the embedded CRM), reps from
``LEADGATE_REPS_FILE``. Several workers may run at once on PostgreSQL (``FOR UPDATE SKIP LOCKED``); on
SQLite they take turns on the database write lock. ``--once`` delivers what is due and exits.
``leadgate.cli`` registers ``worker_cmd``; the SLA scheduler (``leadgate.sla.job``) runs in it unless ``--no-sla``.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from leadgate.cli_common import DbUrl, _engine, console, friendly

if TYPE_CHECKING:  # the worker's imports stay off every other command's start-up
    from leadgate.actions.worker import PeriodicJob

PERIODIC_JOBS: list[PeriodicJob] = []
"""Jobs every ``leadgate worker`` runs besides delivery and the SLA scheduler (``leadgate.sla.job``)."""


@friendly
def worker_cmd(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due, run each job once, exit.")
    ] = False,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Rows claimed per pass.")] = 20,
    poll_interval: Annotated[
        float, typer.Option("--poll-interval", min=0.01, help="Seconds to wait when nothing is due.")
    ] = 1.0,
    worker_id: Annotated[
        str | None, typer.Option("--worker-id", help="Lease holder id (default host:pid).")
    ] = None,
    lease: Annotated[float, typer.Option("--lease", min=1.0, help="Seconds a claim holds.")] = 60.0,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds per destination call.")
    ] = 10.0,
    max_attempts: Annotated[int, typer.Option("--max-attempts", min=1, help="Attempts before dead.")] = 8,
    metrics_file: Annotated[
        Path | None, typer.Option("--metrics-file", help="Write Prometheus counters here after each pass.")
    ] = None,
    sla: Annotated[
        bool, typer.Option("--sla/--no-sla", help="Run the SLA scheduler (escalate, re-assign) every 30 s.")
    ] = True,
    database_url: DbUrl = None,
) -> None:
    """Deliver the outbox (retries, circuit breakers) and run the periodic jobs until stopped."""
    from leadgate.actions.outbox import RetryPolicy
    from leadgate.actions.worker import build_worker
    from leadgate.config import get_settings

    engine = _engine(database_url)
    try:
        settings = get_settings()
        jobs = list(PERIODIC_JOBS)
        if sla:
            from leadgate.sla.job import sla_job

            jobs.append(sla_job(settings))
        worker = build_worker(
            engine,
            settings,
            worker_id=worker_id,
            jobs=jobs,
            batch=batch,
            poll_interval=poll_interval,
            lease_seconds=lease,
            timeout_seconds=timeout,
            policy=RetryPolicy(max_attempts=max_attempts),
            metrics_file=metrics_file,
        )

        def _stop(signum: int, _frame: Any) -> None:
            worker.stop()

        previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            totals = worker.run(once=once)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    finally:
        engine.dispose()
    console.print(
        ", ".join(f"{k}: {v}" for k, v in sorted(totals.items())) or "nothing to deliver", highlight=False
    )
