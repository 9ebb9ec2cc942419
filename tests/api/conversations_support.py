"""Helpers of the chat API tests (no tests here): a test client with the in-test echo assistant, SSE parsing."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine
from starlette.exceptions import StarletteDeprecationWarning
from tests.api.conftest import bearer, create_test_key, shipped_qualifier
from tests.chat.echo_assistant import EchoAssistant, EchoState

from leadgate.api import create_app
from leadgate.api.state import AppState
from leadgate.chat.service import ChatService
from leadgate.config import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@dataclass
class ChatApi:
    """A running test client, its assistant and state."""

    client: TestClient
    assistant: EchoAssistant
    state: AppState

    def open(self, timezone: str = "Europe/Berlin", **extra: Any) -> dict[str, Any]:
        r = self.client.post("/v1/conversations", json={"timezone": timezone, **extra})
        assert r.status_code == 201, r.text
        return r.json()

    def post(self, conv: dict[str, Any], cmid: str, text: str, **kwargs: Any) -> Any:
        headers = {"X-Conversation-Token": conv["token"], **kwargs.pop("headers", {})}
        return self.client.post(
            f"/v1/conversations/{conv['conversation_id']}/messages",
            json={"client_message_id": cmid, "text": text, **kwargs},
            headers=headers,
        )

    def staff_headers(self, role: str = "sales_manager", name: str = "anna") -> dict[str, str]:
        """The ``Authorization`` header of a new API key with ``role`` (one that handles every handoff;
        a ``sales_rep`` key sees only its rep's conversations)."""
        return bearer(create_test_key(self.state.engine, role=role, name=name))

    def get(self, conv: dict[str, Any], token: str | None = None, **params: Any) -> Any:
        return self.client.get(
            f"/v1/conversations/{conv['conversation_id']}",
            headers={"X-Conversation-Token": token if token is not None else conv["token"]},
            params=params,
        )


MakeChatApi = Callable[..., ChatApi]


def build(
    engine: Engine, db_url: str, assistant: EchoAssistant | None, chat: bool, **settings: Any
) -> ChatApi:
    cfg = Settings(database_url=db_url, **settings)
    assistant = assistant or EchoAssistant()
    service = ChatService(engine, assistant, EchoState.model_validate_json) if chat else None
    qualifier = shipped_qualifier(engine)
    state = AppState(cfg, engine, qualifier, chat=service)
    client = TestClient(create_app(cfg, state=state))
    client.__enter__()
    return ChatApi(client, assistant, state)


@pytest.fixture
def make_chat_api(db_url: str, engine: Engine) -> Iterator[MakeChatApi]:
    """``make_chat_api(assistant=None, chat=True, **settings)``: a client on this test's database."""
    apis: list[ChatApi] = []

    def make(assistant: EchoAssistant | None = None, chat: bool = True, **settings: Any) -> ChatApi:
        api = build(engine, db_url, assistant, chat, **settings)
        apis.append(api)
        return api

    yield make
    for api in apis:
        api.client.__exit__(None, None, None)


def sse(text: str) -> list[dict[str, Any]]:
    """Parse a text/event-stream body into ``[{"event", "data" (parsed JSON), "id", "retry"}]``."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        event: dict[str, Any] = {"event": "message", "data": None, "id": None, "retry": None}
        data_lines = []
        for line in block.split("\n"):
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data_lines.append(value)
            elif name in ("event", "id", "retry"):
                event[name] = value
        if not data_lines and event["event"] == "message" and event["id"] is None:
            continue  # a comment-only block (ping)
        event["data"] = orjson.loads("\n".join(data_lines)) if data_lines else None
        out.append(event)
    return out
