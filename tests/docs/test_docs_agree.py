"""The documents agree with each other on hot, high-value visitors, and on who the assistant speaks for.

The decision (issue 10): a hot, high-value visitor gets demo slots to book **and** a person is notified. A
document that says such a visitor goes to a person instead, without a booking, contradicts it. Each block
of text (paragraph or list item) of ``README.md`` and ``docs/**/*.md`` that talks about high-value leads
and about a person taking them must also say they book (slots, demo, booking, sales).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])

HIGH_VALUE = re.compile(r"\bhigh[-_ ]value\b", re.I)
TO_A_PERSON = re.compile(
    r"\b(goes to a person|to a person|hand(?:ed|s)?[- ]?off|handoff|passed to|a person|colleague|human)\b",
    re.I,
)
BOOKS = re.compile(r"\b(book(?:s|ed|ing)?|slots?|demo|goes to sales|route_to_sales)\b", re.I)
INSTEAD = re.compile(r"\binstead of (?:the )?(?:demo|slots|booking|automatic reply|a booking)\b", re.I)
NOTIFIED = re.compile(r"\b(notif(?:y|ied|ies|ication)|confirms the hand-off)\b", re.I)


def blocks(text: str) -> list[tuple[int, str]]:
    """Paragraphs and list items of a Markdown text with their first line (code blocks left out)."""
    found: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    in_code = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        new_item = re.match(r"\s*(?:[-*]|\d+\.)\s", line) is not None
        if not line.strip() or new_item or line.startswith("#"):
            if current:
                found.append((start, " ".join(current)))
            current = []
            if not line.strip() or line.startswith("#"):
                continue
        if not current:
            start = number
        current.append(line.strip())
    if current:
        found.append((start, " ".join(current)))
    return found


def contradictions(text: str) -> list[tuple[int, str]]:
    """Blocks that send high-value leads to a person without a booking."""
    bad = []
    for line, block in blocks(text):
        if not HIGH_VALUE.search(block):
            continue
        if INSTEAD.search(block) or (TO_A_PERSON.search(block) and not BOOKS.search(block)):
            bad.append((line, block))
    return bad


def test_the_detector_catches_the_old_wording() -> None:
    old = (
        "7. **Completion.**\n"
        "   - A **high-value** lead goes to a person: the budget's yearly lower bound, or the head count's lower\n"
        "     bound, is at or above the flow's thresholds. Budgets are not converted between currencies.\n"
        "   - Otherwise the reply follows the decision's action:\n"
    )
    assert [line for line, _ in contradictions(old)] == [2]
    assert contradictions("High-value leads go to a person instead of the automatic reply.")
    agreed = (
        "A hot, high-value visitor gets the demo slots to book **and** a person is notified (reason\n"
        "`high_value`), so the visitor never waits for a person before booking.\n"
    )
    assert contradictions(agreed) == []


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_doc_hands_high_value_visitors_off_without_a_booking(path: Path) -> None:
    found = contradictions(path.read_text(encoding="utf-8"))
    assert found == [], "\n".join(f"{path.relative_to(ROOT)}:{line}: {block}" for line, block in found)


@pytest.mark.parametrize("name", ["docs/chat-flows.md", "docs/chat-qualification.md"])
def test_the_chat_docs_state_book_and_notify(name: str) -> None:
    stated = [
        block
        for _, block in blocks((ROOT / name).read_text(encoding="utf-8"))
        if HIGH_VALUE.search(block) and BOOKS.search(block) and NOTIFIED.search(block)
    ]
    assert stated, f"{name} does not say that a hot, high-value visitor books and a person is notified"


def test_docs_name_no_company_where_the_branding_does() -> None:
    """The company in the widget and booking docs comes from the branding, not from a hard-coded name."""
    booking = (ROOT / "docs" / "booking.md").read_text(encoding="utf-8")
    assert not re.search(r"^company: ", booking, re.M), "docs/booking.md still shows calendars `company:`"
    branding = (ROOT / "docs" / "branding.md").read_text(encoding="utf-8")
    for field in (
        "company",
        "assistant_name",
        "tone",
        "greetings",
        "invite_organizer",
        "website",
        "careers_url",
        "resources",
        "prompts",
        "{company}",
        "{assistant}",
        "LEADGATE_BRANDING_FILE",
    ):
        assert field in branding, field
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "LEADGATE_BRANDING_FILE" in readme and "docs/branding.md" in readme
