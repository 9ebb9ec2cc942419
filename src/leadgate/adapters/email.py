"""E-mail out: rep notifications over SMTP (``EmailNotifier``), and the one SMTP sending code of leadgate.

``EmailNotifier`` (destination ``email``, kinds ``notify_rep`` and ``notify_manager``) tells the assigned
rep (or, for an SLA escalation, the rep's manager) that a lead is theirs: tier, probability, the top
reasons, the first-touch deadline in the recipient's own time zone, and links to the rep inbox
(``/staff/inbox``) and to the lead. It carries no more personal data than needed: the lead's company (when
known) and its id; the contact details stay behind the staff sign-in. The text and HTML parts are Jinja2
templates (``leadgate/actions/templates/notify_rep.txt`` / ``.html``).

Sending uses the standard library's ``smtplib`` (``send_mail``), with plain, STARTTLS (RFC 3207) or
implicit TLS (RFC 8314) connections and optional AUTH; ``leadgate.adapters.invite`` sends through the same
function. Replies are classified for the dispatcher (RFC 5321 section 4.2.1): a 4yz reply is transient
(``RetryableDeliveryError``), a 5yz reply permanent (``PermanentDeliveryError``), and a connection that
cannot be made or is lost is transient.

Idempotency. SMTP has no idempotency key: a message accepted by the server cannot be recalled, and a
server does not drop a second copy. Two measures keep a retry from sending twice where possible:

* the ``Message-ID`` is derived from the action's idempotency key (``message_id``), so the two copies of
  a message sent twice are recognisably the same message (mail clients and many servers thread or drop
  duplicates by ``Message-ID``);
* a sent-marker (table ``sent_messages``, unique on destination and idempotency key) is written right
  after the server accepted the message, and read before sending: a retry after a successful send
  returns the first send's ``Delivered`` without sending again.

What remains is at-least-once: a crash after the server accepted the message and before the marker was
written sends it again on the retry (with the same ``Message-ID``).
"""

from __future__ import annotations

import hashlib
import os
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, getaddresses
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import Engine, select

