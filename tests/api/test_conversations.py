"""The public chat API on SQLite and PostgreSQL: create and resume, idempotent posts, SSE, events stream,
restart, rate limits (429), message size (413), CORS and visitor isolation."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine
from tests.api.conversations_support import MakeChatApi, build, make_chat_api, sse
from tests.chat.echo_assistant import EchoAssistant

from leadgate.db import make_engine

__all__ = ["make_chat_api"]  # the fixture, imported for pytest


def test_create_resume_after_reload_and_isolation(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    conv = api.open(visitor_id="v-1")
    assert conv["status"] == "active" and len(conv["token"]) >= 43
    greeting = conv["messages"]
    assert [(m["role"], m["kind"], m["text"]) for m in greeting] == [
        ("assistant", "ask", "Hi! Which company are you with?")
    ]
    r = api.post(conv, "c-1", "Acme")
    assert r.status_code == 200, r.text
    posted = r.json()

    # a reload: a fresh client that only has the stored id and token
    reloaded = make_chat_api()
    got = reloaded.get(conv)
    assert got.status_code == 200
    body = got.json()
    assert body["conversation_id"] == conv["conversation_id"] and body["status"] == "active"
    assert body["timezone"] == "Europe/Berlin"
    assert body["messages"] == [*greeting, posted["message"], *posted["replies"]]
    assert body["last_seq"] == posted["replies"][-1]["seq"]
    after = reloaded.get(conv, after_seq=posted["message"]["seq"]).json()["messages"]
    assert after == posted["replies"]

    # visitor B can never read or write visitor A's conversation, and cannot tell it exists
    other = api.open()
    unknown = {"conversation_id": "0193c1a2-0000-7000-8000-00000000dead", "token": other["token"]}
    answers = [api.get(conv, token=other["token"]), api.get(conv, token=""), api.get(unknown)]
    assert [a.status_code for a in answers] == [404, 404, 404]
    assert len({a.text for a in answers}) == 1
    hijack = api.post({**conv, "token": other["token"]}, "c-x", "hello")
    assert hijack.status_code == 404 and hijack.text == answers[0].text
    assert len(api.get(conv).json()["messages"]) == len(body["messages"])


def test_post_is_idempotent_on_client_message_id(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    conv = api.open()
    first = api.post(conv, "c-1", "Acme").json()
    assert first["duplicate"] is False and first["status"] == "active"
    assert first["message"] == {
        **first["message"],
        "role": "visitor",
        "text": "Acme",
        "client_message_id": "c-1",
    }
    assert [m["text"] for m in first["replies"]] == ["#1 you said: Acme", "#1 anything else?"]
    again = api.post(conv, "c-1", "Acme").json()
    assert again == {**first, "duplicate": True}
    assert api.assistant.calls == ["Acme"]
    assert len(api.get(conv).json()["messages"]) == 1 + 3
    picked = api.post(conv, "c-2", "", option_id="yes").json()
    assert picked["message"]["data"] == {"option_id": "yes"} and picked["replies"][1]["data"] == {
        "option_id": "yes"
    }


def test_invalid_messages_are_refused(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api(max_message_chars=50)
    conv = api.open()
    assert api.client.post("/v1/conversations", json={"timezone": "Mars/Olympus"}).status_code == 422
    assert api.post(conv, "c-1", "   ").status_code == 422
    assert api.post(conv, "", "hello").status_code == 422
    long = api.post(conv, "c-2", "x" * 51)
    assert long.status_code == 413
    assert long.json() == {
        "detail": "message of 51 characters is over the limit of 50 characters",
        "max_chars": 50,
    }
    assert api.post(conv, "c-3", "x" * 50).status_code == 200
    huge = api.client.post(
        f"/v1/conversations/{conv['conversation_id']}/messages",
        content=b'{"client_message_id": "c-4", "text": "' + b"x" * 1_100_000 + b'"}',
        headers={"X-Conversation-Token": conv["token"], "Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    assert api.assistant.calls == ["x" * 50]


def test_streamed_reply_over_sse(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    conv = api.open()
    r = api.post(conv, "c-1", "Acme", headers={"Accept": "text/event-stream"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse(r.text)
    assert [e["event"] for e in events] == ["typing", "message", "message", "typing", "done"]
    assert events[0]["data"] == {"typing": True} and events[3]["data"] == {"typing": False}
    replies = [e["data"] for e in events[1:3]]
    assert [e["id"] for e in events[1:3]] == [str(m["seq"]) for m in replies]
    assert [m["text"] for m in replies] == ["#1 you said: Acme", "#1 anything else?"]
    done = events[-1]["data"]
    assert done["status"] == "active" and done["duplicate"] is False
    assert done["message"]["client_message_id"] == "c-1"
    # what was streamed is what is stored
    assert api.get(conv).json()["messages"][1:] == [done["message"], *replies]
    # a resend over SSE streams the stored replies again
    again = sse(api.post(conv, "c-1", "Acme", headers={"Accept": "text/event-stream"}).text)
    assert [e["data"] for e in again[1:3]] == replies and again[-1]["data"]["duplicate"] is True
    # errors before the stream are plain JSON responses
    wrong = api.post({**conv, "token": "nope"}, "c-2", "hi", headers={"Accept": "text/event-stream"})
    assert wrong.status_code == 404 and wrong.headers["content-type"] == "application/json"


def test_failure_in_stream_then_resend_processes_the_message(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api(assistant=EchoAssistant(fail_once={"Acme"}))
    conv = api.open()
    events = sse(api.post(conv, "c-1", "Acme", headers={"Accept": "text/event-stream"}).text)
    assert [e["event"] for e in events] == ["typing", "error"]
    assert events[1]["data"]["status"] == 500 and "client_message_id" in events[1]["data"]["detail"]
    stored = api.get(conv).json()["messages"]
    assert [(m["role"], m["text"]) for m in stored[1:]] == [("visitor", "Acme")]
    r = api.post(conv, "c-1", "Acme")
    assert r.status_code == 200 and r.json()["duplicate"] is False
    assert r.json()["message"]["seq"] == stored[1]["seq"]
    assert [m["text"] for m in r.json()["replies"]] == ["#1 you said: Acme", "#1 anything else?"]
    api.assistant.fail_once.add("again")
    failed = api.post(conv, "c-2", "again")
    assert failed.status_code == 500 and "client_message_id" in failed.json()["detail"]


def test_events_stream_delivers_staff_replies_and_the_close(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    staff = api.staff_headers()
    conv = api.open()
    handed = api.post(conv, "c-1", "human").json()
    assert handed["status"] == "handoff"
    cid = conv["conversation_id"]
    url = f"/v1/conversations/{cid}/events"

    # nothing new yet: the current status, then the stream ends at its timeout (EventSource style: a
    # short-lived ticket in the URL instead of the token, see tests/api/test_tickets.py)
    ticket = api.client.post(
        f"/v1/conversations/{cid}/tickets",
        json={"purpose": "events"},
        headers={"X-Conversation-Token": conv["token"]},
    ).json()["ticket"]
    quiet = sse(
        api.client.get(
            url, params={"after_seq": handed["replies"][-1]["seq"], "timeout": 0, "ticket": ticket}
        ).text
    )
    assert [(e["event"], e["data"]) for e in quiet] == [
        ("status", {"status": "handoff", "handoff_reason": "visitor asked for a person"})
    ]
    assert quiet[0]["retry"] == "2000"

    # a staff reply and the close arrive while the stream is open (posted once the stream has read once)
    chat = api.state.chat
    assert chat is not None
    read_once = threading.Event()
    original = chat.transcript

    def spying(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        finally:
            read_once.set()

    chat.transcript = spying  # type: ignore[method-assign]

    def staff_side() -> None:
        read_once.wait(30)
        api.client.post(f"/v1/handoffs/{cid}/messages", json={"text": "Anna here."}, headers=staff)
        api.client.post(f"/v1/handoffs/{cid}/close", headers=staff)

    worker = threading.Thread(target=staff_side)
    worker.start()
    live = api.client.get(
        url,
        params={"timeout": 60},
        headers={"X-Conversation-Token": conv["token"], "Last-Event-ID": str(handed["replies"][-1]["seq"])},
    )
    worker.join()
    events = sse(live.text)
    assert [e["event"] for e in events] == ["status", "message", "status"]
    assert events[1]["data"]["role"] == "staff" and events[1]["data"]["text"] == "Anna here."
    assert events[1]["data"]["data"] == {}  # the staff id stays internal
    assert events[1]["id"] == str(events[1]["data"]["seq"])
    assert events[2]["data"]["status"] == "closed"
    # the closed conversation takes no more messages, but a resend still gets its stored answer
    assert api.post(conv, "c-2", "hello?").status_code == 409
    assert api.post(conv, "c-1", "human").json()["duplicate"] is True
    assert (
        api.client.get(url, params={"timeout": 0}, headers={"X-Conversation-Token": "wrong"}).status_code
        == 404
    )
    assert (
        api.client.get(url, params={"timeout": 0, "token": conv["token"]}).status_code == 422
    )  # no token in a URL


def test_restart_loses_nothing(db_url: str, engine: Engine) -> None:
    first = build(engine, db_url, None, True)
    conv = first.open()
    posted = first.post(conv, "c-1", "Acme").json()
    before = first.get(conv).json()
    first.client.__exit__(None, None, None)
    engine.dispose()

    fresh = make_engine(db_url)
    try:
        second = build(fresh, db_url, None, True)
        try:
            assert second.get(conv).json() == before
            assert second.post(conv, "c-1", "Acme").json() == {**posted, "duplicate": True}
            more = second.post(conv, "c-2", "more").json()
            assert more["replies"][0]["text"] == "#2 you said: more"
        finally:
            second.client.__exit__(None, None, None)
    finally:
        fresh.dispose()


def test_rate_limits_answer_429_with_retry_after(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api(rate_limit_conversation="2/minute", rate_limit_ip="1000/minute")
    conv, other = api.open(), api.open()
    assert [api.post(conv, f"c-{i}", "hi").status_code for i in range(2)] == [200, 200]
    limited = api.post(conv, "c-2", "hi")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["retry_after"] == int(limited.headers["Retry-After"])
    assert "per conversation" in limited.json()["detail"]
    assert api.post(other, "c-0", "hi").status_code == 200
    assert len(api.get(conv).json()["messages"]) == 1 + 2 * 3

    by_ip = make_chat_api(rate_limit_ip="3/minute")
    conv = by_ip.open()
    assert [by_ip.get(conv).status_code for _ in range(2)] == [200, 200]
    blocked = by_ip.get(conv)
    assert blocked.status_code == 429 and "per client IP" in blocked.json()["detail"]
    assert by_ip.client.post("/v1/conversations", json={"timezone": "UTC"}).status_code == 429
    assert by_ip.client.get("/healthz").status_code == 200  # only the chat endpoints are limited


def test_cors_allowlist(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api(cors_origins=["https://www.example.com"])
    allowed = api.client.post(
        "/v1/conversations", json={"timezone": "UTC"}, headers={"Origin": "https://www.example.com"}
    )
    assert allowed.status_code == 201
    assert allowed.headers["access-control-allow-origin"] == "https://www.example.com"
    foreign = api.client.post(
        "/v1/conversations", json={"timezone": "UTC"}, headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in foreign.headers
    preflight = api.client.options(
        "/v1/conversations/x/messages",
        headers={
            "Origin": "https://www.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-conversation-token",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://www.example.com"
    assert "x-conversation-token" in preflight.headers["access-control-allow-headers"].lower()
    refused = api.client.options(
        "/v1/conversations/x/messages",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers


def test_without_a_configured_assistant_the_chat_answers_503(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api(chat=False)
    r = api.client.post("/v1/conversations", json={"timezone": "UTC"})
    assert r.status_code == 503 and "not configured" in r.json()["detail"]
