"""The chat widget in real headless Chromium against a real leadgate server.

Part (a): the widget itself: keyboard use and focus, ARIA, a phone-sized screen, host CSS that cannot
reach it, reduced motion, XSS safety, a resend after a lost answer without duplicates, embedding on
another origin (CORS). Part (b): a whole qualification conversation on the demo page: a knowledge-base
question with its citation, a demo booking with its confirmation and ICS link, the transcript again
after a reload, and a screenshot.
"""

from __future__ import annotations

import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, Route, expect
from tests.web.conftest import ARTIFACTS, LiveServer

TITLE = "Lumenly assistant"
XSS = '<img src=x onerror="window.__lgXss=1">'


# ----- what the visitor sees, and does -------------------------------------------------------------


def dialog(page: Page, title: str = TITLE) -> Locator:
    return page.get_by_role("dialog", name=title)


def launcher(page: Page) -> Locator:
    return page.get_by_role("button", name="Chat with us")


def chat_log(page: Page, title: str = TITLE) -> Locator:
    return dialog(page, title).get_by_role("log")


def message_box(page: Page, title: str = TITLE) -> Locator:
    return dialog(page, title).get_by_label("Your message")


def open_chat(page: Page, title: str = TITLE) -> None:
    """Open the chat with the keyboard and wait for the assistant's first message."""
    launcher(page).focus()
    page.keyboard.press("Enter")
    expect(dialog(page, title)).to_be_visible()
    expect(chat_log(page, title).locator(".msg.assistant").first).to_be_visible()


def reload_page(page: Page, title: str = TITLE) -> None:
    """Reload: the chat that was open is open again (without taking the focus), with its transcript."""
    page.reload()
    expect(dialog(page, title)).to_be_visible()
    expect(chat_log(page, title).locator(".msg.assistant").first).to_be_visible()


def visitor_messages(page: Page, title: str = TITLE) -> Locator:
    return chat_log(page, title).locator(".msg.visitor")


def assistant_messages(page: Page, title: str = TITLE) -> Locator:
    return chat_log(page, title).locator(".msg.assistant, .msg.staff")


def wait_answered(page: Page, title: str = TITLE) -> None:
    """Wait until the last visitor message is confirmed by the server and the typing indicator is gone."""
    last = visitor_messages(page, title).last
    expect(last).to_have_attribute("data-seq", re.compile(r"^\d+$"))
    expect(last).not_to_have_class(re.compile(r"\bpending\b"))
    expect(dialog(page, title).get_by_text("Assistant is typing…")).to_be_hidden()


def replies_to_last(page: Page, title: str = TITLE) -> list[str]:
    """Texts of the assistant messages shown after the visitor's last message."""
    seq = int(visitor_messages(page, title).last.get_attribute("data-seq") or "0")
    return assistant_messages(page, title).evaluate_all(
        "(els, seq) => els.filter(e => Number(e.dataset.seq) > seq).map(e => e.innerText)", seq
    )


def say(page: Page, text: str, title: str = TITLE) -> list[str]:
    """Type ``text``, press Enter, wait for the answer; return the replies' texts."""
    box = message_box(page, title)
    box.fill(text)
    box.press("Enter")
    expect(visitor_messages(page, title).last).to_contain_text(text)
    wait_answered(page, title)
    return replies_to_last(page, title)


def shadow_eval(page: Page, script: str) -> Any:
    """Evaluate ``script`` (a function of the widget's shadow root) in the page."""
    return page.evaluate(f"({script})(document.getElementById('leadgate-widget').shadowRoot)")


# ----- part (a): the widget ------------------------------------------------------------------------


