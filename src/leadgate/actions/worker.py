"""``leadgate worker``: the dispatcher plus periodic jobs (the SLA pass), until told to stop.

The loop: run every periodic job that is due, dispatch one batch, and when the batch was not full (nothing
more is due) wait ``poll_interval`` seconds, or until stopped. ``stop()`` (the CLI calls it on SIGTERM and
SIGINT) lets the current delivery finish, gives the rest of the claimed batch back unattempted and returns.
A worker killed without warning (``kill -9``) leaves its claimed rows leased until ``claimed_until``; then
any worker takes them again (``leadgate.actions.outbox``).

``build_worker`` is the composition root of a worker process: settings -> destinations file (plugins
built with a ``DestinationContext``) -> reps -> ``Dispatcher`` -> ``Worker``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from leadgate.actions.destinations import destinations_path, load_destinations
from leadgate.actions.dispatcher import Dispatcher
from leadgate.actions.outbox import RetryPolicy
from leadgate.actions.ports import DestinationContext
from leadgate.db.store import utcnow
from leadgate.reps import load_reps

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    """A job the worker runs every ``every_seconds`` (the first run at start).

    Attributes:
        name: for the logs.
        every_seconds: the period (seconds, > 0).
        run: ``run(engine, now)``; an exception is logged and the job runs again next period.
    """

    name: str
    every_seconds: float
    run: Callable[[Engine, datetime], Any]


def metrics_text(dispatcher: Dispatcher) -> str:
    """The worker's counters in the Prometheus text exposition format (version 0.0.4).

    ``leadgate_outbox_deliveries_total{worker, outcome}`` (counter: rows handled by this process, by
    outcome) and ``leadgate_destination_circuit_open{worker, destination}`` (gauge: 1 while the breaker is
    open). Written to ``--metrics-file`` for node_exporter's textfile collector.
    """
    worker = dispatcher.worker_id.replace("\\", "\\\\").replace('"', '\\"')
    lines = [
        "# HELP leadgate_outbox_deliveries_total Outbox rows handled by this worker, by outcome.",
        "# TYPE leadgate_outbox_deliveries_total counter",
    ]
    for outcome in sorted(set(dispatcher.totals) | {"delivered", "retry", "dead", "skipped"}):
        value = dispatcher.totals.get(outcome, 0)
        lines.append(f'leadgate_outbox_deliveries_total{{worker="{worker}",outcome="{outcome}"}} {value}')
    lines += [
        "# HELP leadgate_destination_circuit_open 1 while the destination's circuit breaker is open.",
        "# TYPE leadgate_destination_circuit_open gauge",
    ]
    opened = set(dispatcher.open_destinations())
    for name in sorted(dispatcher.destinations):
        lines.append(
            f'leadgate_destination_circuit_open{{worker="{worker}",destination="{name}"}} {int(name in opened)}'
        )
    return "\n".join(lines) + "\n"


def write_metrics(path: Path, dispatcher: Dispatcher) -> None:
    """Write ``metrics_text`` to ``path`` atomically (a temporary file renamed over it)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(metrics_text(dispatcher), encoding="utf-8")
    os.replace(tmp, path)


def default_worker_id() -> str:
    """``host:pid``, unique among the workers of a deployment."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    """Runs a ``Dispatcher`` and periodic jobs (see the module doc).

    Args:
        engine: the leadgate database.
        dispatcher: delivers the outbox.
        jobs: periodic jobs (the integrator adds the SLA pass).
        batch: rows claimed per pass.
        poll_interval: seconds to wait when nothing was due.
        clock: the current UTC time.
        metrics_file: where to write the Prometheus counters after each pass, or None.
    """

    def __init__(
        self,
        engine: Engine,
        dispatcher: Dispatcher,
        jobs: Sequence[PeriodicJob] = (),
        *,
        batch: int = 20,
        poll_interval: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
        metrics_file: Path | None = None,
    ) -> None:
        self.engine = engine
        self.metrics_file = metrics_file
        self.dispatcher = dispatcher
        self.jobs = list(jobs)
        self.batch = batch
        self.poll_interval = poll_interval
        self.clock = clock
        self.stopping = threading.Event()
        self._next_run: dict[str, float] = {}

    def stop(self) -> None:
        """Ask the loop to stop after the current delivery (safe from a signal handler)."""
        self.stopping.set()

    def run_jobs(self) -> None:
        """Run each periodic job that is due (monotonic clock), logging a failing one."""
        for job in self.jobs:
            due = self._next_run.get(job.name, 0.0)
            if time.monotonic() < due:
                continue
            self._next_run[job.name] = time.monotonic() + job.every_seconds
            try:
                job.run(self.engine, self.clock())
            except Exception:  # one failing job must not stop delivery
                log.exception("periodic job failed", extra={"job": job.name})

    def run(self, *, once: bool = False) -> Counter[str]:
        """Loop until stopped; with ``once``, until nothing is due any more (each job runs once).

        Returns:
            Totals per outcome (``delivered``, ``retry``, ``dead``, ``skipped``, ...).
        """
        log.info("worker started", extra={"worker_id": self.dispatcher.worker_id})
        try:
            while not self.stopping.is_set():
                self.run_jobs()
                result = self.dispatcher.run_once(self.batch, self.stopping)
                if self.metrics_file is not None:
                    write_metrics(self.metrics_file, self.dispatcher)
                if result.claimed < self.batch:
                    if once:
                        break
                    self.stopping.wait(self.poll_interval)
        finally:
            self.dispatcher.close()
            log.info(
                "worker stopped",
                extra={"worker_id": self.dispatcher.worker_id, **dict(self.dispatcher.totals)},
            )
        return self.dispatcher.totals


def build_worker(
    engine: Engine,
    settings: Any,
    *,
    worker_id: str | None = None,
    jobs: Sequence[PeriodicJob] = (),
    batch: int = 20,
    poll_interval: float = 1.0,
    lease_seconds: float = 60.0,
    timeout_seconds: float = 10.0,
    policy: RetryPolicy | None = None,
    breaker_fail_max: int = 5,
    breaker_reset_seconds: float = 30.0,
    metrics_file: Path | None = None,
) -> Worker:
    """A worker from settings: the destinations file, the reps file, and the dispatcher over them.

    Raises:
        leadgate.actions.destinations.DestinationsError: the destinations file is invalid (every issue).
        leadgate.reps.loader.RepsError: the reps file is invalid.
    """
    destinations = load_destinations(destinations_path(settings))
    context = DestinationContext(engine=engine, settings=settings, timeout=timeout_seconds)
    built = destinations.build(context)
    dispatcher = Dispatcher(
        engine,
        built,
        worker_id=worker_id or default_worker_id(),
        reps=load_reps(settings.reps_file),
        policy=policy,
        lease_seconds=lease_seconds,
        timeout_seconds=timeout_seconds,
        breaker_fail_max=breaker_fail_max,
        breaker_reset_seconds=breaker_reset_seconds,
    )
    return Worker(
        engine, dispatcher, jobs, batch=batch, poll_interval=poll_interval, metrics_file=metrics_file
    )
