"""The worker loop: periodic jobs next to delivery, a failing job does not stop it, stop() is graceful."""

from __future__ import annotations

import threading
import time
from datetime import datetime

from sqlalchemy import Engine
from tests.actions.crm_server import crm_server
from tests.actions.http_crm import HttpCrm
from tests.actions.seed import enqueue_for, store_decided

from leadgate.actions.dispatcher import Dispatcher
from leadgate.actions.ports import DestinationContext
from leadgate.actions.worker import PeriodicJob, Worker


def test_jobs_run_on_their_period_and_stop_is_graceful(engine: Engine) -> None:
    calls: list[datetime] = []

    def sla_pass(eng: Engine, now: datetime) -> None:
        assert eng is engine
        calls.append(now)

    def broken(eng: Engine, now: datetime) -> None:
        raise RuntimeError("the SLA policy file vanished")

    with crm_server() as (url, state):
        enqueue_for(engine, store_decided(engine, range(30)), {"crm_upsert": ["crm"]})
        crm = HttpCrm(HttpCrm.Config(url=url), DestinationContext(engine, None, 2.0))
        dispatcher = Dispatcher(engine, {"crm": crm}, worker_id="w-loop")
        worker = Worker(
            engine,
            dispatcher,
            [PeriodicJob("sla", 0.2, sla_pass), PeriodicJob("broken", 0.2, broken)],
            batch=7,
            poll_interval=0.05,
        )
        thread = threading.Thread(target=worker.run)
        thread.start()
        deadline = time.monotonic() + 30
        while len(state.records) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # idle: only the jobs run now
        worker.stop()
        thread.join(10)
        assert not thread.is_alive()
    assert len(state.records) == 30 and dispatcher.totals["delivered"] == 30
    assert len(calls) >= 3  # every 0.2 s despite the failing neighbour
    assert crm.client.is_closed  # destinations are closed when the worker stops


def test_once_returns_when_nothing_is_due(engine: Engine) -> None:
    with crm_server() as (url, state):
        enqueue_for(engine, store_decided(engine, range(10)), {"crm_upsert": ["crm"]})
        crm = HttpCrm(HttpCrm.Config(url=url), DestinationContext(engine, None, 2.0))
        worker = Worker(engine, Dispatcher(engine, {"crm": crm}, worker_id="w-once"), batch=4)
        totals = worker.run(once=True)
    assert totals == {"delivered": 10} and len(state.records) == 10
