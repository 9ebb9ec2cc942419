"""The staff pages in real headless Chromium against a real leadgate server: sign in, open the handoff
queue, reply to a visitor, and check the reply is stored as the signed-in person; with a screenshot."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import ConsoleMessage, Page, expect
from sqlalchemy import update
from tests.web.conftest import ARTIFACTS, LiveServer
from tests.web.staff_support import PASSWORD, access_events, create_user, staff_payloads

from leadgate.db import make_engine
from leadgate.db.chat_models import ConversationRow


def _handed_off_conversation(base_url: str) -> str:
    """A visitor conversation the real assistant handed to a person (through the public chat API)."""
    with httpx.Client(base_url=base_url, trust_env=False) as client:
        opened = client.post("/v1/conversations", json={"timezone": "Europe/Berlin"}).json()
        r = client.post(
            f"/v1/conversations/{opened['conversation_id']}/messages",
            json={"client_message_id": "c-1", "text": "I'd like to talk to a person, please"},
            headers={"X-Conversation-Token": opened["token"]},
        )
    assert r.status_code == 200 and r.json()["status"] == "handoff", r.text
    return str(opened["conversation_id"])


def test_a_signed_in_rep_answers_a_handoff_in_the_browser(
    new_page: Callable[..., Page], live_server: LiveServer, tmp_path: Path
) -> None:
    engine = make_engine(live_server.database_url)
    try:
        user = create_user(
            engine, email="rita.rep@example.com", role="sales_rep", display_name="Rita", rep_id="rep-3"
        )
        cid = _handed_off_conversation(live_server.url)
        # routing (issue 9) assigns the conversation to Rita's rep id; a rep sees only its own
        with engine.begin() as conn:
            conn.execute(
                update(ConversationRow.__table__)
                .where(ConversationRow.__table__.c.conversation_id == cid)
                .values(owner="rep-3")
            )

        page = new_page()
        csp_reports: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                csp_reports.append(message.text)

        page.on("console", on_console)
        page.goto(live_server.url + "/staff/handoffs")
        expect(page).to_have_url(live_server.url + "/staff/sign-in?next=/staff/handoffs")
        page.get_by_label("Email").fill("rita.rep@example.com")
        page.get_by_label("Password").fill("not the password, sorry")
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_role("alert")).to_have_text("wrong email or password")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in", exact=True).click()

        expect(page.get_by_role("heading", name="Handoff queue")).to_be_visible()
        expect(page).to_have_url(live_server.url + "/staff/handoffs")
        session = next(c for c in page.context.cookies() if c["name"] == "lg_session")
        assert session["httpOnly"] and session["sameSite"] == "Lax"
        assert page.evaluate("document.cookie").find("lg_session") == -1  # not readable by scripts
        expect(page.get_by_text("rita.rep@example.com (sales_rep)")).to_be_visible()

        page.locator(f'a[href="/staff/handoffs/{cid}"]').click()
        expect(page.get_by_role("heading", name=f"Conversation {cid}")).to_be_visible()
        transcript = page.get_by_role("list", name="Transcript")
        expect(transcript).to_contain_text("I'd like to talk to a person, please")
        page.get_by_label("Reply to the visitor").fill("Hi, Rita from sales here. How can I help?")
        page.get_by_role("button", name="Send reply").click()
        staff = transcript.locator(".msg.staff")
        expect(staff).to_have_count(1)
        expect(staff).to_contain_text("rita.rep@example.com")
        expect(staff).to_contain_text("Hi, Rita from sales here. How can I help?")
        shot = tmp_path / "staff-handoff.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(shot, ARTIFACTS / "staff-handoff.png")

        stored = staff_payloads(engine)
        replies = [p for p in stored if "Rita from sales" in p]
        assert len(replies) == 1 and f'"staff_id":"user:{user.id}"' in replies[0]

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_text("You are signed out.")).to_be_visible()
        page.goto(live_server.url + f"/staff/handoffs/{cid}")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert csp_reports == []
        events = access_events(engine, actor=f"user:{user.id}")
        actions = [e["action"] for e in events]
        # signed in, read the queue and the transcript (personal data, so logged), signed out
        assert actions[0] == "sign_in" and actions[-1] == "sign_out"
        reads = events[1:-1]
        assert len(reads) >= 2 and {e["action"] for e in reads} == {"read_pii"}
        assert all(e["object_ids"] == [cid] for e in reads)
    finally:
        engine.dispose()
