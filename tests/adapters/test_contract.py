"""The shared destination contract (``tests/adapters/contract.py``) run for every built-in CRM destination.

The embedded CRM runs on SQLite and PostgreSQL (``engine`` fixture); HubSpot, Salesforce and the signed
webhook run against their local servers (real sockets).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from tests.adapters.contract import DestinationContract, FailureContract, Harness
from tests.adapters.fake_hubspot import FakeHubSpot
from tests.adapters.fake_salesforce import FakeSalesforce
from tests.adapters.webhook_receiver import WebhookReceiver
from tests.api.servers import free_port

from leadgate.actions.ports import DestinationContext
from leadgate.adapters.embedded import CONTACTS, TASKS, EmbeddedCrm
from leadgate.adapters.hubspot import HubSpot
from leadgate.adapters.salesforce import Salesforce
from leadgate.adapters.webhook import SignedWebhook
from leadgate.contracts.action import ActionKind


class TestEmbeddedContract(DestinationContract):
    @pytest.fixture
    def harness(self, engine: Engine) -> Iterator[Harness]:
        def effects(kind: ActionKind) -> int:
            table = CONTACTS if kind == "crm_upsert" else TASKS
            with engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

        harness = Harness(
            cls=EmbeddedCrm,
            config={},
            effects=effects,
            context=DestinationContext(engine=engine, settings=None),
            bad_configs=[
                (
                    {"task_title_prefix": "Follow up this lead right now, it is a hot one: "},
                    "task_title_prefix",
                )
            ],
        )
        yield harness
        harness.close_all()


@pytest.fixture
def hubspot(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHubSpot]:
    server = FakeHubSpot()
    monkeypatch.setenv("TEST_HUBSPOT_TOKEN", server.token)
    yield server
    server.stop()


def hubspot_config(server: FakeHubSpot) -> dict[str, object]:
    return {
        "base_url": server.url,
        "token_env": "TEST_HUBSPOT_TOKEN",
        "owners": {"anna": "81234567", "marcus": "81234568"},
    }


class TestHubSpotContract(FailureContract):
    @pytest.fixture
    def harness(self, hubspot: FakeHubSpot) -> Iterator[Harness]:
        config = hubspot_config(hubspot)

        def fail(mode: str) -> float | None:
            status = {"rate_limit": 429, "unavailable": 503, "bad_request": 400, "unauthorized": 401}[mode]
            hubspot.fail_next(status, retry_after="7" if mode == "rate_limit" else None)
            return 7.0 if mode == "rate_limit" else None

        harness = Harness(
            cls=HubSpot,
            config=config,
            effects=lambda kind: hubspot.count("contacts" if kind == "crm_upsert" else "tasks"),
            fail=fail,
            unreachable_config={**config, "base_url": f"http://127.0.0.1:{free_port()}"},
            bad_configs=[
                ({**config, "base_url": "api.hubapi.com without a scheme"}, "base_url"),
                ({**config, "token_env": "TEST_HUBSPOT_TOKEN_NOT_SET"}, "TEST_HUBSPOT_TOKEN_NOT_SET"),
                ({**config, "task_type": "FAX"}, "task_type"),
            ],
        )
        yield harness
        harness.close_all()


@pytest.fixture
def salesforce(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSalesforce]:
    server = FakeSalesforce()
    monkeypatch.setenv("TEST_SF_TOKEN", server.token)
    yield server
    server.stop()


def salesforce_config(server: FakeSalesforce) -> dict[str, object]:
    return {
        "instance_url": server.url,
        "token_env": "TEST_SF_TOKEN",
        "owners": {"anna": "0055g00000A1b2CAAR", "marcus": "0055g00000A1b2DAAR"},
        "limit_retry_after_s": 1800,
    }


class TestSalesforceContract(FailureContract):
    @pytest.fixture
    def harness(self, salesforce: FakeSalesforce) -> Iterator[Harness]:
        config = salesforce_config(salesforce)

        def fail(mode: str) -> float | None:
            # Salesforce signals its API limit with 403 REQUEST_LIMIT_EXCEEDED, without Retry-After.
            status = {"rate_limit": 403, "unavailable": 503, "bad_request": 400, "unauthorized": 401}[mode]
            salesforce.fail_next(status)
            return 1800.0 if mode == "rate_limit" else None

        harness = Harness(
            cls=Salesforce,
            config=config,
            effects=lambda kind: salesforce.count("Lead" if kind == "crm_upsert" else "Task"),
            fail=fail,
            unreachable_config={**config, "instance_url": f"http://127.0.0.1:{free_port()}"},
            bad_configs=[
                ({"token_env": "TEST_SF_TOKEN"}, "instance_url"),
                ({**config, "sobject": "Account"}, "sobject"),
                ({**config, "api_version": "v60"}, "api_version"),
                ({**config, "token_env": "TEST_SF_TOKEN_NOT_SET"}, "TEST_SF_TOKEN_NOT_SET"),
            ],
        )
        yield harness
        harness.close_all()


@pytest.fixture
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", secret)
    return secret


class TestSignedWebhookContract(FailureContract):
    @pytest.fixture
    def harness(self, webhook_secret: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
        receiver = WebhookReceiver(webhook_secret)
        config = {"url": f"{receiver.url}/hooks/leadgate", "secret_env": "TEST_WEBHOOK_SECRET"}
        monkeypatch.setenv("TEST_WEBHOOK_EMPTY_SECRET", "whsec_")

        def fail(mode: str) -> float | None:
            status = {"rate_limit": 429, "unavailable": 503, "bad_request": 400, "unauthorized": 401}[mode]
            receiver.fail_next(status, retry_after="30" if mode == "rate_limit" else None)
            return 30.0 if mode == "rate_limit" else None

        def effects(kind: ActionKind) -> int:
            with receiver.lock:
                return sum(1 for e in receiver.events.values() if e["type"] == f"leadgate.{kind}")

        harness = Harness(
            cls=SignedWebhook,
            config=config,
            effects=effects,
            fail=fail,
            unreachable_config={**config, "url": f"http://127.0.0.1:{free_port()}/hooks"},
            bad_configs=[
                ({"secret_env": "TEST_WEBHOOK_SECRET"}, "url"),
                ({**config, "secret_env": "TEST_WEBHOOK_SECRET_NOT_SET"}, "TEST_WEBHOOK_SECRET_NOT_SET"),
                ({**config, "secret_env": "TEST_WEBHOOK_EMPTY_SECRET"}, "TEST_WEBHOOK_EMPTY_SECRET"),
            ],
        )
        yield harness
        harness.close_all()
        assert receiver.rejected == 0, "every request the adapter sent verified"
        receiver.stop()
