"""Branding is configuration: the model, ``apply_branding``, the files that carry it, invites, the demo page.

The second company is Quillstack (``examples/quillstack/branding.yml``): with it applied, nothing the assistant
can say names the shipped example company, and invites come from Quillstack's organizer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from icalendar import Calendar
from sqlalchemy import Engine
from tests.chat.flow_support import TwoPassageKb
from tests.cli_support import run, wide_console

from leadgate.chat.booking import CalendarScheduler, CalendarSet, offer_id
from leadgate.chat.booking.ics import build_invite
from leadgate.chat.booking.model import Organizer
from leadgate.chat.flows import Assistant, FlowError, default_flow_text, load_default_flow, load_flow
from leadgate.chat.flows.branding import (
    BRAND_PLACEHOLDERS,
    DEFAULT_BRANDING,
    TONE_PACKS,
    TONED_TEXTS,
    Branding,
    BrandingError,
    apply_branding,
    load_branding,
    load_branding_text,
    placeholders,
    rotate,
)
from leadgate.chat.llm import from_settings as llm_from_settings
from leadgate.chat.nlu import NLU
from leadgate.chat.runtime import invite_company, load_branded_flow
from leadgate.config import Settings
from leadgate.web.routes import demo_page, widget_title

__all__ = ["wide_console"]

ROOT = Path(__file__).resolve().parents[2]
QUILLSTACK = ROOT / "examples" / "quillstack" / "branding.yml"
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # Monday 07:00 in Berlin


def every_text(flow: Any) -> list[str]:
    """Everything a branded flow can say or show: texts, decision replies, slot wording, links, greetings."""
    dump = flow.model_dump(mode="json", by_alias=True)
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(dump["texts"])
    walk(dump["decisions"])
    walk(dump["resources"])
    walk([{k: s[k] for k in ("label", "prompt", "why")} for s in dump["slots"]])
    walk(dump["branding"]["greetings"])
    return found


def line_of(text: str, needle: str) -> int:
    """1-based line of the first occurrence of ``needle`` in ``text``."""
    return text[: text.index(needle)].count("\n") + 1


# ----- the shipped example stays as it was -------------------------------------------------------------


def test_default_branding_is_valid_and_is_the_shipped_flows_section() -> None:
    assert Branding.model_validate(DEFAULT_BRANDING.model_dump()) == DEFAULT_BRANDING
    flow = load_default_flow()
    assert flow.branding == DEFAULT_BRANDING
    # the wording the shipped example had before texts were templates
    assert flow.texts.greeting == (
        "Hi! I'm Lumenly's assistant. I can answer questions about Lumenly and set up a demo with our team."
    )
    assert flow.slot("need").prompt == "What would you like to solve with Lumenly?"
    assert "https://example.com/careers" in flow.texts.job_seeker
    assert flow.texts.noted.format(items="name Dana") == "Got it: name Dana."


def test_shipped_flow_names_the_company_only_through_placeholders() -> None:
    text = default_flow_text()
    body = text[text.index("\nslots:") :]
    assert "Lumenly" not in body
    assert "{company}" in body and "{assistant}" in body


# ----- Quillstack ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quillstack_flow() -> Any:
    return load_default_flow(QUILLSTACK)


def test_quillstack_branding_leaves_no_trace_of_the_example_company(quillstack_flow: Any) -> None:
    texts = every_text(quillstack_flow)
    assert len(texts) > 40
    for text in texts:
        assert "Lumenly" not in text, text
        assert "Example Analytics" not in text, text
        assert "example.com" not in text, text
        assert not placeholders(text) & BRAND_PLACEHOLDERS, text
    greeting = quillstack_flow.texts.greeting
    assert "Wren" in greeting and "Quillstack" in greeting
    assert "accounts-payable" in quillstack_flow.slot("need").prompt
    assert quillstack_flow.texts.job_seeker.count("https://quillstack.example/careers") == 1
    assert all(r.url.startswith("https://quillstack.example/") for r in quillstack_flow.resources)


def test_formal_tone_replaces_the_toned_texts_and_overrides_win(quillstack_flow: Any) -> None:
    shipped = load_default_flow()
    for key in ("noted", "misunderstood", "goodbye", "handoff"):
        assert getattr(quillstack_flow.texts, key) == TONE_PACKS["formal"][key]
        assert getattr(quillstack_flow.texts, key) != getattr(shipped.texts, key)
    # prompts.texts wins over the flow's own wording
    assert quillstack_flow.texts.out_of_scope == (
        "I can only help with questions about Quillstack and with arranging a demonstration."
    )
    # run-time placeholders survive branding and still format
    assert quillstack_flow.texts.noted.format(items="company Corvex") == "Thank you. Noted: company Corvex."
    assert "{first_name}" in quillstack_flow.decisions.route_to_sales


@pytest.mark.parametrize("tone", sorted(TONE_PACKS))
def test_every_tone_pack_is_complete_and_renders(tone: str) -> None:
    assert set(TONE_PACKS[tone]) == set(TONED_TEXTS)
    branding = Branding(company="Quillstack", assistant_name="Wren", tone=tone)  # type: ignore[arg-type]
    branding = branding.model_copy(update={"careers_url": "https://quillstack.example/careers"})
    flow = apply_branding(load_default_flow(), branding)
    assert "Quillstack" in flow.texts.greeting and "Wren" in flow.texts.greeting
    assert flow.texts.noted.format(items="X") != flow.texts.noted


def test_greetings_rotate_by_conversation_id(quillstack_flow: Any) -> None:
    variants = quillstack_flow.branding.greetings.variants("greeting")
    assert len(variants) == 2 and all("Wren" in v and "Quillstack" in v for v in variants)
    seen = {quillstack_flow.greeting_for(f"conv-{i}") for i in range(40)}
    assert seen == set(variants)
    for cid in ("a", "3f2a9c", "conversation-17"):
        assert quillstack_flow.greeting_for(cid) == quillstack_flow.greeting_for(cid) == rotate(variants, cid)
    assert quillstack_flow.greeting_for("x", again=True) == "Hello again. How may I help you?"
    assert load_default_flow().greeting_for("anything") == load_default_flow().texts.greeting


def test_the_engine_greets_with_the_rotated_greeting(quillstack_flow: Any, nlu: NLU) -> None:
    assistant = Assistant(quillstack_flow, kb=TwoPassageKb(), nlu=nlu)
    for cid in ("conv-1", "conv-2", "conv-3", "conv-4"):
        first = assistant.start(conversation_id=cid, now=NOW, visitor_tz="Europe/Berlin")
        assert first.replies[0].text == quillstack_flow.greeting_for(cid)


# ----- where the branding comes from ------------------------------------------------------------------


ACME_FLOW_BRANDING = """branding:
  company: Acme Ledger
  assistant_name: Ada
  careers_url: "https://acme.example/jobs"

