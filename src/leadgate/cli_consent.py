"""``leadgate consent``: show and record a lead's consent (``leadgate.governance.consent``).

``show`` prints every statement about a lead and, per purpose, whether it may be contacted now;
``record`` stores a statement (consent given with ``--granted`` and the wording version the person saw,
or withdrawn with ``--withdrawn``), recorded by ``cli:<os user>`` in the access log.
``leadgate.cli`` registers ``consent_app``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from leadgate.cli_common import DbUrl, _engine, console, friendly

consent_app = typer.Typer(help="A lead's consent: show it, record a new statement.", no_args_is_help=True)


@consent_app.command("show")
@friendly
def consent_show(
    lead_id: Annotated[str, typer.Argument(help="The lead's id.")], database_url: DbUrl = None
) -> None:
    """Every statement of consent about the lead, and what is in force per purpose."""
    from leadgate.governance.consent import PURPOSES, decide, statements

    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            items = statements(conn, lead_id)
    finally:
        engine.dispose()
    table = Table(title=f"consent of {lead_id}")
    for col in ("given", "purpose", "statement", "source", "wording", "recorded by"):
        table.add_column(col)
    for s in items:
        table.add_row(
            f"{s.given_at:%Y-%m-%d %H:%M}",
            s.purpose,
            "granted" if s.granted else ("objected" if s.origin == "lead" else "withdrawn"),
            s.source,
            s.wording_version or "-",
            s.recorded_by or f"(lead {', '.join(map(str, s.evidence.values()))})",
        )
    console.print(table)
    for purpose in PURPOSES:
        permit = decide(items, purpose)
        console.print(
            f"{purpose}: {'allowed' if permit.allowed else 'NOT allowed'}: {permit.reason}", highlight=False
        )


@consent_app.command("record")
@friendly
def consent_record(
    lead_id: Annotated[str, typer.Argument(help="The lead's id.")],
    purpose: Annotated[str, typer.Option("--purpose", help="email_marketing, email_sales or phone_sales.")],
    granted: Annotated[
        bool, typer.Option("--granted/--withdrawn", help="Consent given, or withdrawn (an objection).")
    ],
    wording: Annotated[
        str | None, typer.Option("--wording", help="Version of the consent text the person agreed to.")
    ] = None,
    source: Annotated[str, typer.Option("--source", help="chat, form, import, api, crm or cli.")] = "cli",
    given_at: Annotated[
        datetime | None, typer.Option("--given-at", help="When the person said it (default: now, UTC).")
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """Record that the lead gave or withdrew consent for a purpose."""
    from datetime import UTC

    from leadgate.audit.access import whoami
    from leadgate.db import write_lock
    from leadgate.governance.consent import ConsentIn, decide, record_consent, statements

    when = given_at.replace(tzinfo=UTC) if given_at is not None and given_at.tzinfo is None else given_at
    item = ConsentIn.model_validate(
        {
            "purpose": purpose,
            "granted": granted,
            "source": source,
            "wording_version": wording,
            "given_at": when,
        }
    )
    engine = _engine(database_url)
    try:
        with write_lock(engine), engine.begin() as conn:
            record_consent(conn, lead_id, [item], actor=whoami(), role=None, route="consent record")
            permit = decide(statements(conn, lead_id), purpose)
    finally:
        engine.dispose()
    console.print(
        f"recorded: {lead_id} {'granted' if granted else 'withdrew'} {purpose}; now "
        f"{'allowed' if permit.allowed else 'NOT allowed'}: {permit.reason}",
        highlight=False,
    )
