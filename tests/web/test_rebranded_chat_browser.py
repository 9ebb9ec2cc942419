"""A new user's rebrand, tried in real headless Chromium: only a knowledge base and a branding file.

The server is built as ``leadgate serve`` builds it, with ``LEADGATE_KB_DIR=examples/quillstack/kb`` and
``LEADGATE_BRANDING_FILE=examples/quillstack/branding.yml`` and nothing else changed. One visitor goes from
the greeting to a booked demo, one answer per message, and the test checks what a new user would: the
assistant introduces itself as Wren of Quillstack, answers a question about Quillstack with its source,
never mentions the example company, never says it did not understand, never asks a question twice, books
the demo, and the invite comes from Quillstack. A screenshot is kept in the test's folder and in
``artifacts/rebranded-chat.png``, the transcript in ``artifacts/rebranded-chat.txt``.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from icalendar import Calendar
from playwright.sync_api import Page, expect
from tests.web.conftest import ARTIFACTS, ROOT, LiveServer, _free_socket, _with_web_routes
from tests.web.test_widget_browser import (
    assistant_messages,
    chat_log,
    dialog,
    open_chat,
    say,
    visitor_messages,
    wait_answered,
)

from leadgate.api import create_app
from leadgate.chat.flows import load_default_flow
from leadgate.chat.flows.branding import TONE_PACKS
from leadgate.chat.runtime import build_chat
from leadgate.config import Settings
from leadgate.db import make_engine, upgrade
from leadgate.governance.api_keys import create_key

KB_DIR = ROOT / "examples" / "quillstack" / "kb"
BRANDING = ROOT / "examples" / "quillstack" / "branding.yml"
TITLE = "Wren · Quillstack"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app, configured through the environment exactly as a new user would configure it."""
    db_path = tmp_path_factory.mktemp("rebranded") / "leadgate.db"
    database_url = f"sqlite:///{db_path}"
    upgrade(database_url)
    engine = make_engine(database_url)
    with engine.begin() as conn:
        staff_key, _ = create_key(conn, name="staff-api", role="sales_manager", created_by="tests")
    engine.dispose()
    sock = _free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LEADGATE_KB_DIR", str(KB_DIR))
        env.setenv("LEADGATE_BRANDING_FILE", str(BRANDING))
        env.delenv("LEADGATE_FLOW_FILE", raising=False)
        settings = Settings(database_url=database_url, rate_limit_ip="10000/minute")
    assert settings.kb_dir == KB_DIR and settings.branding_file == BRANDING
    app = _with_web_routes(create_app(settings, chat_factory=build_chat))
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="on", ws="none", log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    while thread.is_alive() and not server.started:
        started.wait(0.05)
    if not server.started:
        raise RuntimeError("the leadgate server did not start (see the log above)")
    try:
        yield LiveServer(url, database_url, url, settings, app, staff_key)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


# One answer per message, as a finance lead would type them (matched on the question asked).
ANSWERS: list[tuple[re.Pattern[str], str]] = [
    # first: the consent question comes after a summary that repeats every answer (e-mail, company...)
    (re.compile(r"contact you", re.I), "Yes"),
    (re.compile(r"work e-?mail", re.I), "priya.raman@brightwater-foods.com"),
    (re.compile(r"your name", re.I), "Priya Raman"),
    (re.compile(r"which company", re.I), "Brightwater Foods"),
    (re.compile(r"the company you're with", re.I), "Yes, that's right"),
    (re.compile(r"your role", re.I), "I'm the VP of Finance"),
    (re.compile(r"how many people", re.I), "about 300 people"),
    (
        re.compile(r"accounts-payable process", re.I),
        "Approving supplier invoices takes us weeks, we want to automate it",
    ),
    (re.compile(r"budget", re.I), "Around 30k USD a year"),
    (re.compile(r"when would you like", re.I), "Within the next two months"),
    (re.compile(r"phone number", re.I), "skip"),
]


