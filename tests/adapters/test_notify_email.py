"""``EmailNotifier`` against a real local SMTP server (aiosmtpd): message content, headers, idempotency
(sent-marker on SQLite and PostgreSQL), SMTP reply classes, AUTH and STARTTLS, and bad configuration."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine
from tests.adapters.notify_support import LEAD, SmtpServer, delivery, free_port, notify_action, self_signed

from leadgate.actions.ports import DestinationContext, PermanentDeliveryError, RetryableDeliveryError
from leadgate.adapters.email import EmailConfig, EmailConfigError, EmailNotifier, message_id
from leadgate.config import Settings


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


def notifier(port: int, engine: Engine | None, **extra: Any) -> EmailNotifier:
    config = EmailNotifier.Config.model_validate(
        {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "from_address": "leads@acme-sales.example",
            "from_name": "Acme leads",
            "base_url": "https://leadgate.acme-sales.example",
            **extra,
        }
    )
    assert isinstance(config, EmailConfig)
    return EmailNotifier(config, DestinationContext(engine=engine, settings=Settings(), timeout=5.0))


def test_rep_is_told_once_with_tier_reasons_and_local_deadline(smtp: SmtpServer, engine: Engine) -> None:
    email_out = notifier(smtp.port, engine)
    action = notify_action()
    first = email_out.deliver(delivery(action))
    # the worker crashed before marking the row delivered, and retries: no second message
    again = email_out.deliver(delivery(action, attempt=2))

    assert len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert msg["To"] == "Anna Becker <anna.becker@example.com>"
    assert msg["From"] == "Acme leads <leads@acme-sales.example>"
    assert msg["Message-ID"] == message_id(action.idempotency_key, "acme-sales.example")
    assert first.external_id == again.external_id == msg["Message-ID"]
    assert again.detail == {"already_sent": True}
    # 09:05 UTC is 10:05 in Berlin in December (CET)
    assert "first touch by Thu 03 Dec 2026, 10:05 CET" in msg["Subject"]
    assert "BrightPath Freight" in msg["Subject"]
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Probability: 87%" in text
    # the top three reasons, in order, not the fourth
    reasons = re.findall(r"^  - (.+?)\r?$", text, re.M)
    assert reasons == [
        "Lead source: Welingak Website (+0.21)",
        "Total time spent on website: 1,840 s (+0.17)",
        "Last activity: SMS Sent (+0.12)",
    ]
    assert "https://leadgate.acme-sales.example/staff/inbox" in text
    assert 'href="https://leadgate.acme-sales.example/staff/leads/form-7731"' in html
    # no contact details of the lead travel in the mail
    for personal in (LEAD["email"], LEAD["phone"], LEAD["last_name"]):
        assert personal not in msg.as_string()


def test_a_new_action_is_a_new_message(smtp: SmtpServer, engine: Engine) -> None:
    email_out = notifier(smtp.port, engine)
    email_out.deliver(delivery(notify_action(key="k-1")))
    email_out.deliver(delivery(notify_action(key="k-2")))
    assert len({m["Message-ID"] for m in smtp.messages}) == 2


def test_escalation_goes_to_the_manager_from_the_reps_file(smtp: SmtpServer) -> None:
    email_out = notifier(smtp.port, None)
    action = notify_action("notify_manager", key="esc-1", reason="no first touch within 5 minutes")
    email_out.deliver(delivery(action))
    (msg,) = smtp.messages
    # the shipped reps.yaml: Anna's team (emea) is managed by Sofia
    assert msg["To"].addresses[0].username == "sofia.lindqvist"
    assert msg["Subject"].startswith("SLA missed: hot lead BrightPath Freight (Anna Becker)")
    assert "no first touch within 5 minutes" in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("reply", "error", "status"),
    [
        ("451 4.3.0 Mailbox temporarily unavailable, try again later", RetryableDeliveryError, 451),
        ("452 4.2.2 Mailbox full", RetryableDeliveryError, 452),
        (
            "550 5.1.1 <anna.becker@example.com>: Recipient address rejected: User unknown",
            PermanentDeliveryError,
            550,
        ),
    ],
)
def test_smtp_replies_are_classified(
    smtp: SmtpServer, engine: Engine, reply: str, error: type[Exception], status: int
) -> None:
    smtp.handler.rcpt_reply = reply
    email_out = notifier(smtp.port, engine)
    with pytest.raises(error) as raised:
        email_out.deliver(delivery(notify_action()))
    assert raised.value.status == status  # type: ignore[attr-defined]
    assert smtp.messages == []
    # nothing was marked sent: once the server takes mail again, the retry sends
    smtp.handler.rcpt_reply = None
    email_out.deliver(delivery(notify_action(), attempt=2))
    assert len(smtp.messages) == 1


def test_a_server_that_is_down_is_retryable() -> None:
    email_out = notifier(free_port(), None)
    with pytest.raises(RetryableDeliveryError, match="not reachable"):
        email_out.deliver(delivery(notify_action()))


# aiosmtpd 1.4 sets its own deprecated Session.login_data on every successful AUTH (its code, not ours)
@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated:DeprecationWarning")
def test_auth_with_the_password_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    server = SmtpServer(credentials=("leadgate", "s3cret-relay-pass"))
    try:
        monkeypatch.setenv("ACME_SMTP_PASSWORD", "s3cret-relay-pass")
        good = notifier(server.port, None, username="leadgate", password_env="ACME_SMTP_PASSWORD")
        good.deliver(delivery(notify_action()))
        assert len(server.messages) == 1
        monkeypatch.setenv("ACME_SMTP_PASSWORD", "wrong")
        bad = notifier(server.port, None, username="leadgate", password_env="ACME_SMTP_PASSWORD")
        with pytest.raises(PermanentDeliveryError) as raised:
            bad.deliver(delivery(notify_action(key="k-auth-2")))
        assert raised.value.status == 535
    finally:
        server.stop()


def test_starttls_verifies_the_server_certificate(tmp_path: Path) -> None:
    context, cert = self_signed(tmp_path)
    server = SmtpServer(tls=context)
    try:
        trusted = notifier(server.port, None, security="starttls", ca_file=str(cert))
        trusted.deliver(delivery(notify_action()))
        assert len(server.messages) == 1
        # the system's CAs do not know the self-signed certificate: refused, not retried forever
        untrusted = notifier(server.port, None, security="starttls")
        with pytest.raises(PermanentDeliveryError, match="certificate"):
            untrusted.deliver(delivery(notify_action(key="k-tls-2")))
        # a plain connection to a server that requires STARTTLS is refused with 530
        plain = notifier(server.port, None, security="none")
        with pytest.raises(PermanentDeliveryError) as raised:
            plain.deliver(delivery(notify_action(key="k-tls-3")))
        assert raised.value.status == 530
        assert len(server.messages) == 1
    finally:
        server.stop()


def test_implicit_tls_smtps(tmp_path: Path) -> None:
    context, cert = self_signed(tmp_path)
    server = SmtpServer(implicit_tls=context)
    try:
        smtps = notifier(server.port, None, security="ssl", ca_file=str(cert))
        delivered = smtps.deliver(delivery(notify_action()))
        assert len(server.messages) == 1 and delivered.detail == {"recipients": 1}
    finally:
        server.stop()


def test_bad_configuration_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    base = {
        "host": "smtp.acme.example",
        "from_address": "leads@acme.example",
        "base_url": "https://lg.acme.example",
    }
    with pytest.raises(ValidationError, match="password"):
        EmailNotifier.Config.model_validate(
            {**base, "password": "in-the-file"}
        )  # secrets by variable name only
    with pytest.raises(ValidationError, match="from_address"):
        EmailNotifier.Config.model_validate({**base, "from_address": "not an address"})
    with pytest.raises(ValidationError, match="security"):
        EmailNotifier.Config.model_validate({**base, "security": "tls1.0"})
    context = DestinationContext(engine=None, settings=Settings())
    no_var = EmailConfig.model_validate({**base, "username": "lg"})
    with pytest.raises(EmailConfigError, match="password_env"):
        EmailNotifier(no_var, context)
    monkeypatch.delenv("ACME_SMTP_PW", raising=False)
    unset = EmailConfig.model_validate({**base, "username": "lg", "password_env": "ACME_SMTP_PW"})
    with pytest.raises(EmailConfigError, match="ACME_SMTP_PW"):
        EmailNotifier(unset, context)


def test_an_action_without_a_rep_address_is_permanent(smtp: SmtpServer) -> None:
    from leadgate.actions.ports import Delivery

    email_out = notifier(smtp.port, None)
    with pytest.raises(PermanentDeliveryError, match="no rep"):
        email_out.deliver(Delivery(action=notify_action(), lead=LEAD, rep=None))
    assert smtp.messages == []