from leadgate.actions.ports import (
    Delivered,
    Delivery,
    DestinationContext,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from leadgate.contracts.action import ActionKind
from leadgate.db.notify_models import SentMessageRow
from leadgate.errors import LeadgateError


class EmailConfigError(LeadgateError, ValueError):
    """An e-mail destination's configuration cannot be used (a named secret variable is not set)."""


class SmtpConfig(BaseModel):
    """How to reach the SMTP server (shared by ``email`` and ``invite``).

    Attributes:
        host: the SMTP server's host name.
        port: its port (587 submission with STARTTLS, 465 implicit TLS, 25 relay); default 587.
        security: ``starttls`` (default), ``ssl`` (implicit TLS) or ``none`` (a local relay only).
        username: the AUTH user, or None for no AUTH.
        password_env: the name of the environment variable holding the AUTH password (never the password).
        ca_file: a PEM bundle to verify the server's certificate with (default: the system's).
        from_address: the envelope and ``From`` address.
        from_name: the ``From`` display name.
        message_id_domain: the right-hand side of ``Message-ID`` (default: the domain of ``from_address``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    ca_file: Path | None = None
    from_address: EmailStr
    from_name: str = "leadgate"
    message_id_domain: str | None = None


def smtp_password(config: SmtpConfig) -> str | None:
    """The AUTH password read from the variable ``config.password_env`` (None without AUTH).

    Raises:
        EmailConfigError: ``username`` is set without ``password_env``, or the variable is not set.
    """
    if config.username is None:
        return None
    if config.password_env is None:
        raise EmailConfigError("smtp: 'username' is set, so 'password_env' must name the password's variable")
    value = os.environ.get(config.password_env)
    if not value:
        raise EmailConfigError(
            f"smtp: the environment variable {config.password_env} (password_env) is not set"
        )
    return value


def message_id(idempotency_key: str, domain: str) -> str:
    """``<sha256(key)[:32]@domain>``: the same action always gets the same ``Message-ID`` (RFC 5322 3.6.4)."""
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}@{domain}>"


def _tls_context(config: SmtpConfig) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)


def _reply_error(code: int, text: str, what: str) -> RetryableDeliveryError | PermanentDeliveryError:
    message = f"SMTP {what}: {code} {text}"
    if 400 <= code < 500:
        return RetryableDeliveryError(message, status=code)
    return PermanentDeliveryError(message, status=code)


def send_mail(config: SmtpConfig, password: str | None, message: EmailMessage, *, timeout: float) -> None:
    """Send ``message`` through the SMTP server of ``config`` (one connection, closed after).

    Args:
        config: server, security and AUTH.
        password: the AUTH password (``smtp_password``), or None.
        message: the message; its ``To``/``Cc`` headers are the recipients.
        timeout: seconds for the connection and each command.

    Raises:
        RetryableDeliveryError: a 4yz reply, a refused or lost connection, a timeout.
        PermanentDeliveryError: a 5yz reply (a refused sender or every recipient refused, failed AUTH,
            STARTTLS not offered), or a certificate that does not verify.
    """
    try:
        smtp: smtplib.SMTP
        if config.security == "ssl":
            smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=timeout, context=_tls_context(config))
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=timeout)
        with smtp:
            if config.security == "starttls":
                smtp.starttls(context=_tls_context(config))
            if config.username is not None:
                smtp.login(config.username, password or "")
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = {addr: code for addr, (code, _text) in exc.recipients.items()}
        text = ", ".join(f"{code}" for code in codes.values())
        if any(400 <= code < 500 for code in codes.values()):
            raise RetryableDeliveryError(
                f"SMTP recipients refused ({text})", status=min(codes.values())
            ) from exc
        raise PermanentDeliveryError(f"SMTP recipients refused ({text})", status=max(codes.values())) from exc
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        raise _reply_error(exc.smtp_code, text, type(exc).__name__) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise PermanentDeliveryError(f"SMTP server {config.host}:{config.port}: {exc}") from exc
    except ssl.SSLCertVerificationError as exc:
        raise PermanentDeliveryError(
            f"SMTP server {config.host}:{config.port}: {exc.verify_message}"
        ) from exc
    except (OSError, smtplib.SMTPException) as exc:  # refused, reset, timeout, disconnected
        raise RetryableDeliveryError(f"SMTP server {config.host}:{config.port} not reachable: {exc}") from exc


# --- the sent-marker --------------------------------------------------------------------------------


def sent_before(engine: Engine, destination: str, idempotency_key: str) -> str | None:
    """The ``Message-ID`` an earlier attempt sent for this action, or None."""
    with engine.connect() as conn:
        return conn.execute(
            select(SentMessageRow.message_id).where(
                SentMessageRow.destination == destination, SentMessageRow.idempotency_key == idempotency_key
            )
        ).scalar()


def mark_sent(engine: Engine, destination: str, idempotency_key: str, mid: str, at: datetime) -> None:
    """Record that the message ``mid`` of this action was accepted by the server (kept once)."""
    from leadgate.db.engine import write_lock
    from leadgate.db.store import insert_ignore

    table = SentMessageRow.__table__
    with write_lock(engine), engine.begin() as conn:
        conn.execute(
            insert_ignore(conn, table, ["destination", "idempotency_key"]),  # type: ignore[arg-type]
            [
                {
                    "destination": destination,
                    "idempotency_key": idempotency_key,
                    "message_id": mid,
                    "sent_at": at,
                }
            ],
        )


class SmtpSender:
    """Sends messages for one destination, at most once per idempotency key where possible (see module).

    Args:
        destination: the destination's name (``email``, ``invite``), the marker's namespace.
        config: the SMTP settings.
        context: the worker's context (its engine holds the markers; ``engine=None`` keeps none).

    Raises:
        EmailConfigError: the AUTH password variable is not set.
    """

    def __init__(self, destination: str, config: SmtpConfig, context: DestinationContext) -> None:
        self.destination = destination
        self.config = config
        self.password = smtp_password(config)
        self.engine: Engine | None = context.engine
        self.timeout = context.timeout
        self.domain = config.message_id_domain or str(config.from_address).rpartition("@")[2]

    def message_id(self, idempotency_key: str) -> str:
        """The ``Message-ID`` of the action with this key."""
        return message_id(idempotency_key, self.domain)

    def new_message(self, idempotency_key: str, subject: str, to: Sequence[tuple[str, str]]) -> EmailMessage:
        """A message with ``From``, ``To`` (``(name, address)`` pairs), ``Subject``, ``Date`` and ``Message-ID``."""
        msg = EmailMessage()
        msg["From"] = formataddr((self.config.from_name, str(self.config.from_address)))
        msg["To"] = ", ".join(formataddr(pair) for pair in to)
        msg["Subject"] = subject
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = self.message_id(idempotency_key)
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
        return msg

    def send_once(self, idempotency_key: str, message: EmailMessage) -> Delivered:
        """Send ``message`` unless the marker says it was sent; then mark it.

        Raises:
            RetryableDeliveryError, PermanentDeliveryError: as ``send_mail``.
        """
        mid = str(message["Message-ID"])
        if self.engine is not None and sent_before(self.engine, self.destination, idempotency_key):
            return Delivered(external_id=mid, detail={"already_sent": True})
        send_mail(self.config, self.password, message, timeout=self.timeout)
        if self.engine is not None:
            mark_sent(self.engine, self.destination, idempotency_key, mid, datetime.now(UTC))
        recipients = getaddresses([str(v) for v in message.get_all("To", []) + message.get_all("Cc", [])])
        return Delivered(external_id=mid, detail={"recipients": len(recipients)})


# --- the rep notification ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def templates() -> Environment:
    """The Jinja2 environment of the e-mail templates (HTML autoescaped, undefined names an error)."""
    return Environment(
        loader=PackageLoader("leadgate", "actions/templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def _local(value: Any, zone: str) -> str | None:
    if value in (None, ""):
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    local = when.astimezone(ZoneInfo(zone))
    return f"{local:%a %d %b %Y, %H:%M} {local.tzname()} ({zone})"


def _recipient(delivery: Delivery, reps_file: Path | None) -> Mapping[str, Any]:
    """The rep for ``notify_rep``; the rep's manager for ``notify_manager``."""
    rep = delivery.rep
    if rep is None or not rep.get("email"):
        raise PermanentDeliveryError(f"{delivery.action.kind}: the action has no rep with an e-mail address")
    if delivery.action.kind != "notify_manager":
        return rep
    manager = rep.get("manager")
    if isinstance(manager, Mapping) and manager.get("email"):
        return manager
    from leadgate.reps import load_reps

    boss = load_reps(reps_file).manager_of(str(rep["id"]))
    if boss is None:
        raise PermanentDeliveryError(f"notify_manager: rep {rep['id']} has no manager in the reps file")
    return {"id": boss.id, "name": boss.name, "email": str(boss.email), "timezone": boss.timezone}


class LinkConfig(Protocol):
    """The configuration a notification's links and length come from (``EmailConfig``, ``SlackConfig``)."""

    @property
    def base_url(self) -> str:
        """The public URL of the leadgate server."""
        ...

    @property
    def lead_path(self) -> str:
        """The path of a lead's staff page, ``{lead_id}`` filled in."""
        ...

    @property
    def max_reasons(self) -> int:
        """How many of the decision's reasons to list."""
        ...


def notification_context(
    delivery: Delivery, recipient: Mapping[str, Any], config: LinkConfig
) -> dict[str, Any]:
    """The template variables of a notification (ids, decision facts, local deadline, links)."""
    action = delivery.action
    facts: dict[str, Any] = {**action.payload, **(delivery.decision or {})}
    zone = str(recipient.get("timezone") or "UTC")
    probability = facts.get("probability")
    base = config.base_url.rstrip("/")
    return {
        "kind": action.kind,
        "recipient_name": recipient.get("name") or recipient.get("id") or "",
        "rep_name": (delivery.rep or {}).get("name", ""),
        "lead_id": action.lead_id,
        "company": delivery.lead.get("company") or None,
        "tier": facts.get("tier") or "unknown",
        "probability": None if probability is None else f"{float(probability):.0%}",
        "reasons": [str(r) for r in (facts.get("reasons") or [])][: config.max_reasons],
        "sla_due": _local(facts.get("sla_due_at"), zone),
        "escalation_reason": action.payload.get("reason") if action.kind == "notify_manager" else None,
        "inbox_url": f"{base}/staff/inbox",
        "lead_url": base + config.lead_path.format(lead_id=action.lead_id),
    }


class EmailConfig(SmtpConfig):
    """Configuration of the ``email`` destination: the SMTP settings plus where the links point.

    Attributes:
        base_url: the public URL of the leadgate server (links to ``/staff/inbox`` and the lead).
        lead_path: the path of a lead's staff page, ``{lead_id}`` filled in.
        max_reasons: how many of the decision's reasons the message lists (the top ones, in order).
    """

    base_url: str = Field(pattern=r"^https?://")
    lead_path: str = "/staff/leads/{lead_id}"
    max_reasons: int = Field(default=3, ge=1, le=10)


class EmailNotifier:
    """Destination ``email``: tells the rep (or the manager, on escalation) about a lead, over SMTP.

    Args:
        config: validated ``EmailNotifier.Config``.
        context: the worker's context (engine for the sent-markers, settings for the reps file, timeout).

    Raises:
        EmailConfigError: the AUTH password variable is not set.
    """

    name: ClassVar[str] = "email"
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({"notify_rep", "notify_manager"})
    Config: ClassVar[type[BaseModel]] = EmailConfig

    def __init__(self, config: EmailConfig, context: DestinationContext) -> None:
        self.config = config
        self.context = context
        self.sender = SmtpSender(self.name, config, context)

    def render(self, delivery: Delivery) -> EmailMessage:
        """The message for ``delivery`` (plain text with an HTML alternative).

        Raises:
            PermanentDeliveryError: no recipient (no rep e-mail, no manager).
        """
        reps_file = getattr(self.context.settings, "reps_file", None)
        recipient = _recipient(delivery, reps_file)
        values = notification_context(delivery, recipient, self.config)
        who = values["company"] or f"lead {delivery.action.lead_id}"
        if delivery.action.kind == "notify_manager":
            subject = f"SLA missed: {values['tier']} lead {who} ({values['rep_name']})"
        else:
            due = f", first touch by {values['sla_due']}" if values["sla_due"] else ""
            subject = f"New {values['tier']} lead for you: {who}{due}"
        msg = self.sender.new_message(
            delivery.action.idempotency_key,
            subject,
            [(str(values["recipient_name"]), str(recipient["email"]))],
        )
        env = templates()
        msg.set_content(env.get_template("notify_rep.txt").render(values))
        msg.add_alternative(env.get_template("notify_rep.html").render(values), subtype="html")
        return msg

    def deliver(self, delivery: Delivery) -> Delivered:
        """Send the notification once (see the module docstring for the at-least-once caveat).

        Raises:
            RetryableDeliveryError: SMTP 4yz, connection refused or lost.
            PermanentDeliveryError: SMTP 5yz, no recipient.
        """
        return self.sender.send_once(delivery.action.idempotency_key, self.render(delivery))

    def close(self) -> None:
        """Nothing to release: each send opens and closes its own SMTP connection."""
