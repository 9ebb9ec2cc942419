"""NUL characters in any route's inputs get 422 on SQLite and PostgreSQL, never a 500 (issue 8, item 11).

Walks every route of the OpenAPI schema: a NUL in each path parameter, in each declared query parameter
and in a header the route reads (``X-Conversation-Token``, ``If-Match``, ``Last-Event-ID``) answers 422
with the field's path; an unknown query parameter is refused the same way. Unpaired surrogates cannot
travel in a URL (percent-decoding gives bytes, decoded as UTF-8 with replacement), so they are tested in
JSON bodies, where ``json`` keeps an escaped ``\\ud800``.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts
from tests.api.conftest import bearer, create_test_key
from tests.api.conversations_support import MakeChatApi, make_chat_api

from leadgate.contracts.lead import UNSTORABLE_REASON

__all__ = ["make_chat_api"]  # the fixture, imported for pytest


def _routes(app: Any) -> list[tuple[str, str, APIRoute]]:
    """``(method, full path template, route)`` of every operation in the OpenAPI schema."""
    out = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            out.extend((method, context.path, route) for method in sorted(route.methods))
    return out


def _paths(response: Any) -> dict[str, str]:
    return {e["path"]: e["reason"] for e in response.json()["detail"]}


def test_nul_in_every_path_query_and_header_value_is_422(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api(staff_token="s3cret")
    key = create_test_key(api.state.engine)
    client = api.client
    conv = api.open()
    checked = 0
    for method, template, route in _routes(client.app):
        names = re.findall(r"{(\w+)}", template)
        ok_path = template
        for name in names:
            ok_path = ok_path.replace(
                f"{{{name}}}", conv["conversation_id"] if "conversation" in name else "x-1"
            )
        for name in names:
            bad = template.replace(f"{{{name}}}", "a%00b")
            for other in names:
                bad = bad.replace(f"{{{other}}}", "x-1")
            r = client.request(method, bad, headers=bearer(key), json={})
            assert r.status_code == 422, (method, template, r.status_code, r.text)
            assert _paths(r) == {f"path.{name}": UNSTORABLE_REASON}, (method, template, r.text)
            checked += 1
        for param in route.dependant.query_params:
            r = client.request(method, ok_path, params={param.alias: "a\x00b"}, headers=bearer(key), json={})
            assert r.status_code == 422, (method, template, param.alias, r.text)
            assert _paths(r)[f"query.{param.alias}"] == UNSTORABLE_REASON
            checked += 1
        for param in route.dependant.header_params:
            headers = {**bearer(key), param.alias: "a\x00b"}
            r = client.request(method, ok_path, headers=headers, json={})
            assert r.status_code == 422, (method, template, param.alias, r.text)
            assert _paths(r)[f"header.{param.alias.lower()}"] == UNSTORABLE_REASON
            checked += 1
        r = client.request(method, ok_path, params={"no_such_param": "1"}, headers=bearer(key), json={})
        assert r.status_code == 422, (method, template, r.text)
        assert "unknown query parameter" in _paths(r)["query.no_such_param"]
    assert checked >= 20


def test_unpaired_surrogates_in_json_bodies_are_422(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    body = b'{"timezone": "UTC", "visitor_id": "v\\ud800"}'
    r = api.client.post("/v1/conversations", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and _paths(r) == {"body.visitor_id": UNSTORABLE_REASON}
    conv = api.open()
    body = b'{"client_message_id": "m-1", "text": "hi \\udfff"}'
    r = api.client.post(
        f"/v1/conversations/{conv['conversation_id']}/messages",
        content=body,
        headers={"Content-Type": "application/json", "X-Conversation-Token": conv["token"]},
    )
    assert r.status_code == 422 and _paths(r) == {"body.text": UNSTORABLE_REASON}
