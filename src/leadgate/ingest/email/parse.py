"""Parse one ``.eml`` message into an ``EmailLead``: sender, subject, plain-text body, Message-ID, Date.

Pure (no I/O). Uses the standard library's ``email`` package with ``email.policy.default`` (RFC 5322 /
RFC 6532 headers, MIME decoding of quoted-printable and base64 parts, charsets by their declared name).
HTML-only messages are turned into text with selectolax. What the sender quoted (``>`` lines, the
"On ... wrote:" / Outlook "From: ... Sent:" header of a reply) and the signature (after the RFC 3676
section 4.3 ``-- `` delimiter, or a "Sent from my ..." line) are trimmed. A forwarded enquiry (Gmail's
"---------- Forwarded message ---------", Apple Mail's "Begin forwarded message:", Outlook's
"-----Original Message-----" after a forward subject) is read as the original sender's message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from selectolax.lexbor import LexborHTMLParser

from leadgate.errors import LeadgateError

MAX_BODY_CHARS = 5000
"""Longest body kept, in characters: the NLU parses at most 5,000 (``chat.nlu.interpreter.MAX_TEXT_CHARS``)."""


class EmailParseError(LeadgateError, ValueError):
    """A message that cannot become a lead: no usable sender, not a MIME message, or no text at all."""


@dataclass(frozen=True)
class EmailLead:
    """What an enquiry mail says, before the data contract.

    Attributes:
        message_id: the ``Message-ID`` header without angle brackets, or None when the mail has none.
        sender_email: the address to answer: ``Reply-To`` when present, else ``From`` (a forwarded
            enquiry: the original sender found in the forwarded header block).
        sender_name: the display name of that address (``"José Núñez"``), or None.
        subject: the decoded subject ("" when absent); ``Fwd:``/``Re:`` prefixes kept.
        body: the plain text the sender wrote, quotes and signature trimmed, at most ``MAX_BODY_CHARS``.
        sent_at: the ``Date`` header as an aware datetime (UTC when the header has no zone), or None.
        forwarded_by: the address that forwarded the enquiry, or None.
    """

    message_id: str | None
    sender_email: str
    sender_name: str | None
    subject: str
    body: str
    sent_at: datetime | None
    forwarded_by: str | None = None


# Lines that start what the sender quoted from an earlier message (English, German, French, Spanish,
# Danish clients), or the Outlook reply header. Everything from such a line on is dropped.
_QUOTE_HEADERS = [
    re.compile(r"^\s*On .{4,200}(wrote|schrieb|a écrit|escribió|skrev)\s*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*(Am|Le|El|Den) .{4,200}(schrieb|a écrit|escribió|skrev).*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook's rule above "From: ... Sent: ..."
    re.compile(r"^\s*From:\s.+$"),  # an Outlook reply header block (checked with Sent: below)
]
_FORWARD_MARKERS = re.compile(
    r"^\s*(-{5,}\s*Forwarded message\s*-{5,}|Begin forwarded message:|-{2,}\s*Original Message\s*-{2,})\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_SIGNATURE = re.compile(
    r"^(-- ?|Sent from my \w+.*|Sent from Outlook.*|Get Outlook for \w+.*|Von meinem \w+ gesendet.*)$",
    re.IGNORECASE,
)
_HEADER_LINE = re.compile(r"^\s*\*?(From|Sent|Date|To|Cc|Subject)\*?:\s*(.*)$", re.IGNORECASE)


def _decode_part(part: Message) -> str:
    """The text of a MIME part, decoded by its charset; an unknown or lying charset is read leniently."""
    assert isinstance(part, EmailMessage)
    try:
        content = part.get_content()
    except (LookupError, UnicodeDecodeError):
        raw = part.get_payload(decode=True)
        data = raw if isinstance(raw, bytes) else b""
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252", errors="replace")
    return content if isinstance(content, str) else ""


def html_to_text(html: str) -> str:
    """Readable text of an HTML mail body (Outlook's ``MsoNormal`` paragraphs, Gmail's ``div``s).

    Scripts, styles and head are dropped; block elements and ``<br>`` become line breaks; Outlook's
    quoted part (``div#divRplyFwdMsg`` and what follows, or the ``appendonsend`` marker) is cut off.
    """
    tree = LexborHTMLParser(html)
    for node in tree.css("script, style, head, title, xml, o\\:p"):
        node.decompose()
    for marker in tree.css("div#divRplyFwdMsg, div#appendonsend, div.gmail_quote, blockquote"):
        # everything after the marker within its parent is the quoted message
        sibling = marker.next
        while sibling is not None:
            following = sibling.next
            sibling.decompose()
            sibling = following
        marker.decompose()
    for br in tree.css("br"):
        br.replace_with("\n")
    for block in tree.css("p, div, li, tr, h1, h2, h3, h4, h5, h6"):
        block.insert_after("\n")
    root = tree.body or tree.root
    text = root.text(deep=True, separator="") if root is not None else ""
    text = text.replace("\xa0", " ")
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _body_text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = _decode_part(part)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def trim_reply(text: str) -> str:
    """``text`` without quoted lines, the quoted earlier message and the signature.

    Cuts at the first quote header ("On ... wrote:", "-----Original Message-----", an Outlook
    "From:" line followed within three lines by "Sent:"/"Date:"), at the RFC 3676 signature delimiter
    ``-- `` or a "Sent from my ..." line; drops lines starting with ``>``.
    """
    lines = text.split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.rstrip()
        if _SIGNATURE.match(stripped):
            break
        if any(p.match(stripped) for p in _QUOTE_HEADERS[:4]):
            break
        if _QUOTE_HEADERS[4].match(stripped) and any(
            re.match(r"^\s*\*?(Sent|Date|Gesendet|Envoyé)\*?:", nxt) for nxt in lines[i + 1 : i + 4]
        ):
            break
        if stripped.startswith(">"):
            continue
        kept.append(stripped)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def _forwarded(text: str) -> tuple[str | None, str | None, str] | None:
    """``(email, name, body)`` of the first forwarded message in ``text``, or None when there is none."""
    found = _FORWARD_MARKERS.search(text)
    if found is None:
        return None
    rest = text[found.end() :].lstrip("\n").split("\n")
    sender: tuple[str, str] | None = None
    i = 0
    while i < len(rest) and (rest[i].strip() == "" or _HEADER_LINE.match(rest[i])):
        header = _HEADER_LINE.match(rest[i])
        if header and header.group(1).lower() == "from" and sender is None:
            name, addr = parseaddr(header.group(2).replace("mailto:", ""))
            if "@" in addr:
                sender = (addr, name)
        i += 1
        if header is None and sender is not None and i > 1:
            break
    if sender is None:
        return None
    return sender[0], sender[1] or None, "\n".join(rest[i:])


def _address(msg: EmailMessage, header: str) -> tuple[str, str | None] | None:
    value = msg.get(header)
    if value is None:
        return None
    addresses = getattr(value, "addresses", None)
    if addresses:
        first: Address = addresses[0]
        if first.addr_spec and "@" in first.addr_spec:
            return first.addr_spec, (first.display_name or None)
        return None
    parsed = getaddresses([str(value)])
    if parsed and "@" in parsed[0][1]:
        return parsed[0][1], parsed[0][0] or None
    return None


def _sent_at(msg: EmailMessage) -> datetime | None:
    value = msg.get("Date")
    if value is None:
        return None
    stamp = getattr(value, "datetime", None)
    if stamp is None:
        try:
            stamp = parsedate_to_datetime(str(value))
        except (TypeError, ValueError):
            return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def parse_eml(raw: bytes) -> EmailLead:
    """Read an RFC 5322 message (the bytes of an ``.eml`` file or an IMAP ``BODY[]``).

    Args:
        raw: the whole message, headers and body, as bytes.

    Returns:
        The ``EmailLead``: sender (Reply-To, else From; the original sender of a forwarded enquiry), display
        name, subject, body text (HTML converted, quotes and signature trimmed), Message-ID and Date.

    Raises:
        EmailParseError: no header block, no sender address (From and Reply-To missing or without an
            ``@``), or neither subject nor body text.
    """
    if not raw.strip():
        raise EmailParseError("empty message")
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    if not msg.keys():
        raise EmailParseError("not an email message: no header block")
    defects = [type(d).__name__ for d in msg.defects]
    if "MissingHeaderBodySeparatorDefect" in defects and not msg.get("From"):
        raise EmailParseError("not an email message: no header/body separator and no From header")
    try:
        sender = _address(msg, "Reply-To") or _address(msg, "From")
    except (IndexError, ValueError):  # a header the registry cannot parse
        sender = None
    subject = str(msg.get("Subject") or "").strip()
    raw_id = msg.get("Message-ID")
    message_id = str(raw_id).strip().strip("<>").strip() if raw_id else None
    body = _body_text(msg)
    forwarded_by = None
    forward = _forwarded(body)
    if forward is not None:
        original_email, original_name, body = forward
        forwarded_by = sender[0] if sender else None
        sender = (original_email, original_name) if original_email else sender
    if sender is None:
        raise EmailParseError("no sender: the message has no From or Reply-To address")
    body = trim_reply(body)[:MAX_BODY_CHARS]
    if not body and not subject:
        raise EmailParseError("no text: the message has neither a subject nor a body")
    return EmailLead(
        message_id=message_id or None,
        sender_email=sender[0].strip(),
        sender_name=sender[1].strip() if sender[1] else None,
        subject=subject,
        body=body,
        sent_at=_sent_at(msg),
        forwarded_by=forwarded_by,
    )
