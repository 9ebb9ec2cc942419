"""The staff API on SQLite and PostgreSQL: bearer auth (401), the handoff queue with transcript and
slots, staff replies and close recorded as the caller."""

from __future__ import annotations

from tests.api.conversations_support import MakeChatApi, make_chat_api

__all__ = ["make_chat_api"]  # the fixture, imported for pytest


def test_staff_endpoints_need_credentials(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    staff = api.staff_headers()
    conv = api.open()
    api.post(conv, "c-1", "human")
    cid = conv["conversation_id"]
    calls = [
        ("GET", "/v1/handoffs", None),
        ("GET", f"/v1/handoffs/{cid}", None),
        ("POST", f"/v1/handoffs/{cid}/messages", {"text": "hi"}),
        ("POST", f"/v1/handoffs/{cid}/close", {}),
    ]
    # the retired shared staff token is just a wrong bearer now
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic czNjcmV0"},
        {"Authorization": "Bearer s3cret"},
    ):
        for method, url, body in calls:
            r = api.client.request(method, url, json=body, headers=headers)
            assert r.status_code == 401, (method, url, headers)
            assert r.headers["www-authenticate"] == "Bearer"
    # the visitor's token is no staff token
    assert (
        api.client.get("/v1/handoffs", headers={"Authorization": f"Bearer {conv['token']}"}).status_code
        == 401
    )
    # nothing was changed by the refused calls
    assert api.client.get(f"/v1/handoffs/{cid}", headers=staff).json()["status"] == "handoff"
    assert [m["role"] for m in api.get(conv).json()["messages"]] == ["assistant", "visitor", "assistant"]


def test_handoff_queue_transcript_staff_reply_and_close(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api(max_message_chars=100)
    staff = api.staff_headers(name="anna-key")
    prefix = staff["Authorization"].removeprefix("Bearer lg_")[:8]
    first = api.open(visitor_id="v-1")
    api.post(first, "c-1", "Acme")
    api.post(first, "c-2", "qualify")
    api.post(first, "c-3", "human")
    browsing = api.open()
    api.post(browsing, "c-1", "just looking")
    second = api.open(timezone="America/New_York")
    api.post(second, "c-1", "human")

    queue = api.client.get("/v1/handoffs", headers=staff)
    assert queue.status_code == 200
    entries = queue.json()["handoffs"]
    assert [e["conversation_id"] for e in entries] == [first["conversation_id"], second["conversation_id"]]
    head = entries[0]
    assert head["handoff_reason"] == "visitor asked for a person"
    assert head["slots"] == {"company": "Acme", "last": "human"}
    assert head["lead_id"] == "chat-2" and head["decision_id"] == "0193c1a2-0000-7000-8000-000000000001"
    assert head["last_message"]["role"] == "assistant" and head["last_message"]["kind"] == "handoff"
    assert head["visitor_id"] == "v-1" and head["timezone"] == "Europe/Berlin"
    assert head["handoff_at"] <= entries[1]["handoff_at"]
    assert entries[1]["timezone"] == "America/New_York" and entries[1]["lead_id"] is None
    assert (
        api.client.get("/v1/handoffs", params={"limit": 1}, headers=staff).json()["handoffs"] == entries[:1]
    )

    cid = first["conversation_id"]
    detail = api.client.get(f"/v1/handoffs/{cid}", headers=staff).json()
    assert detail["status"] == "handoff" and detail["slots"] == head["slots"]
    assert detail["lead_id"] == "chat-2" and detail["decision_id"] == head["decision_id"]
    assert [(m["role"], m["text"]) for m in detail["messages"] if m["role"] == "visitor"] == [
        ("visitor", "Acme"),
        ("visitor", "qualify"),
        ("visitor", "human"),
    ]
    assert detail["messages"] == api.get(first).json()["messages"]
    kinds = [e["kind"] for e in detail["events"]]
    assert kinds.count("flow_event") == 4 and kinds[-1] == "status_change"
    assert detail["events"][-1]["data"] == {
        "status": "handoff",
        "reason": "visitor asked for a person",
        "by": "assistant",
    }

    too_long = api.client.post(f"/v1/handoffs/{cid}/messages", json={"text": "x" * 101}, headers=staff)
    assert too_long.status_code == 413 and too_long.json()["max_chars"] == 100
    # who writes is the caller, never a name the body declares
    declared = api.client.post(
        f"/v1/handoffs/{cid}/messages", json={"text": "Hi", "staff_id": "mallory"}, headers=staff
    )
    assert declared.status_code == 422
    reply = api.client.post(f"/v1/handoffs/{cid}/messages", json={"text": "Hi, Anna here."}, headers=staff)
    assert reply.status_code == 201
    message = reply.json()["message"]
    assert message["role"] == "staff"
    assert message["data"] == {"staff_id": f"key:{prefix}", "staff_name": "anna-key"}
    seen = api.get(first, after_seq=detail["messages"][-1]["seq"]).json()["messages"]
    assert [(m["role"], m["text"], m["data"]) for m in seen] == [("staff", "Hi, Anna here.", {})]
    assert api.client.get(f"/v1/handoffs/{cid}", headers=staff).json()["messages"][-1] == message

    # not handed off, or unknown: 404
    for other in (browsing["conversation_id"], "0193c1a2-0000-7000-8000-00000000dead"):
        assert api.client.get(f"/v1/handoffs/{other}", headers=staff).status_code == 404
        r = api.client.post(f"/v1/handoffs/{other}/messages", json={"text": "hi"}, headers=staff)
        assert r.status_code == 404
        assert api.client.post(f"/v1/handoffs/{other}/close", headers=staff).status_code == 404

    closed = api.client.post(f"/v1/handoffs/{cid}/close", headers=staff)
    assert closed.status_code == 200 and closed.json() == {"conversation_id": cid, "status": "closed"}
    assert api.client.post(f"/v1/handoffs/{cid}/close", headers=staff).json()["status"] == "closed"
    assert [
        e["conversation_id"] for e in api.client.get("/v1/handoffs", headers=staff).json()["handoffs"]
    ] == [second["conversation_id"]]
    assert api.get(first).json()["status"] == "closed"
    assert api.post(first, "c-4", "still there?").status_code == 409
    late = api.client.post(f"/v1/handoffs/{cid}/messages", json={"text": "bye"}, headers=staff)
    assert late.status_code == 409
    final = api.client.get(f"/v1/handoffs/{cid}", headers=staff).json()
    assert final["status"] == "closed"
    assert [e["data"]["status"] for e in final["events"] if e["kind"] == "status_change"] == [
        "handoff",
        "closed",
    ]