def test_keyboard_open_close_focus_and_aria(new_page: Callable[..., Page], live_server: LiveServer) -> None:
    page = new_page(viewport={"width": 1280, "height": 800})
    page.goto(live_server.url + "/")
    expect(page).to_have_url(live_server.url + "/demo")
    expect(page.get_by_role("heading", level=1)).to_contain_text("See how every account adopts")

    button = launcher(page)
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(dialog(page)).to_be_hidden()
    # the host page's hostile CSS (button { text-transform: uppercase }) does not reach the widget
    expect(button).to_have_css("text-transform", "none")

    open_chat(page)
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(message_box(page)).to_be_focused()
    log = chat_log(page)
    expect(log).to_have_attribute("aria-live", "polite")
    expect(dialog(page)).to_have_css("animation-name", "lg-in")

    # Tab leads from the message box to Send; Enter in the box sends
    page.keyboard.press("Tab")
    expect(dialog(page).get_by_role("button", name="Send")).to_be_focused()
    message_box(page).focus()
    shadow_eval(
        page,
        """root => {
            const typing = root.querySelector('.typing');
            window.__lgTypingShown = 0;
            new MutationObserver(records => {
                for (const r of records) if (r.oldValue !== null) window.__lgTypingShown++;
            }).observe(typing, {attributes: true, attributeFilter: ['hidden'], attributeOldValue: true});
        }""",
    )
    page.keyboard.type("Hello there")
    page.keyboard.press("Enter")
    expect(visitor_messages(page).last).to_contain_text("Hello there")
    expect(message_box(page)).to_have_value("")
    wait_answered(page)
    assert replies_to_last(page), "the assistant answered nothing"
    # the typing indicator was shown while the reply streamed (SSE typing events), and is gone now
    assert page.evaluate("window.__lgTypingShown") >= 1

    # Escape closes the dialog and gives the focus back to the launcher
    page.keyboard.press("Escape")
    expect(dialog(page)).to_be_hidden()
    expect(button).to_be_focused()
    expect(button).to_have_attribute("aria-expanded", "false")

    # the close button works from the keyboard too
    page.keyboard.press("Enter")
    expect(dialog(page)).to_be_visible()
    expect(message_box(page)).to_be_focused()
    close = dialog(page).get_by_role("button", name="Close chat")
    close.focus()
    page.keyboard.press("Enter")
    expect(dialog(page)).to_be_hidden()
    expect(button).to_be_focused()

    # any element of the host page with data-leadgate-open opens the chat
    page.get_by_role("button", name="Talk to us or book a demo").click()
    expect(dialog(page)).to_be_visible()
    expect(visitor_messages(page)).to_have_count(1)


