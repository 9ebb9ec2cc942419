"""The worked example of ``docs/adapters.md`` (one file + one entry point), taken from the page and run
through the shared contract suite against a local "Acme CRM" server that honours ``Idempotency-Key``."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from tests.adapters.contract import FailureContract, Harness
from tests.adapters.fakeserver import FakeServer, Reply, Request
from tests.api.servers import free_port

from leadgate.adapters import ENTRY_POINT_GROUP, load_entry_point
from leadgate.contracts.action import ActionKind

DOC = Path(__file__).resolve().parents[2] / "docs" / "adapters.md"


def doc_block(marker: str) -> str:
    """The fenced code block right after ``<!-- example: <marker> -->`` in docs/adapters.md."""
    match = re.search(rf"<!-- example: {marker} -->\n```\w+\n(.*?)\n```", DOC.read_text(), re.S)
    assert match, f"docs/adapters.md has no example block {marker!r}"
    return match.group(1)


def doc_entry_point() -> EntryPoint:
    toml = doc_block("entry point")
    assert f'[project.entry-points."{ENTRY_POINT_GROUP}"]' in toml
    name, value = re.search(r'^(\w+) = "([\w.:]+)"$', toml, re.M).groups()  # type: ignore[union-attr]
    return EntryPoint(name, value, ENTRY_POINT_GROUP)


class FakeAcme(FakeServer):
    """The story's Acme CRM: ``POST /v1/tasks`` with a bearer token; a repeated ``Idempotency-Key`` returns the first task."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.tasks: dict[str, dict[str, Any]] = {}
        super().__init__()

    def failure_reply(self, status: int, request: Request) -> Reply:
        return Reply(status, {"error": {"code": status, "message": "forced"}})

    def handle(self, request: Request) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, {"error": {"code": "unauthorized"}})
        if (request.method, request.path) != ("POST", "/v1/tasks"):
            return Reply(404, {"error": {"code": "not_found"}})
        key = request.headers.get("idempotency-key")
        body = request.json()
        if not key or not isinstance(body, dict) or not body.get("title"):
            return Reply(400, {"error": {"code": "invalid_request"}})
        with self.lock:
            if key in self.tasks:
                return Reply(200, self.tasks[key])
            task = {"id": f"tsk_{len(self.tasks) + 1:05d}", **body}
            self.tasks[key] = task
        return Reply(201, task)


@pytest.fixture
def acme_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The adapter file of the docs, importable under the module path its entry point names."""
    module_name = doc_entry_point().module
    path = tmp_path / "acme.py"
    path.write_text(doc_block("adapter"))
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, module_name, module)
    spec.loader.exec_module(module)
    return module


class TestDocsExampleContract(FailureContract):
    @pytest.fixture
    def harness(self, acme_module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
        server = FakeAcme("acme_live_5f2c0e")
        monkeypatch.setenv("ACME_TOKEN", server.token)
        config = {"base_url": server.url}

        def fail(mode: str) -> float | None:
            status = {"rate_limit": 429, "unavailable": 503, "bad_request": 400, "unauthorized": 401}[mode]
            server.fail_next(status, retry_after="12" if mode == "rate_limit" else None)
            return 12.0 if mode == "rate_limit" else None

        def effects(kind: ActionKind) -> int:
            with server.lock:
                return len(server.tasks)

        harness = Harness(
            cls=load_entry_point(doc_entry_point()),
            config=config,
            effects=effects,
            fail=fail,
            unreachable_config={"base_url": f"http://127.0.0.1:{free_port()}"},
            bad_configs=[
                ({}, "base_url"),
                ({"base_url": server.url, "token_env": "ACME_TOKEN_UNSET"}, "ACME_TOKEN_UNSET"),
            ],
        )
        assert harness.cls is acme_module.AcmeCrm
        yield harness
        harness.close_all()
        server.stop()

    def test_entry_point_loads_this_class(self, harness: Harness) -> None:
        # Not installed in this environment's metadata: load the entry point line the docs give.
        assert load_entry_point(doc_entry_point()) is harness.cls
        assert doc_entry_point().name == harness.cls.name
