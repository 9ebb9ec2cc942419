"""``parse_eml`` and ``build_email_lead`` on mails written the way real clients write them (pure, no store)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadgate.chat.nlu.interpreter import default_nlu
from leadgate.contracts.errors import ContractError
from leadgate.ingest.email import (
    EmailParseError,
    build_email_lead,
    html_to_text,
    message_key,
    parse_eml,
    split_display_name,
    trim_reply,
)
from leadgate.ingest.email.parse import EmailLead

DATA = Path(__file__).resolve().parents[1] / "data" / "email"
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def _eml(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_gmail_quoted_printable_utf8_name_and_body() -> None:
    mail = parse_eml(_eml("gmail_plain.eml"))
    assert mail.sender_email == "jose.nunez@fabricasur.es"
    assert mail.sender_name == "José Núñez"  # RFC 2047 base64 encoded-word
    assert mail.message_id == "CAJ8s7VwXq3=Pn4kT2bZpQ7r5mJq@mail.gmail.com"
    assert mail.sent_at == datetime(2026, 12, 1, 8, 14, 27, tzinfo=UTC)
    assert "around €15,000 per year" in mail.body  # quoted-printable UTF-8 decoded
    assert "Fábrica Sur Logística" in mail.body
    assert "<div" not in mail.body  # the text/plain alternative is preferred


def test_outlook_html_only_latin1_is_converted_to_text() -> None:
    mail = parse_eml(_eml("outlook_html.eml"))
    assert mail.sender_name == "Søren Ægidius"  # ISO-8859-1 Q encoded-word
    assert mail.sender_email == "sae@nordhavn-analytics.dk"
    assert "I am the CTO of Nordhavn Analytics ApS" in mail.body
    assert "MsoNormal" not in mail.body and "font-family" not in mail.body  # no style sheet text
    assert "\xa0" not in mail.body
    # paragraphs stay paragraphs
    assert "Dear leadgate team,\n\nI am the CTO" in mail.body


def test_outlook_html_reply_drops_the_quoted_message() -> None:
    mail = parse_eml(_eml("outlook_reply_html.eml"))
    assert mail.sender_name == "Chloé Dubois"  # Windows-1252 encoded-word
    assert "about 1,200 employees worldwide" in mail.body
    assert "€80,000" in mail.body  # Windows-1252 quoted-printable body
    assert "pricing sheet" not in mail.body and "From:" not in mail.body  # Outlook's quoted part
    assert mail.body.endswith("Chloé Dubois")


def test_apple_mail_base64_body_drops_sent_from_my_iphone() -> None:
    mail = parse_eml(_eml("apple_mail.eml"))
    assert mail.sender_email == "mia@hoffmann-lind.de"
    assert "Budget is around $300 a month" in mail.body
    assert "Sent from my iPhone" not in mail.body


def test_forwarded_enquiry_is_read_as_the_original_senders() -> None:
    mail = parse_eml(_eml("forwarded.eml"))
    assert mail.sender_email == "priya.raman@kestrelhealth.com"
    assert mail.sender_name == "Priya Raman"
    assert mail.forwarded_by == "tom.becker@leadgate.example"
    assert mail.body.startswith("Hello,")
    assert "can someone pick this up" not in mail.body  # the colleague's note is not the enquiry


def test_reply_thread_uses_reply_to_and_drops_quote_and_signature() -> None:
    mail = parse_eml(_eml("reply_thread.eml"))
    assert mail.sender_email == "lukas.brandt@brandt-maschinenbau.de"  # Reply-To wins over From
    assert "budget we have in mind is about 20k EUR" in mail.body
    assert "How many people work" not in mail.body  # the quoted question
    assert "Managing Director" not in mail.body  # after the "-- " signature delimiter


def test_spam_without_sender_is_refused() -> None:
    with pytest.raises(EmailParseError, match="no sender"):
        parse_eml(_eml("spam_no_sender.eml"))


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"this is not a mail at all"])
def test_not_a_message_is_refused(raw: bytes) -> None:
    with pytest.raises(EmailParseError):
        parse_eml(raw)


def test_unknown_charset_is_read_leniently() -> None:
    raw = (
        b"From: Zoe Clarke <zoe@clarke-advisory.co.uk>\r\nSubject: pricing\r\nMessage-ID: <x1@clarke>\r\n"
        b"Content-Type: text/plain; charset=x-unknown-8\r\n\r\nWe are 30 people, what does it cost?\r\n"
    )
    assert parse_eml(raw).body == "We are 30 people, what does it cost?"


def test_outlook_reply_header_block_is_cut() -> None:
    text = (
        "Yes, Thursday 2pm works.\n\n"
        "From: Anna Berg <anna@leadgate.example>\nSent: Monday, November 30, 2026 10:02\n"
        "To: Lukas\nSubject: demo\n\nHi Lukas, does Thursday work?"
    )
    assert trim_reply(text) == "Yes, Thursday 2pm works."


def test_html_to_text_drops_gmail_quote() -> None:
    html = (
        '<div dir="ltr">We need 40 seats.<br></div><br><div class="gmail_quote">'
        '<div class="gmail_attr">On Mon, Anna wrote:<br></div><blockquote>old text</blockquote></div>'
    )
    assert html_to_text(html) == "We need 40 seats."


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Søren Ægidius", ("Søren", "Ægidius")),
        ("Núñez, José", ("José", "Núñez")),
        ("Mia", ("Mia", None)),
        ("jose@fabricasur.es", (None, None)),
        (None, (None, None)),
    ],
)
def test_split_display_name(name: str | None, expected: tuple[str | None, str | None]) -> None:
    assert split_display_name(name) == expected


def test_email_lead_carries_bant_from_the_nlu() -> None:
    raw = _eml("forwarded.eml")
    mail = parse_eml(raw)
    lead = build_email_lead(mail, message_key(mail.message_id, raw), default_nlu(), NOW)
    assert lead.source == "email"
    assert lead.lead_id.startswith("email-")
    assert lead.email == "priya.raman@kestrelhealth.com"
    assert (lead.first_name, lead.last_name) == ("Priya", "Raman")
    attrs = lead.attributes
    assert attrs["authority"] == "decision_maker"  # "VP of Sales"
    assert attrs["company_size"] == 800
    assert attrs["budget_status"] == "stated" and attrs["budget_amount"] == 60000
    assert attrs["budget_currency"] == "USD"
    assert attrs["timeline_status"] == "stated"
    assert attrs["free_email"] is False and attrs["email_domain"] == "kestrelhealth.com"
    assert attrs["intent"] in {"demo_request", "inform"}
    assert "schedule a demo" in str(attrs["need"])


def test_email_lead_from_the_same_message_has_the_same_id() -> None:
    raw = _eml("gmail_plain.eml")
    mail = parse_eml(raw)
    key = message_key(mail.message_id, raw)
    first = build_email_lead(mail, key, default_nlu(), NOW)
    again = build_email_lead(parse_eml(raw), key, default_nlu(), NOW)
    assert first.lead_id == again.lead_id
    assert (first.first_name, first.last_name) == ("José", "Núñez")


def test_invalid_sender_address_is_a_contract_error() -> None:
    mail = EmailLead(
        message_id="a@b",
        sender_email="info@localhost",
        sender_name=None,
        subject="hi",
        body="We need a demo",
        sent_at=None,
    )
    with pytest.raises(ContractError) as caught:
        build_email_lead(mail, "0" * 64, default_nlu(), NOW)
    assert caught.value.errors[0].path == "email"
