"""Issue 10: lead-ins, question types, answer selection by type, tables as sentences, FAQ files."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadgate.chat.kb import KnowledgeBase, load_passages
from leadgate.chat.kb.evaluate import unsupported_claim
from leadgate.chat.kb.loader import render_row
from leadgate.chat.kb.query import (
    LEAD_INS,
    QuestionType,
    counted_noun,
    main_verb,
    normalise,
    question_numbers,
    question_type,
    split_questions,
    strip_lead_in,
)
from leadgate.chat.kb.text import snowball_stem_words

ROOT = Path(__file__).resolve().parents[2]
QUILLSTACK = ROOT / "examples" / "quillstack" / "kb"


def write(folder: Path, name: str, content: str) -> None:
    (folder / name).write_text(content, encoding="utf-8")


# --- lead-ins ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "question"),
    [
        ("so, quick question: do you have an API?", "do you have an API?"),
        ("hey there! I was wondering if you integrate with HubSpot", "if you integrate with HubSpot"),
        ("sorry if this is dumb but is there a free trial", "is there a free trial"),
        ("one more thing - can we keep our data in the EU?", "can we keep our data in the EU?"),
        ("ok thanks. and do you integrate with hubspot?", "do you integrate with hubspot?"),
        ("btw are you soc 2 compliant?", "are you soc 2 compliant?"),
        ('"so, quick question: do you have an API?"', 'do you have an API?"'),
        ("Good morning team, quick q: whats the uptime", "whats the uptime"),
        ("Hi!! thanks so much. Also, do you do SSO?", "do you do SSO?"),
        ("Just wanted to ask: is there a mobile app", "is there a mobile app"),
    ],
)
def test_lead_ins_are_stripped(message: str, question: str) -> None:
    assert strip_lead_in(message) == question


@pytest.mark.parametrize(
    "message", ["hello!", "Hi there", "Basic plan price?", "Plus plan details", "Sorry", "Question"]
)
def test_a_message_that_is_only_a_lead_in_or_starts_with_a_name_is_kept(message: str) -> None:
    assert strip_lead_in(message) == message


def test_the_lead_in_list_is_documented_patterns() -> None:
    assert len(LEAD_INS) >= 8
    assert all(isinstance(p, str) and p for p in LEAD_INS)


def test_chat_spellings_become_document_words() -> None:
    assert normalise("is there an on prem version") == "is there an on-premises version"
    assert (
        normalise("can i cancel anytime? do u do pen tests")
        == "can i cancel any time? do you do penetration test"
    )
    assert "single sign-on" in normalise("do you have sso")


# --- question types ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("how much does it cost?", QuestionType.PRICE),
        ("Is it expensive per seat?", QuestionType.PRICE),
        ("what's your pricing", QuestionType.PRICE),
        ("do you sell my data?", QuestionType.DATA_PROTECTION),
        ("Are you GDPR compliant", QuestionType.DATA_PROTECTION),
        ("who can see our invoices?", QuestionType.DATA_PROTECTION),
        ("what about privacy", QuestionType.DATA_PROTECTION),
        ("how many employees do you have", QuestionType.QUANTITY),
        ("how long does onboarding take?", QuestionType.QUANTITY),
        ("Do you integrate with NetSuite?", QuestionType.YES_NO),
        ("is there a free trial", QuestionType.YES_NO),
        ("Which browsers are supported?", QuestionType.OTHER),
    ],
)
def test_question_type(question: str, kind: QuestionType) -> None:
    assert question_type(question) is kind


def test_main_verb_counted_noun_and_question_split() -> None:
    assert main_verb("can we keep our data in the EU?") == "keep"
    assert main_verb("Do you integrate with HubSpot") == "integrate"
    assert main_verb("are you SOC 2 compliant?") is None
    assert counted_noun("How many seats can I have?") == "seats"
    assert counted_noun("how long does it take") is None
    assert split_questions("Where is it hosted? Can we keep it in the EU?") == [
        "Where is it hosted?",
        "Can we keep it in the EU?",
    ]
    assert split_questions("Is there an API?") == ["Is there an API?"]


# --- tables and FAQ files -------------------------------------------------------------------------------------


def test_render_row_reads_as_a_sentence() -> None:
    header = ["Plan", "Price per editor per month", "Billing"]
    assert (
        render_row(header, ["Team", "$39", "monthly"])
        == "For the Team plan, the price per editor per month is $39 and the billing is monthly."
    )
    assert render_row(["Tier", "Seats"], ["Gold tier", "10"]) == "For the Gold tier, the seats are 10."
    assert (
        render_row(["Feature", "SSO"], ["Audit log", "Yes."]) == "For the Audit log feature, the SSO is Yes."
    )
    assert render_row(None, ["a", "b"]) == "a | b"
    assert (
        render_row(["Plan", "Price", "Seats"], ["Team", "", "10"]) == "For the Team plan, the seats are 10."
    )


def test_markdown_and_html_tables_render_rows_and_drop_the_header(tmp_path: Path) -> None:
    write(
        tmp_path, "a.md", "# Prices\n\n| Plan | Monthly price |\n|---|---|\n| Team | $39 |\n| Pro | $79 |\n"
    )
    write(
        tmp_path,
        "b.html",
        "<h1>Limits</h1><table><thead><tr><th>Plan</th><th>Projects</th></tr></thead>"
        "<tbody><tr><td>Team</td><td>10</td></tr></tbody></table>"
        "<table><tr><td>no</td><td>header</td></tr></table>",
    )
    blocks = [b for p in load_passages(tmp_path) for b in p.blocks]
    assert blocks == [
        "For the Team plan, the monthly price is $39.",
        "For the Pro plan, the monthly price is $79.",
        "For the Team plan, the projects are 10.",
        "no | header",
    ]


def test_text_faq_pairs_become_sections_and_paragraph_numbers_go(tmp_path: Path) -> None:
    write(
        tmp_path,
        "faq.txt",
        "Help\n\nQ: Do you have an API?\nA: Yes. The REST API is on every plan.\n\n"
        "Question: Is there a mobile app?\nAnswer: No.\n",
    )
    write(tmp_path, "paper.md", "# Paper\n\n## 1. Scope\n\n1.1 Data is encrypted at rest.\n")
    passages = load_passages(tmp_path)
    assert [(p.heading, p.blocks) for p in passages] == [
        ("Do you have an API?", ("Yes. The REST API is on every plan.",)),
        ("Is there a mobile app?", ("No.",)),
        ("1. Scope", ("Data is encrypted at rest.",)),
    ]


# --- answers on the shipped Lumenly example and on Quillstack ------------------------------------------------


@pytest.fixture(scope="module")
def lumenly() -> KnowledgeBase:
    return KnowledgeBase.load()


@pytest.fixture(scope="module")
def quillstack() -> KnowledgeBase:
    return KnowledgeBase.load(QUILLSTACK)


@pytest.mark.parametrize(
    "message",
    [
        "so, quick question: do you have an API?",
        "btw, do you have an API",
        "hey there! I was wondering if you have an API?",
        "sorry if this is dumb but do you have an api",
        "Do you have an API?",
    ],
)
def test_a_lead_in_does_not_change_the_answer(lumenly: KnowledgeBase, message: str) -> None:
    answer = lumenly.answer(message)
    assert answer.grounded
    assert answer.citations[0].source == "integrations.html"
    assert "REST API" in answer.text


def test_how_much_does_it_cost_gets_prices_not_the_annual_discount(lumenly: KnowledgeBase) -> None:
    answer = lumenly.answer("how much does it cost?")
    assert answer.grounded
    assert "$39" in answer.text and "$79" in answer.text
    assert "18%" not in answer.text
    assert unsupported_claim(answer, lumenly.passages) is None


def test_a_focused_price_question_gets_that_plans_price(
    lumenly: KnowledgeBase, quillstack: KnowledgeBase
) -> None:
    business = lumenly.answer("hey, how much is the business plan per seat?")
    assert business.grounded and "$79" in business.text and "$39" not in business.text
    growth = quillstack.answer("What's the price of the Growth plan?")
    assert growth.grounded
    assert growth.text.startswith("For the Growth plan, the monthly price is $1,200")
    assert growth.citations[0].source == "pricing.html"


def test_do_you_sell_my_data_is_honest(lumenly: KnowledgeBase, quillstack: KnowledgeBase) -> None:
    # Lumenly's documents say nothing about selling data: "I don't know", not the sentence about customers
    # who "sell subscriptions"
    lumenly_answer = lumenly.answer("do you sell my data?")
    assert not lumenly_answer.grounded
    assert "subscriptions" not in lumenly_answer.text
    # Quillstack's do
    answer = quillstack.answer("do you sell my data?")
    assert answer.grounded and "never sells customer data" in answer.text


def test_a_data_protection_question_is_answered_from_a_data_protection_passage(
    lumenly: KnowledgeBase,
) -> None:
    answer = lumenly.answer("who can see our data? can your employees access it?")
    assert answer.grounded
    assert "access" in answer.text
    assert answer.citations[0].source == "security.html"


def test_yes_no_answer_names_the_thing_asked_about(lumenly: KnowledgeBase, quillstack: KnowledgeBase) -> None:
    answer = lumenly.answer("one more thing - can we keep our data in the EU?")
    assert answer.grounded and "EU" in answer.text
    netsuite = quillstack.answer("Do you integrate with NetSuite?")
    assert netsuite.grounded and "NetSuite" in netsuite.text
    assert netsuite.text.startswith("Yes.") or netsuite.citations[0].source == "help-center.html"


def test_how_many_needs_a_number_of_that_thing(lumenly: KnowledgeBase, quillstack: KnowledgeBase) -> None:
    seats = lumenly.answer("How many seats can I have on the Team plan?")
    assert seats.grounded and "25 editor seats" in seats.text
    customers = quillstack.answer("how many customers do you have?")
    assert not customers.grounded


def test_two_questions_in_one_message_are_both_answered(quillstack: KnowledgeBase) -> None:
    answer = quillstack.answer("Do you integrate with NetSuite? And do you have webhooks?")
    assert answer.grounded
    assert "NetSuite" in answer.text and "Webhooks" in answer.text
    assert len(answer.citations) == 2
    assert unsupported_claim(answer, quillstack.passages) is None


def test_a_word_form_variant_is_matched_but_an_unknown_name_is_not(quillstack: KnowledgeBase) -> None:
    assert quillstack.answer("are you SOC 2 compliant?").grounded
    for question in (
        "Do you integrate with Workday?",
        "is there a Chrome extension?",
        "do you support Coupa",
    ):
        assert not quillstack.answer(question).grounded, question


def test_stemming_variant_rules() -> None:
    kb = KnowledgeBase.load(QUILLSTACK)
    index = kb._bm25
    assert index.variant("1099s") == "1099"
    assert index.variant("workday") == "workday"  # shares only "work": not a variant
    assert index.variant(snowball_stem_words(["compliant"])[0]).startswith("compli")


def test_a_number_in_the_question_must_be_in_the_answer(quillstack: KnowledgeBase) -> None:
    assert question_numbers("do you have a SOC 1 report? ISO 27001? 99.9% uptime") == ("1", "27001", "99.9")
    assert question_numbers("do you file 1099s for 3-way matches 24/7") == ()
    assert quillstack.answer("Are you SOC 2 compliant?").grounded
    for question in ("do you have a SOC 1 report?", "what about SOC 3?"):
        answer = quillstack.answer(question)
        assert not answer.grounded, (question, answer.text)


def test_a_price_question_never_gets_an_unrelated_sentence(quillstack: KnowledgeBase) -> None:
    # the knowledge base calls it an "implementation fee": no price sentence mentions onboarding, and the
    # onboarding description is no price
    answer = quillstack.answer("how much does onboarding cost?")
    assert not answer.grounded or "$" in answer.text
    assert "International wires" not in answer.text


def test_a_heading_only_match_quotes_the_sections_opening_paragraph(quillstack: KnowledgeBase) -> None:
    answer = quillstack.answer("do you train your models on our invoices?")
    assert answer.grounded
    assert answer.text == (
        "Only if you opt in. By default, your invoices are not used to train models that serve other customers."
    )


def test_yes_opener_is_quoted_only_for_a_yes_no_question(quillstack: KnowledgeBase) -> None:
    closed = quillstack.answer("Do you integrate with NetSuite?")
    assert closed.grounded and closed.text.startswith("Yes. ")
    counted = quillstack.answer("how many currencies can you pay vendors in?")
    assert counted.grounded and "42 currencies" in counted.text
    assert not counted.text.startswith("Yes.")


def test_cost_finds_a_table_that_says_price(quillstack: KnowledgeBase) -> None:
    # the pricing table says "monthly price", the question "cost": price words rank nothing themselves
    answer = quillstack.answer("ok and what would the growth plan cost us?")
    assert answer.grounded
    assert answer.text.startswith("For the Growth plan, the monthly price is $1,200")
