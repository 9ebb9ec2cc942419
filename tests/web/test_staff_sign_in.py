"""Staff sign-in on SQLite and PostgreSQL through the real app (no browser): the hardened session cookie,
sign-out, wrong passwords that reveal nothing, throttling (429), CSRF on every form and on cookie API
calls (403), idle and absolute expiry with a controlled clock, a disabled user's session, and the handoff
pages recording the signed-in person."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from tests.api.conftest import TestClient
from tests.api.conversations_support import ChatApi, MakeChatApi, make_chat_api
from tests.web.staff_support import PASSWORD, access_events, create_user, csrf_of, sign_in, staff_payloads

from leadgate.audit.access import subject_digest
from leadgate.db.engine import write_lock
from leadgate.db.store import DEAD, utcnow
from leadgate.governance import users

__all__ = ["make_chat_api"]  # the fixture, imported for pytest


def _handed_off(api: ChatApi) -> dict[str, str]:
    conv = api.open()
    assert api.post(conv, "c-1", "human").json()["status"] == "handoff"
    return conv


def test_sign_in_sets_a_hardened_cookie_and_sign_out_ends_the_session(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    user = create_user(api.state.engine, display_name="Anna")
    client = api.client
    anonymous = client.get("/staff/handoffs", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/staff/sign-in?next=/staff/handoffs"
    form = client.get(anonymous.headers["location"])
    assert form.status_code == 200 and 'name="next" value="/staff/handoffs"' in form.text
    assert "'unsafe-inline'" not in form.headers["content-security-policy"]
    assert "<script" not in form.text and "style=" not in form.text

    r = sign_in(client, "ANNA@example.com", next="/staff/handoffs")
    assert r.status_code == 303 and r.headers["location"] == "/staff/handoffs"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("lg_session="))
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/", "max-age=43200"} <= flags
    assert "secure" not in flags  # LEADGATE_ENV=dev
    queue = client.get("/staff/handoffs")
    assert queue.status_code == 200 and "anna@example.com" in queue.text and "Handoff queue" in queue.text
    (event,) = access_events(api.state.engine, action="sign_in")
    assert event["actor"] == f"user:{user.id}" and event["detail"]["method"] == "password"

    # signing in again replaces the session: the earlier cookie no longer works
    first = dict(client.cookies)
    assert sign_in(client).status_code == 303
    with TestClient(client.app, cookies=first) as replay:
        assert replay.get("/staff/handoffs", follow_redirects=False).status_code == 303
    queue = client.get("/staff/handoffs")

    stolen = dict(client.cookies)
    refused = client.post("/staff/sign-out", data={}, follow_redirects=False)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    out = client.post("/staff/sign-out", data={"csrf_token": csrf_of(queue.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/staff/sign-in?signed_out=1"
    assert client.get("/staff/handoffs", follow_redirects=False).status_code == 303
    # the old cookie is worthless: the session ended on the server
    client.cookies.update(stolen)
    assert client.get("/staff/handoffs", follow_redirects=False).status_code == 303
    assert [e["actor"] for e in access_events(api.state.engine, action="sign_out")] == [f"user:{user.id}"]


def test_outside_dev_the_cookies_are_secure(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api(env="prod", secret_key="s" * 48)
    create_user(api.state.engine)
    form = api.client.get("/staff/sign-in")
    assert "secure" in form.headers["set-cookie"].lower()  # lg_flow, the sign-in form's CSRF token
    r = api.client.post(
        "/staff/sign-in",
        data={"email": "anna@example.com", "password": PASSWORD, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    # over plain http the client does not send the Secure lg_flow cookie back: the form is refused
    assert r.status_code == 403


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    create_user(api.state.engine)
    wrong = sign_in(api.client, password="not the password at all")
    unknown = sign_in(api.client, email="nobody@example.com")
    sso_only = create_user(api.state.engine, email="sso@example.com", password=None)
    no_password = sign_in(api.client, email=sso_only.email)
    for r in (wrong, unknown, no_password):
        assert r.status_code == 401 and "wrong email or password" in r.text
        assert "lg_session" not in r.headers.get("set-cookie", "")
    failed = access_events(api.state.engine, action="sign_in_failed")
    assert [e["object_ids"] for e in failed] == [
        [subject_digest(e)] for e in ("anna@example.com", "nobody@example.com", "sso@example.com")
    ]
    assert all("@" not in str(e) for e in failed)  # the emails themselves are not in the log
    # over-long fields fail like any wrong password; nothing of the body is kept as a dead letter
    form = api.client.get("/staff/sign-in")
    huge = api.client.post(
        "/staff/sign-in",
        data={"email": "a" * 5000 + "@example.com", "password": "p" * 5000, "csrf_token": csrf_of(form.text)},
    )
    assert huge.status_code == 401
    with api.state.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DEAD)).scalar_one() == 0


def test_failed_sign_ins_are_throttled_per_email_and_per_ip(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api(sign_in_limit_email="3/15 minutes", sign_in_limit_ip="5/15 minutes")
    create_user(api.state.engine)
    create_user(api.state.engine, email="bo@example.com")
    for _ in range(3):
        assert sign_in(api.client, password="a wrong password, again").status_code == 401
    throttled = sign_in(api.client)  # the right password, too late
    assert throttled.status_code == 429 and 0 < int(throttled.headers["retry-after"]) <= 900
    assert "Too many failed sign-ins" in throttled.text and "lg_session" not in throttled.headers.get(
        "set-cookie", ""
    )
    # another email from the same address still may, until the per-IP limit (5) is used up
    for _ in range(2):
        assert sign_in(api.client, "bo@example.com", "a wrong password, again").status_code == 401
    assert sign_in(api.client, "bo@example.com").status_code == 429
    reasons = [e["detail"]["reason"] for e in access_events(api.state.engine, action="sign_in_failed")]
    assert reasons == ["wrong_credentials"] * 3 + ["throttled"] + ["wrong_credentials"] * 2 + ["throttled"]


def test_every_form_and_cookie_api_call_needs_the_csrf_token(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    user = create_user(api.state.engine)
    client = api.client
    client.get("/staff/sign-in")
    for data in ({}, {"csrf_token": "forged"}):
        r = client.post("/staff/sign-in", data={"email": user.email, "password": PASSWORD, **data})
        assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    assert sign_in(client).status_code == 303
    cid = _handed_off(api)["conversation_id"]
    page = client.get(f"/staff/handoffs/{cid}")
    token = csrf_of(page.text)
    for data in ({"text": "no token"}, {"text": "forged", "csrf_token": token[::-1]}):
        assert client.post(f"/staff/handoffs/{cid}/reply", data=data).status_code == 403
        assert client.post(f"/staff/handoffs/{cid}/close", data=data).status_code == 403
    # a script using the session cookie on the JSON API sends the token as X-CSRF-Token
    url = f"/v1/handoffs/{cid}/messages"
    assert client.post(url, json={"text": "no header"}).status_code == 403
    assert client.post(url, json={"text": "bad"}, headers={"X-CSRF-Token": "x" * 43}).status_code == 403
    ok = client.post(url, json={"text": "From the API"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 201 and ok.json()["message"]["data"]["staff_id"] == f"user:{user.id}"
    texts = [m["text"] for m in client.get(f"/v1/handoffs/{cid}").json()["messages"] if m["role"] == "staff"]
    assert texts == ["From the API"]
    assert client.get(f"/v1/handoffs/{cid}").json()["status"] == "handoff"


def test_a_session_expires_when_idle_and_at_its_absolute_end(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api(session_idle_minutes=30, session_absolute_hours=2)
    create_user(api.state.engine)
    start = utcnow()
    now = [start]
    api.state.clock = lambda: now[0]

    def at(minutes: int) -> int:
        now[0] = start + timedelta(minutes=minutes)
        return int(api.client.get("/staff/handoffs", follow_redirects=False).status_code)

    assert sign_in(api.client).status_code == 303
    assert [at(m) for m in (1, 25, 50, 75, 100, 119)] == [200] * 6  # used every 25 minutes
    assert at(121) == 303  # past the absolute end (2 h) though in use
    assert sign_in(api.client).status_code == 303  # signed in again at minute 121
    assert at(150) == 200 and at(181) == 303  # idle for 31 minutes


def test_disabling_a_user_ends_their_session_at_once(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    user = create_user(api.state.engine)
    assert sign_in(api.client).status_code == 303
    assert api.client.get("/staff/handoffs", follow_redirects=False).status_code == 200
    with write_lock(api.state.engine), api.state.engine.begin() as conn:
        users.disable_user(conn, user.email)
    assert api.client.get("/staff/handoffs", follow_redirects=False).status_code == 303
    assert sign_in(api.client).status_code == 401


def test_the_handoff_pages_record_the_signed_in_person(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api(max_message_chars=40)
    user = create_user(api.state.engine, display_name="Anna Berg")
    client = api.client
    # a role without handoffs:handle may sign in but not open the queue
    create_user(api.state.engine, email="ann@example.com", role="analyst")
    assert sign_in(client, "ann@example.com").status_code == 303
    assert client.get("/staff/handoffs").status_code == 403
    client.cookies.clear()

    conv = _handed_off(api)
    cid = conv["conversation_id"]
    assert sign_in(client, next="//evil.example/x").headers["location"] == "/staff/handoffs"
    queue = client.get("/staff/handoffs")
    assert f'href="/staff/handoffs/{cid}"' in queue.text and "visitor asked for a person" in queue.text
    page = client.get(f"/staff/handoffs/{cid}")
    assert page.status_code == 200 and "human" in page.text
    token = csrf_of(page.text)
    too_long = client.post(f"/staff/handoffs/{cid}/reply", data={"text": "x" * 41, "csrf_token": token})
    assert too_long.status_code == 413 and "the limit is 40" in too_long.text
    sent = client.post(
        f"/staff/handoffs/{cid}/reply",
        data={"text": "Hi, <b>Anna</b> here.", "csrf_token": token, "staff_id": "mallory"},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"] == f"/staff/handoffs/{cid}"
    shown = client.get(f"/staff/handoffs/{cid}").text
    assert "Hi, &lt;b&gt;Anna&lt;/b&gt; here." in shown and "anna@example.com" in shown
    payloads = staff_payloads(api.state.engine)
    assert len(payloads) == 1 and f'"staff_id":"user:{user.id}"' in payloads[0]
    assert '"staff_name":"anna@example.com"' in payloads[0] and "mallory" not in payloads[0]
    # the staff view names who wrote it; the visitor sees the reply only
    staff_view = client.get(f"/v1/handoffs/{cid}").json()["messages"]
    assert staff_view[-1]["data"] == {"staff_id": f"user:{user.id}", "staff_name": "anna@example.com"}
    visitor_view = api.get(conv).json()["messages"]
    assert visitor_view[-1]["text"] == "Hi, <b>Anna</b> here." and visitor_view[-1]["data"] == {}

    closed = client.post(f"/staff/handoffs/{cid}/close", data={"csrf_token": token}, follow_redirects=False)
    assert closed.status_code == 303 and closed.headers["location"] == "/staff/handoffs"
    detail = client.get(f"/v1/handoffs/{cid}").json()
    assert detail["status"] == "closed" and detail["events"][-1]["data"]["by"] == f"user:{user.id}"
    assert "No conversation is waiting" in client.get("/staff/handoffs").text
