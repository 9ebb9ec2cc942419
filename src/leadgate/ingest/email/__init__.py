"""The email channel: ``.eml`` parsing, enquiry mails -> leads, IMAP polling.

Public interface: ``parse_eml``/``EmailLead``/``EmailParseError`` (one message, pure),
``build_email_lead`` (message -> ``lead/v1`` through the chat NLU, pure), ``ingest_message`` (store one
message as a qualified lead or a dead letter, once per mailbox), ``poll_once``/``poll``/``ImapConfig``
(an IMAP mailbox, with imapclient). See ``docs/channels.md``.
"""

from leadgate.ingest.email.imap import ImapConfig, MailboxError, PollSummary, poll, poll_once
from leadgate.ingest.email.lead import build_email_lead, message_key, split_display_name
from leadgate.ingest.email.parse import EmailLead, EmailParseError, html_to_text, parse_eml, trim_reply
from leadgate.ingest.email.service import IMPORT_MAILBOX, EmailOutcome, ingest_message

__all__ = [
    "IMPORT_MAILBOX",
    "EmailLead",
    "EmailOutcome",
    "EmailParseError",
    "ImapConfig",
    "MailboxError",
    "PollSummary",
    "build_email_lead",
    "html_to_text",
    "ingest_message",
    "message_key",
    "parse_eml",
    "poll",
    "poll_once",
    "split_display_name",
    "trim_reply",
]
