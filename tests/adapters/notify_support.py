"""Test support of the notification adapters: a real local SMTP server (aiosmtpd), sample deliveries.

``SmtpServer`` runs aiosmtpd's ``Controller`` on a free loopback port in its own thread and keeps every
message it accepted, parsed with the standard library (``email.message_from_bytes``). It can answer
``RCPT TO`` with a chosen reply (``451 4.3.0 ...``, ``550 5.1.1 ...``) as a real server does when a mailbox
is busy or unknown, require AUTH, and offer STARTTLS with a self-signed certificate.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
import ssl
import warnings
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from leadgate.actions.ports import Delivery
from leadgate.contracts.action import Action


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Handler:
    """aiosmtpd handler: keeps accepted messages; ``rcpt_reply`` (when set) refuses every recipient."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    rcpt_reply: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpServer:
    """A running aiosmtpd server on 127.0.0.1 (stop with ``stop``)."""

    def __init__(
        self,
        *,
        credentials: tuple[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
    ) -> None:
        self.handler = Handler()
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if credentials is not None:

            def authenticator(
                server: Any, session: Any, envelope: Any, mechanism: str, data: Any
            ) -> AuthResult:
                ok = (
                    isinstance(data, LoginPassword)
                    and (data.login.decode(), data.password.decode()) == credentials
                )
                return AuthResult(success=ok, handled=False)

            # AUTH offered (not required: aiosmtpd warns per connection when AUTH is required without TLS)
            kwargs.update(authenticator=authenticator, auth_required=False, auth_require_tls=tls is not None)
        if tls is not None:
            kwargs.update(tls_context=tls, require_starttls=True)
        if implicit_tls is not None:  # SMTPS (RFC 8314): TLS from the first byte
            kwargs.update(ssl_context=implicit_tls)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)
        with warnings.catch_warnings():
            # aiosmtpd warns that AUTH without TLS is unsafe: the plain-AUTH test wants exactly that
            warnings.simplefilter("ignore", UserWarning)
            self.controller.start()

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def stop(self) -> None:
        self.controller.stop()


def self_signed(tmp: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1 with a fresh self-signed certificate, and the certificate's file."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "smtp-cert.pem", tmp / "smtp-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


ANNA = {
    "id": "anna",
    "name": "Anna Becker",
    "email": "anna.becker@example.com",
    "timezone": "Europe/Berlin",
    "manager": "sofia",
}
"""The assigned rep as the dispatcher hands it over (the shipped reps.yaml's Anna; her manager Sofia)."""

LEAD = {
    "lead_id": "form-7731",
    "email": "j.okafor@brightpath-freight.example",
    "first_name": "Joseph",
    "last_name": "Okafor",
    "company": "BrightPath Freight",
    "phone": "+44 20 7946 0321",
}
"""A decided web-form lead, its personal fields decrypted (as ``Delivery.lead``)."""

DECISION = {
    "decision_id": "dec-5f2c9a",
    "tier": "hot",
    "action": "route_to_sales",
    "probability": 0.8734,
    "reasons": [
        "Lead source: Welingak Website (+0.21)",
        "Total time spent on website: 1,840 s (+0.17)",
        "Last activity: SMS Sent (+0.12)",
        "Lead origin: Lead Add Form (+0.09)",
    ],
    "policy_version": "xeducation@4",
}


def notify_action(
    kind: str = "notify_rep", *, key: str = "idem-notify-form-7731-dec-5f2c9a", **payload: Any
) -> Action:
    """A planned notification of ``LEAD`` (payload: ids and decision facts, no personal data)."""
    return Action(
        action_id=f"act-{kind}-1",
        kind=kind,  # type: ignore[arg-type]
        destination="email",
        lead_id=LEAD["lead_id"],
        decision_id=DECISION["decision_id"],
        idempotency_key=key,
        payload={
            "tier": "hot",
            "rep_id": "anna",
            "sla_due_at": "2026-12-03T09:05:00Z",
            **payload,
        },
        created_at=dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC),
    )


def delivery(action: Action, attempt: int = 1) -> Delivery:
    return Delivery(action=action, lead=LEAD, decision=DECISION, rep=ANNA, attempt=attempt)


class HookServer:
    """A loopback HTTP server for webhooks: records each POST, answers from a script of responses.

    ``script`` holds ``(status, headers, body)`` answers used in order, one per request; when it is empty
    the server answers ``default`` (Slack's ``200 ok``). ``requests`` keeps ``(path, headers, body bytes)``.
    """

    def __init__(
        self, default: tuple[int, dict[str, str], bytes] = (200, {"content-type": "text/html"}, b"ok")
    ):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.script: list[tuple[int, dict[str, str], bytes]] = []
        self.default = default
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                hooks.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status, headers, answer = hooks.script.pop(0) if hooks.script else hooks.default
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def store_lead(engine: Any, lead_id: str, **attributes: Any) -> None:
    """Store a web-form lead (through the contract and the encrypting writer) with ``attributes``."""
    from leadgate.contracts.lead import validate_lead
    from leadgate.db import store, write_lock
    from leadgate.db.rows import lead_row

    doc = {
        "lead_id": lead_id,
        "source": "web_form",
        "received_at": "2026-11-20T10:12:00+00:00",
        "first_name": "Joseph",
        "last_name": "Okafor",
        "email": f"{lead_id}@brightpath-freight.example",
        "company": "BrightPath Freight",
        "attributes": {"lead_origin": "Landing Page Submission", "total_visits": 4, **attributes},
    }
    with write_lock(engine), engine.begin() as conn:
        store.write_leads(conn, [lead_row(validate_lead(doc), None)])


def record(engine: Any, lead_id: str, purpose: str, granted: bool, given_at: dt.datetime) -> None:
    """Record a statement of consent as the consent API does (source ``form``)."""
    from leadgate.db import write_lock
    from leadgate.governance.consent import ConsentIn, record_consent

    item = ConsentIn(
        purpose=purpose,  # type: ignore[arg-type]
        granted=granted,
        source="form",
        wording_version="newsletter-box-2026-01" if granted else None,
        given_at=given_at,
    )
    with write_lock(engine), engine.begin() as conn:
        record_consent(conn, lead_id, [item], actor="key:test", role="integration", now=given_at)
