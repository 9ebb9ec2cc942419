"""The review and inbox pages through the real app (no browser), on SQLite and PostgreSQL: anonymous
callers sent to sign in, CSRF on every form, a refused reason stores nothing, a rep kept to their own
inbox, a manager opening any rep's inbox, and no inline script or style (the staff CSP)."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conversations_support import MakeChatApi, make_chat_api
from tests.review.support import assign, lead
from tests.web.staff_support import access_events, create_user, csrf_of, sign_in

from leadgate.audit.events import iter_events
from leadgate.db.store import utcnow
from leadgate.pipeline import qualify_leads
from leadgate.review.inbox import get_assignment

__all__ = ["make_chat_api"]  # the fixture, imported for pytest


def test_review_forms_need_csrf_and_a_reason(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    engine, client = api.state.engine, api.client
    (decision,) = qualify_leads(engine, api.state.qualifier, [lead("xe-2001", email="a.rao@example.in")])
    assert decision.review_required  # the shipped policy: rule-fallback decisions go to review
    manager = create_user(engine, email="sofia.lindqvist@example.com", role="sales_manager")

    anonymous = client.get("/staff/review", follow_redirects=False)
    assert (anonymous.status_code, anonymous.headers["location"]) == (
        303,
        "/staff/sign-in?next=/staff/review",
    )
    assert sign_in(client, "sofia.lindqvist@example.com").status_code == 303
    queue = client.get("/staff/review")
    assert queue.status_code == 200 and 'data-lead="xe-2001"' in queue.text
    assert "<script" not in queue.text and "style=" not in queue.text
    assert "'unsafe-inline'" not in queue.headers["content-security-policy"]
    page = client.get("/staff/review/xe-2001")
    assert page.status_code == 200 and "a.rao@example.in" in page.text
    token = csrf_of(page.text)
    assert 'name="seen" value="0"' in page.text
    assert client.get("/staff/review/xe-0000").status_code == 404

    url = "/staff/review/xe-2001/tier"
    no_token = client.post(url, data={"tier": "warm", "reason": "bigger company"}, follow_redirects=False)
    assert no_token.status_code == 403
    no_reason = client.post(
        url, data={"tier": "warm", "reason": " ", "csrf_token": token}, follow_redirects=False
    )
    assert (
        no_reason.status_code == 400
        and "Give a reason" in no_reason.text
        and 'role="alert"' in no_reason.text
    )
    bad_tier = client.post(url, data={"tier": "tepid", "reason": "why not", "csrf_token": token})
    assert bad_tier.status_code == 400 and "Choose a tier" in bad_tier.text
    with engine.connect() as conn:
        assert list(iter_events(conn, kind="override")) == []
    assert access_events(engine, action="override") == []

    done = client.post(
        url,
        data={"tier": "warm", "reason": "Asked for the part-time batch", "csrf_token": token},
        follow_redirects=False,
    )
    assert (done.status_code, done.headers["location"]) == (303, "/staff/review?done=xe-2001")
    twice = client.post(
        url,
        data={"tier": "warm", "reason": "Asked for the part-time batch", "csrf_token": token, "seen": "0"},
    )
    assert twice.status_code == 409 and "nothing was changed" in twice.text
    with engine.connect() as conn:
        (event,) = iter_events(conn, kind="override")
    assert (event["actor"], event["reason"], event["data"]["after"]["action"]) == (
        manager.subject,
        "Asked for the part-time batch",
        "route_to_sales",
    )
    assert [e["actor"] for e in access_events(engine, action="override")] == [manager.subject]
    assert 'data-lead="xe-2001"' not in client.get("/staff/review").text


def test_a_rep_sees_only_their_inbox_and_a_manager_any(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    engine, client = api.state.engine, api.client
    decisions = qualify_leads(
        engine,
        api.state.qualifier,
        [
            lead("xe-3001", first_name="Tomás", email="t.silva@example.com.br"),
            lead("xe-3002", email="k.o@example.de"),
        ],
    )
    now = utcnow()
    marcus = assign(
        engine, "xe-3001", decisions[0].decision_id, "marcus", now, now + timedelta(minutes=4, seconds=30)
    )
    anna = assign(engine, "xe-3002", decisions[1].decision_id, "anna", now, now + timedelta(hours=1))
    create_user(engine, email="marcus.reed@example.com", role="sales_rep", rep_id="marcus")
    create_user(engine, email="sofia.lindqvist@example.com", role="sales_manager")

    assert sign_in(client, "marcus.reed@example.com").status_code == 303
    inbox = client.get("/staff/inbox")
    assert inbox.status_code == 200
    assert "t.silva@example.com.br" in inbox.text and "k.o@example.de" not in inbox.text
    assert "due in 4 min" in inbox.text and "America/New_York" in inbox.text
    assert client.get("/staff/inbox?rep=anna").status_code == 404
    assert client.get("/staff/review").status_code == 403
    token = csrf_of(inbox.text)
    other = client.post(
        f"/staff/inbox/{anna}/first-touch", data={"csrf_token": token}, follow_redirects=False
    )
    assert other.status_code == 404
    no_token = client.post(f"/staff/inbox/{marcus}/first-touch", data={}, follow_redirects=False)
    assert no_token.status_code == 403
    with engine.connect() as conn:
        assert get_assignment(conn, anna)["status"] == get_assignment(conn, marcus)["status"] == "open"
    own = client.post(
        f"/staff/inbox/{marcus}/first-touch", data={"csrf_token": token}, follow_redirects=False
    )
    assert (own.status_code, own.headers["location"]) == (303, "/staff/inbox")
    again = client.post(f"/staff/inbox/{marcus}/first-touch", data={"csrf_token": token})
    assert again.status_code == 409 and "no longer open" in again.text
    with engine.connect() as conn:
        assert get_assignment(conn, marcus)["status"] == "touched"
        assert len(list(iter_events(conn, kind="first_touch"))) == 1

    assert sign_in(client, "sofia.lindqvist@example.com").status_code == 303
    chooser = client.get("/staff/inbox")
    assert chooser.status_code == 200 and 'href="/staff/inbox?rep=anna"' in chooser.text
    annas = client.get("/staff/inbox?rep=anna")
    assert (
        annas.status_code == 200 and "k.o@example.de" in annas.text and "Inbox of Anna Becker" in annas.text
    )