def answer_for(question: str) -> str:
    for pattern, answer in ANSWERS:
        if pattern.search(question):
            return answer
    raise AssertionError(f"the test has no answer for the assistant's question: {question!r}")


def test_rebranded_conversation_from_greeting_to_booked_demo(
    new_page: Callable[..., Page], live_server: LiveServer, tmp_path: Path
) -> None:
    flow = load_default_flow(BRANDING)
    page = new_page(viewport={"width": 1280, "height": 900})
    page.goto(live_server.url + "/demo")
    expect(page).to_have_title("Quillstack (leadgate demo)")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Accounts payable")

    open_chat(page, TITLE)
    greeting = assistant_messages(page, TITLE).first.inner_text()
    assert "Wren" in greeting and "Quillstack" in greeting, greeting

    # a question about Quillstack: answered from its knowledge base, with the source
    replies = say(page, "Do you integrate with NetSuite?", TITLE)
    assert any("NetSuite" in r for r in replies), replies
    answer = assistant_messages(page, TITLE).filter(has_text="NetSuite").last
    expect(answer.get_by_role("list", name="Sources")).to_contain_text("Source: ")

    # then every question the assistant asks, one answer per message, until it offers demo slots
    options = chat_log(page, TITLE).get_by_role("group", name="Suggested replies").get_by_role("button")
    asked: list[str] = []
    for _ in range(15):
        if options.count():
            break
        question = assistant_messages(page, TITLE).last.inner_text()
        asked.append(question)
        say(page, answer_for(question), TITLE)
    expect(options.first).to_be_visible()
    assert len(asked) >= 8, asked

    slot = options.first.inner_text()
    options.first.click()
    expect(visitor_messages(page, TITLE).last).to_contain_text(slot)
    wait_answered(page, TITLE)
    confirmation = assistant_messages(page, TITLE).last
    expect(confirmation).to_contain_text("You're booked")
    ics_link = confirmation.get_by_role("link", name="Add to your calendar (.ics)")
    with page.expect_download() as downloading:
        ics_link.click()
    event = Calendar.from_ical(Path(downloading.value.path()).read_text(encoding="utf-8")).events[0]
    assert str(event["ORGANIZER"]) == "mailto:demos@quillstack.example"
    assert str(event["SUMMARY"]).startswith("Quillstack demo: Priya Raman")

    # what the whole conversation said
    said = assistant_messages(page, TITLE).all_inner_texts()
    transcript = "\n".join(said)
    assert "Lumenly" not in transcript and "Example Analytics" not in transcript
    for text in ("didn't get that", "didn't quite get", TONE_PACKS["formal"]["misunderstood"]):
        assert text not in transcript, transcript
    assert len(set(asked)) == len(asked), asked
    # no question comes back once answered (re-asking the pending one after the NetSuite answer is fine)
    messages = (
        chat_log(page, TITLE)
        .locator(".msg")
        .evaluate_all(
            "els => els.map(e => [e.classList.contains('visitor') ? 'visitor' : 'bot', e.innerText])"
        )
    )
    answers = {answer for _, answer in ANSWERS}
    prompts = [spec.prompt for spec in flow.slots]
    answered: set[str] = set()
    last_prompt: str | None = None
    for who, text in messages:
        if who == "visitor":
            if last_prompt is not None and any(text.strip().endswith(a) for a in answers):
                answered.add(last_prompt)
            continue
        for prompt in prompts:
            if prompt in text:
                assert prompt not in answered, f"asked again after it was answered: {prompt!r}"
                last_prompt = prompt
    assert len(answered) >= 8, answered

    shot = tmp_path / "rebranded-chat.png"
    page.screenshot(path=str(shot))
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "rebranded-chat.png")
    (ARTIFACTS / "rebranded-chat.txt").write_text(
        "\n".join(f"{who}: {' '.join(text.split())}" for who, text in messages), encoding="utf-8"
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    expect(dialog(page, TITLE)).to_be_visible()