def test_phone_screen_full_screen_panel_and_reduced_motion(
    new_page: Callable[..., Page], live_server: LiveServer
) -> None:
    page = new_page(
        viewport={"width": 375, "height": 667},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        reduced_motion="reduce",
    )
    page.goto(live_server.url + "/demo")
    launcher(page).tap()
    expect(dialog(page)).to_be_visible()
    expect(chat_log(page).locator(".msg.assistant").first).to_be_visible()

    box = dialog(page).bounding_box()
    assert box is not None
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 375, 667), box
    for control in (message_box(page), dialog(page).get_by_role("button", name="Send")):
        expect(control).to_be_in_viewport(ratio=1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # prefers-reduced-motion: no animation
    expect(dialog(page)).to_have_css("animation-name", "none")

    message_box(page).tap()
    message_box(page).fill("Hi from my phone")
    dialog(page).get_by_role("button", name="Send").tap()
    wait_answered(page)
    assert replies_to_last(page)
    expect(assistant_messages(page).last).to_be_in_viewport()

    dialog(page).get_by_role("button", name="Close chat").tap()
    expect(dialog(page)).to_be_hidden()
    expect(launcher(page)).to_be_visible()


def test_message_text_is_never_html(new_page: Callable[..., Page], live_server: LiveServer) -> None:
    page = new_page()
    page.goto(live_server.url + "/demo")
    open_chat(page)
    say(page, XSS)
    # the visitor sees the characters they typed; no element was made from them, nothing ran
    expect(visitor_messages(page).last).to_have_text(re.compile(re.escape(XSS)))
    assert shadow_eval(page, "root => root.querySelectorAll('img').length") == 0
    assert page.evaluate("window.__lgXss") is None

    # the same after a reload, when the text comes back from the server's transcript
    reload_page(page)
    expect(visitor_messages(page).filter(has_text=XSS)).to_have_count(1)
    assert shadow_eval(page, "root => root.querySelectorAll('img').length") == 0
    assert page.evaluate("window.__lgXss") is None


def test_lost_answer_is_resent_once_without_duplicates(
    new_page: Callable[..., Page], live_server: LiveServer
) -> None:
    page = new_page()
    page.goto(live_server.url + "/demo")
    open_chat(page)

    sent: list[str] = []

    def lose_first_answer(route: Route) -> None:
        body = route.request.post_data_json
        assert isinstance(body, dict)
        sent.append(body["client_message_id"])
        if len(sent) == 1:
            route.fetch()  # the server receives, stores and answers the message ...
            route.abort("connectionreset")  # ... but the answer never reaches the browser
        else:
            route.continue_()

    page.route("**/v1/conversations/*/messages", lose_first_answer)
    replies = say(page, "What does Lumenly do?")
    assert replies, "no answer after the resend"
    assert len(sent) == 2 and sent[0] == sent[1], sent  # resent with the same client_message_id
    expect(visitor_messages(page).filter(has_text="What does Lumenly do?")).to_have_count(1)
    page.unroute("**/v1/conversations/*/messages")

    # the server stored it once: the transcript after a reload shows the message and its replies once
    reload_page(page)
    expect(visitor_messages(page).filter(has_text="What does Lumenly do?")).to_have_count(1)
    assert replies_to_last(page) == replies


def test_embedded_on_another_origin(new_page: Callable[..., Page], live_server: LiveServer) -> None:
    page = new_page()
    page.goto(live_server.host_site_url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("A partner site on another origin")
    open_chat(page, title="Partner chat")
    expect(launcher(page)).not_to_have_css("font-family", re.compile("monospace"))
    replies = say(page, "Hello from the partner site", title="Partner chat")
    assert replies


def test_widget_script_is_cacheable(live_server: LiveServer) -> None:
    with urllib.request.urlopen(live_server.url + "/widget.js") as response:
        body = response.read()
        assert response.headers["Content-Type"].startswith("application/javascript")
        assert "max-age" in response.headers["Cache-Control"]
        etag = response.headers["ETag"]
    assert b"textContent" in body and b"innerHTML" not in body
    request = urllib.request.Request(live_server.url + "/widget.js", headers={"If-None-Match": etag})
    try:
        urllib.request.urlopen(request)
        raise AssertionError("expected 304 Not Modified")
    except urllib.error.HTTPError as exc:
        assert exc.code == 304


# ----- part (b): a whole qualification conversation ------------------------------------------------


def save_screenshot(page: Page, tmp_path: Path) -> Path:
    shot = tmp_path / "chat-demo.png"
    page.screenshot(path=str(shot), full_page=False)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "chat-demo.png")
    for path in (shot, ARTIFACTS / "chat-demo.png"):
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", path
        assert len(data) > 20_000, f"{path} is only {len(data)} bytes"
    return shot


# What the visitor answers to each question of the qualification flow (matched on the question asked).
ANSWERS: list[tuple[re.Pattern[str], str]] = [
    # the summary that comes with the last question, and the company proposed from the email domain
    (re.compile(r"here's what i have", re.I), "Yes, that's all correct"),
    (re.compile(r"the company you're with", re.I), "Yes"),
    (re.compile(r"work e-?mail", re.I), "jane.doe@acme-logistics.com"),
    (re.compile(r"your name", re.I), "Jane Doe"),
    (re.compile(r"which company", re.I), "Acme Logistics"),
    (re.compile(r"your role", re.I), "I'm the VP of Product"),
    (re.compile(r"how many people", re.I), "We are about 250 people"),
    (re.compile(r"like to solve", re.I), "We need to reduce churn among our customers"),
    (re.compile(r"budget", re.I), "Around 40k USD a year"),
    (re.compile(r"when would you like", re.I), "Within the next two months"),
    (re.compile(r"phone number", re.I), "skip"),
    (re.compile(r"contact you", re.I), "Yes"),
]


def answer_for(question: str) -> str:
    for pattern, answer in ANSWERS:
        if pattern.search(question):
            return answer
    raise AssertionError(f"the test has no answer for the assistant's question: {question!r}")


def test_qualification_conversation_with_kb_answer_and_demo_booking(
    new_page: Callable[..., Page], live_server: LiveServer, tmp_path: Path
) -> None:
    page = new_page(viewport={"width": 1280, "height": 860})
    page.goto(live_server.url + "/demo")
    open_chat(page)

    # a knowledge-base question: the answer comes with its source
    replies = say(page, "How much does the Team plan cost per seat?")
    assert any("$39" in r for r in replies), replies
    answer = assistant_messages(page).filter(has_text="$39").last
    expect(answer).to_be_visible()
    expect(answer.get_by_role("list", name="Sources")).to_contain_text("Source: pricing.md")

    # ask for a demo, then answer whatever the assistant asks until it offers slots
    say(page, "Great, I'd like to book a demo")
    options = chat_log(page).get_by_role("group", name="Suggested replies").get_by_role("button")
    for _ in range(15):
        if options.count():
            break
        question = assistant_messages(page).last.inner_text()
        say(page, answer_for(question))
    expect(options.first).to_be_visible()
    slot = options.first.inner_text()
    assert "Europe/Berlin" in slot, slot  # offered in the visitor's own time zone

    # pick a slot with the keyboard: the confirmation and the invite link appear
    options.first.focus()
    page.keyboard.press("Enter")
    expect(visitor_messages(page).last).to_contain_text(slot)
    wait_answered(page)
    confirmation = assistant_messages(page).last
    expect(confirmation).to_contain_text("You're booked")
    expect(confirmation).to_contain_text(slot.split(",")[0])
    ics_link = confirmation.get_by_role("link", name="Add to your calendar (.ics)")
    expect(ics_link).to_be_visible()
    expect(ics_link).to_have_attribute("href", re.compile(r"/v1/bookings/[0-9a-f-]{36}\.ics$"))
    # the bare link opens nothing (no ticket); a click asks for a short-lived ticket and downloads the invite
    assert page.request.get(ics_link.get_attribute("href") or "").status == 422
    with page.expect_download() as downloading:
        ics_link.click()
    download = downloading.value
    assert re.search(r"/v1/bookings/[0-9a-f-]{36}\.ics\?ticket=[\w.-]+$", download.url), download.url
    token = page.evaluate(
        "JSON.parse(localStorage.getItem(Object.keys(localStorage).find(k => k.endsWith(':conversation')))).token"
    )
    assert token not in download.url  # no conversation token in a URL
    invite = Path(download.path()).read_text(encoding="utf-8")
    assert "BEGIN:VCALENDAR" in invite and "METHOD:REQUEST" in invite, invite[:300]

    transcript = chat_log(page).inner_text()
    shot = save_screenshot(page, tmp_path)
    assert shot.exists()

    # a reload shows the same conversation again
    reload_page(page)
    expect(assistant_messages(page).last).to_contain_text("You're booked")
    expect(chat_log(page).get_by_text("Source: pricing.md")).to_be_visible()
    expect(chat_log(page).get_by_role("link", name="Add to your calendar (.ics)")).to_be_visible()
    assert chat_log(page).inner_text() == transcript


def conversation_id(page: Page) -> str:
    return page.evaluate(
        "JSON.parse(localStorage.getItem(Object.keys(localStorage).find(k => k.endsWith(':conversation')))).id"
    )


def test_staff_reply_after_handoff_arrives_live(
    new_page: Callable[..., Page], live_server: LiveServer
) -> None:
    page = new_page()
    page.goto(live_server.url + "/demo")
    open_chat(page)
    say(page, "I'd like to talk to a person, please")
    expect(assistant_messages(page).last).to_contain_text("passing you to a person")

    # a person answers through the staff API; the widget shows it without a reload
    request = urllib.request.Request(
        f"{live_server.url}/v1/handoffs/{conversation_id(page)}/messages",
        data=b'{"text": "Hi, Anna from sales here. How can I help?"}',
        headers={"Authorization": f"Bearer {live_server.staff_key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 201
    staff = chat_log(page).locator(".msg.staff")
    expect(staff).to_have_count(1)
    expect(staff).to_contain_text("Sales team")
    expect(staff).to_contain_text("Hi, Anna from sales here. How can I help?")
