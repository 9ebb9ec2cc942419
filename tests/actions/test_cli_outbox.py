"""``leadgate worker --once`` and ``leadgate outbox list | show | replay`` on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.actions.crm_server import crm_server
from tests.actions.seed import destinations_file, enqueue_for, store_decided
from tests.cli_support import run, wide_console  # noqa: F401 (fixture)

from leadgate.audit.events import iter_events
from leadgate.config import get_settings


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.mark.usefixtures("wide_console")
def test_worker_once_then_list_show_and_replay(
    engine: Engine, db_url: str, tmp_path: Path, settings_env: pytest.MonkeyPatch
) -> None:
    with crm_server() as (url, state):
        actions = enqueue_for(engine, store_decided(engine, range(3)), {"crm_upsert": ["crm"]})
        state.script.append(("400",))  # the first record is refused
        settings_env.setenv("LEADGATE_DESTINATIONS_FILE", str(destinations_file(tmp_path, url)))
        metrics = tmp_path / "leadgate_worker.prom"
        out = run(
            "worker",
            "--once",
            "--database-url",
            db_url,
            "--worker-id",
            "cli-test",
            "--metrics-file",
            str(metrics),
        )
        assert out.strip().splitlines()[-1] == "dead: 1, delivered: 2"
        prom = metrics.read_text().splitlines()
        assert 'leadgate_outbox_deliveries_total{worker="cli-test",outcome="delivered"} 2' in prom
        assert 'leadgate_outbox_deliveries_total{worker="cli-test",outcome="dead"} 1' in prom
        assert 'leadgate_destination_circuit_open{worker="cli-test",destination="crm"} 0' in prom
        assert "# TYPE leadgate_outbox_deliveries_total counter" in prom
        assert len(state.records) == 2

        listing = run("outbox", "list", "--status", "dead", "--database-url", db_url)
        assert "crm_upsert" in listing and actions[0].lead_id in listing
        assert actions[1].lead_id not in listing
        assert "pending: 0, delivered: 2, dead: 1, skipped: 0" in listing
        assert actions[0].lead_id in run(
            "outbox", "list", "--lead", actions[0].lead_id, "--database-url", db_url
        )

        shown = run("outbox", "show", actions[0].action_id, "--database-url", db_url)
        assert "status: dead" in shown and f"idempotency_key: {actions[0].idempotency_key}" in shown
        assert "CRM refused the record: property 'lifecyclestage' is invalid" in shown
        assert '"tier": "hot"' in shown

        run("outbox", "replay", "--database-url", db_url, code=1)  # nothing named
        assert "replayed 1 row(s)" in run("outbox", "replay", "--all-dead", "--database-url", db_url)
        out = run("worker", "--once", "--database-url", db_url, "--worker-id", "cli-test")
        assert out.strip().splitlines()[-1] == "delivered: 1"
        assert len(state.records) == 3 and state.total_posts == 4
    with engine.connect() as conn:
        (event,) = list(iter_events(conn, kind="delivery_replayed"))
    assert event["actor"].startswith("cli:") and event["data"]["action_id"] == actions[0].action_id
    assert "status: delivered" in run("outbox", "show", actions[0].action_id, "--database-url", db_url)
    run("outbox", "show", "no-such-action", "--database-url", db_url, code=1)
    run("outbox", "list", "--status", "lost", "--database-url", db_url, code=1)


def test_worker_refuses_a_bad_destinations_file_at_start(
    db_url: str, tmp_path: Path, settings_env: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "destinations.yaml"
    path.write_text(
        "destinations:\n  crm:\n    plugin: tests.actions.http_crm:HttpCrm\n    config: {uri: x}\n"
    )
    settings_env.setenv("LEADGATE_DESTINATIONS_FILE", str(path))
    out = run("worker", "--once", "--database-url", db_url, code=1)
    assert f"{path}:4:14: destinations.crm.config.uri: unknown key 'uri'" in out