"""


def acme_flow(tmp_path: Path) -> Path:
    text = default_flow_text()
    start = text.index("branding:\n")
    end = text.index("\nslots:")
    path = tmp_path / "flow.yml"
    path.write_text(text[:start] + ACME_FLOW_BRANDING + text[end + 1 :], encoding="utf-8")
    return path


def test_branding_file_setting_overrides_the_flow_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow_file = acme_flow(tmp_path)
    monkeypatch.setenv("LEADGATE_FLOW_FILE", str(flow_file))
    monkeypatch.delenv("LEADGATE_BRANDING_FILE", raising=False)
    own = load_branded_flow(Settings())
    assert own.branding is not None and own.branding.company == "Acme Ledger"
    assert own.texts.greeting.startswith("Hi! I'm Ada. I can answer questions about Acme Ledger")

    monkeypatch.setenv("LEADGATE_BRANDING_FILE", str(QUILLSTACK))
    settings = Settings()
    assert settings.branding_file == QUILLSTACK
    overridden = load_branded_flow(settings)
    assert overridden.branding is not None and overridden.branding.company == "Quillstack"
    assert not any("Acme" in t or "Ada" in t for t in every_text(overridden))

    monkeypatch.delenv("LEADGATE_FLOW_FILE")
    shipped = load_branded_flow(Settings())
    assert shipped.branding is not None and shipped.branding.assistant_name == "Wren"


def test_unknown_placeholder_in_the_flow_names_file_and_line(tmp_path: Path) -> None:
    text = default_flow_text().replace("just ask.", "just ask {compnay}.")
    path = tmp_path / "flow.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FlowError) as caught:
        load_flow(path)
    line = line_of(text, "closed:")
    message = str(caught.value)
    assert f"{path}:{line}:" in message and "texts.closed" in message and "'compnay'" in message
    assert "{company}" in message  # the allowed ones are listed


def test_unknown_placeholder_in_a_slot_prompt_names_its_line(tmp_path: Path) -> None:
    text = default_flow_text().replace("what's your name?", "what's your name, says {assistent}?")
    path = tmp_path / "flow.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FlowError) as caught:
        load_flow(path)
    assert f"{path}:{line_of(text, '{assistent}')}:" in str(caught.value)
    assert "slots.0.prompt" in str(caught.value)


def test_unknown_placeholder_in_a_branding_file_names_file_and_line(tmp_path: Path) -> None:
    text = QUILLSTACK.read_text(encoding="utf-8").replace("take care of?", "take care of for {customer}?")
    path = tmp_path / "branding.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BrandingError) as caught:
        load_branding(path)
    assert f"{path}:{line_of(text, '{customer}')}:" in str(caught.value)
    assert "prompts.slots.need.prompt" in str(caught.value) and "'customer'" in str(caught.value)


@pytest.mark.parametrize(
    ("yaml_text", "where", "message"),
    [
        ("company: Quillstack\nassistant_name: Wren\ncolour: teal\n", "3:1: colour", "unknown key 'colour'"),
        ("company: Quillstack\nassistant_name: Wren\ntone: chirpy\n", "3:7: tone", "'friendly'"),
        ("company: Quill{stack}\nassistant_name: Wren\n", "1:10: company", "should match pattern"),
        ("company: Quillstack\n", "1:1: assistant_name", "missing required key 'assistant_name'"),
        (
            "company: Quillstack\nassistant_name: Wren\nprompts:\n  texts:\n    goodbye: 'Bye from {website}'\n",
            "5:14: prompts.texts.goodbye",
            "sets no website",
        ),
        (
            "company: Quillstack\nassistant_name: Wren\nprompts:\n  texts:\n    farewell: 'Bye'\n",
            "5:15: prompts.texts.farewell",
            "unknown text 'farewell'",
        ),
        (
            "company: Quillstack\nassistant_name: Wren\ninvite_organizer: {name: Sales, email: nope}\n",
            "3:40: invite_organizer.email",
            "should match pattern",
        ),
    ],
)
def test_branding_file_errors_point_at_the_line(yaml_text: str, where: str, message: str) -> None:
    with pytest.raises(BrandingError) as caught:
        load_branding_text(yaml_text, source="b.yml")
    text = str(caught.value)
    assert f"b.yml:{where}" in text and message in text, text


def test_override_of_a_slot_the_flow_lacks_is_reported_in_the_branding_file(tmp_path: Path) -> None:
    path = tmp_path / "branding.yml"
    path.write_text(
        "company: Quillstack\nassistant_name: Wren\ncareers_url: https://q.example/jobs\n"
        "prompts:\n  slots:\n    fax_number:\n      prompt: 'Your fax?'\n",
        encoding="utf-8",
    )
    with pytest.raises(BrandingError) as caught:
        load_default_flow(path)
    assert f"{path}:7:" in str(caught.value) and "no slot 'fax_number'" in str(caught.value)


def test_a_link_the_branding_does_not_set_is_reported_at_the_flow_text(tmp_path: Path) -> None:
    path = tmp_path / "branding.yml"
    path.write_text("company: Quillstack\nassistant_name: Wren\n", encoding="utf-8")
    with pytest.raises(FlowError) as caught:
        load_default_flow(path)
    text = default_flow_text()
    line = line_of(text, 'job_seeker: "Thanks')
    assert f"flow.yml:{line}:" in str(caught.value)
    assert "sets no careers_url" in str(caught.value)


def test_check_branding_command(wide_console: None, tmp_path: Path) -> None:
    out = run("chat", "check-branding", str(QUILLSTACK))
    assert "ok (Wren for Quillstack, tone: formal" in out
    assert "greeting: Welcome to Quillstack. I am Wren" in out
    bad = tmp_path / "b.yml"
    bad.write_text("company: Quillstack\nassistant_name: Wren\ngreetings:\n  greeting: 'Hi from {team}'\n")
    out = run("chat", "check-branding", str(bad), code=1)
    assert f"{bad}:4:13: greetings.greeting: unknown placeholder(s) ['team']" in out


# ----- invites ------------------------------------------------------------------------------------------


def calendars(company: str | None) -> CalendarSet:
    hours = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
    data: dict[str, Any] = {
        "name": "t",
        "version": 1,
        "min_notice_minutes": 60,
        "reps": [
            {
                "id": "bea",
                "name": "Bea Berlin",
                "email": "bea@example.com",
                "timezone": "Europe/Berlin",
                "working_hours": hours,
                "meeting_minutes": 30,
            }
        ],
    }
    if company is not None:
        data["company"] = company
    return CalendarSet.model_validate(data)


def test_invite_organizer_and_company_come_from_the_branding(engine: Engine) -> None:
    branding = load_branding(QUILLSTACK)
    cal = calendars("Example Analytics")  # an old calendars file: its company is ignored
    scheduler = CalendarScheduler(
        engine,
        cal,
        clock=lambda: NOW,
        company=invite_company(branding, cal),
        organizer=branding.invite_organizer,
    )
    start = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    result = scheduler.book(
        scheduler.offer(offer_id("bea", start), visitor_tz="America/Chicago"),
        conversation_id="c-quill",
        attendee_name="Dana Whitfield",
        attendee_email="dana@corvexlogistics.com",
        visitor_tz="America/Chicago",
    )
    assert result.booked and result.booking_id is not None
    booking = scheduler.get_booking(result.booking_id)
    assert booking is not None
    event = Calendar.from_ical(booking.ics).events[0]
    assert str(event["ORGANIZER"]) == "mailto:demos@quillstack.example"
    assert event["ORGANIZER"].params["CN"] == "Quillstack Sales"
    assert str(event["SUMMARY"]) == "Quillstack demo: Dana Whitfield and Bea Berlin"
    assert "Example Analytics" not in booking.ics
    chair = [a for a in event["ATTENDEE"] if a.params.get("ROLE") == "CHAIR"]
    assert [str(a) for a in chair] == ["mailto:bea@example.com"]


def test_old_calendars_company_is_a_fallback_only_without_branding(caplog: pytest.LogCaptureFixture) -> None:
    assert invite_company(DEFAULT_BRANDING, calendars("Example Analytics")) == "Example Analytics"
    assert "deprecated" in caplog.text
    assert invite_company(DEFAULT_BRANDING, calendars(None)) == "Lumenly"
    assert invite_company(load_branding(QUILLSTACK), calendars("Example Analytics")) == "Quillstack"
    assert "ignored" in caplog.text


def test_invite_without_organizer_is_organized_by_the_rep() -> None:
    rep = calendars(None).reps[0]
    ics = build_invite(
        booking_id="b1",
        rep=rep,
        company="Lumenly",
        start=datetime(2026, 11, 24, 9, tzinfo=UTC),
        end=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
        attendee_name="Jane Doe",
        attendee_email="jane@acme-logistics.com",
        attendee_tz="Europe/Berlin",
        stamp=NOW,
    )
    event = Calendar.from_ical(ics).events[0]
    assert str(event["ORGANIZER"]) == "mailto:bea@example.com"
    assert str(event["SUMMARY"]).startswith("Lumenly demo:")
    with_org = build_invite(
        booking_id="b2",
        rep=rep,
        company=None,
        start=datetime(2026, 11, 24, 9, tzinfo=UTC),
        end=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
        attendee_name="Jane Doe",
        attendee_email="jane@acme-logistics.com",
        attendee_tz="Europe/Berlin",
        stamp=NOW,
        organizer=Organizer(name="Acme Demos", email="demos@acme.example"),
    )
    event = Calendar.from_ical(with_org).events[0]
    assert str(event["ORGANIZER"]) == "mailto:demos@acme.example"
    assert str(event["SUMMARY"]).startswith("Demo: Jane Doe")


# ----- the LLM's phrasing and the demo page ------------------------------------------------------------


def test_phrasing_request_carries_the_tone() -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        reply = json.dumps({"reply": "Thank you. Which company do you represent?"})
        return httpx.Response(200, json={"choices": [{"message": {"content": reply}}]})

    settings = Settings(llm_base_url="http://llm.test/v1", llm_model="m")
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        llm = llm_from_settings(settings, client, tone=load_branding(QUILLSTACK).phrasing_tone)
        assert llm is not None
        assert (
            llm.phrase("Which company are you with?", facts=[])
            == "Thank you. Which company do you represent?"
        )
    user = json.loads(sent[0]["messages"][1]["content"])
    assert user["tone"] == "formal"
    assert "`tone`" in sent[0]["messages"][0]["content"]


def test_demo_page_is_branded() -> None:
    quill = demo_page(load_branding(QUILLSTACK), "http://127.0.0.1:8000")
    assert "<title>Quillstack (leadgate demo)</title>" in quill
    assert 'data-leadgate-title="Wren · Quillstack"' in quill
    assert "Accounts payable, from invoice to payment" in quill
    assert "Lumenly" not in quill and "{{" not in quill and "Funnels" not in quill
    lumenly = demo_page(DEFAULT_BRANDING, "http://127.0.0.1:8000")
    assert 'data-leadgate-title="Lumenly assistant"' in lumenly and "Funnels" in lumenly
    assert widget_title(DEFAULT_BRANDING) == "Lumenly assistant"
    odd = Branding(company="R&D <Tools>", assistant_name="Max")
    assert "R&amp;D &lt;Tools&gt;" in demo_page(odd, "http://x") and "<Tools>" not in demo_page(
        odd, "http://x"
    )
