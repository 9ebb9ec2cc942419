"""Schemathesis against the OpenAPI schema (issue 8, item 12): no 5xx and no failed check.

Every operation of the real app (``create_app`` with the chat assistant, the shipped policy and a trained
model) gets a bounded number of generated requests (``MAX_EXAMPLES``, schema-valid and invalid data),
anonymous and with an ``admin`` API key, on SQLite and PostgreSQL, and every response passes all of
schemathesis's checks (status codes and content types documented, bodies matching their schemas,
negative data refused, no 5xx, auth enforced, ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from sqlalchemy import Engine
from tests.api.conftest import Trained, bearer, create_test_key, register, shipped_qualifier

from leadgate.api import create_app
from leadgate.api.state import AppState
from leadgate.chat.runtime import build_chat
from leadgate.config import Settings

MAX_EXAMPLES = 12
"""Generated requests per operation and run (4 runs: 2 databases x anonymous / admin)."""


@pytest.fixture
def app_and_key(db_url: str, engine: Engine, trained: Trained) -> Iterator[tuple[Any, str]]:
    register(engine, trained)
    cfg = Settings(
        database_url=db_url,
        nlu_embeddings="off",
        staff_token="staff-token-for-tests",
        rate_limit_ip="100000/minute",
        rate_limit_ingest="100000/minute",
        rate_limit_conversation="100000/minute",
        dead_letter_quota="100000/hour",
    )
    qualifier = shipped_qualifier(engine)
    state = AppState(cfg, engine, qualifier, chat=build_chat(cfg, engine, qualifier))
    app = create_app(cfg, state=state)
    app.state.lg = state  # the ASGI transport does not run the lifespan that would set it
    yield app, create_test_key(engine)
    state.close()


SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
)


def map_body(context: Any, body: Any) -> Any:
    """Consent statements dated in the past: the API refuses one dated in the future (422), a rule that
    depends on the clock and that JSON Schema cannot state, so schema-valid data must respect it here."""
    if not context.operation.path.endswith("/consents") or not isinstance(body, dict):
        return body
    for item in body.get("consents") or []:
        given = item.get("given_at") if isinstance(item, dict) else None
        if isinstance(given, str):
            try:
                future = datetime.fromisoformat(given.replace("Z", "+00:00")) > datetime.now(UTC)
            except (ValueError, TypeError):
                continue
            if future:
                item["given_at"] = "2020-01-01T00:00:00Z"
    return body


def run_schemathesis(app: Any, headers: dict[str, str]) -> list[str]:
    """Every operation of ``app``'s schema, valid and invalid data; one line per failed operation and mode."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.hooks.hook(map_body)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @SETTINGS
            def check(case: Any) -> None:
                case.call_and_validate(headers=headers)

            try:
                check()
            except Unsatisfiable:
                continue  # no invalid input exists for this operation (nothing to negate)
            except (Exception, BaseExceptionGroup) as exc:  # every failure is reported below
                failures.append(f"{operation.method.upper()} {operation.path} [{mode}]: {exc}")
    return failures


def test_api_conforms_to_its_schema_anonymous(app_and_key: tuple[Any, str]) -> None:
    failures = run_schemathesis(app_and_key[0], {})
    assert not failures, "\n\n".join(failures)


def test_api_conforms_to_its_schema_with_an_admin_key(app_and_key: tuple[Any, str]) -> None:
    failures = run_schemathesis(app_and_key[0], bearer(app_and_key[1]))
    assert not failures, "\n\n".join(failures)
