"""Lead and conversation owners (issue 8, item 4) on SQLite and PostgreSQL: the owner stays out of the
lead's hashes, an import or an API post assigns it, a re-import without one keeps it; the migration
matches the tables; API keys that act as a rep."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select
from tests.cli_support import run, wide_console  # noqa: F401 (fixture)

from leadgate.contracts.lead import Lead
from leadgate.db import store
from leadgate.db.chat_models import ConversationRow
from leadgate.db.key_models import ApiKeyRow
from leadgate.db.models import Base, LeadRow
from leadgate.db.rows import lead_row
from leadgate.governance import api_keys
from leadgate.ingest import MappingError, load_mapping
from leadgate.pipeline import import_file

GOLDEN = Lead(
    lead_id="golden-1",
    source="api",
    received_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    email="anna@example.com",
    company="Acme",
    attributes={"lead_origin": "API", "total_visits": 3},
)
# lead_row(GOLDEN) as the release before ``owner`` computed it (main at 31f9c3e): stored leads, their
# decisions' input hashes and re-import dedupe depend on these staying the same.
GOLDEN_INPUT_HASH = "f75a960ee2b6fa124a8e92517d9d115c8be16160503ab8f9f5e3aa0ddc1391bd"
GOLDEN_CONTENT_HASH = "b91f2c08bf524bd2538990ec6a7a6423c5949c6dd2ae2f47ffe25b453bb40fde"

MAPPING = """\
mapping_version: 1
name: crm_owners
source: csv:crm
id_column: Lead ID
columns:
  Lead ID: {field: crm_id, stage: id}
  Email: {field: email, stage: pre_decision, lead_field: email}
  Visits: {field: total_visits, stage: pre_decision, type: integer}
  Lead Owner: {field: lead_owner, stage: post_decision, lead_field: owner}
"""


def _owners(engine: Engine) -> dict[str, str | None]:
    leads = store.LEADS
    with engine.connect() as conn:
        return {r[0]: r[1] for r in conn.execute(select(leads.c.lead_id, leads.c.owner))}


def test_the_owner_is_kept_out_of_the_hashes_and_the_document() -> None:
    row = lead_row(GOLDEN, None)
    assert (row["input_hash"], row["content_hash"], row["owner"]) == (
        GOLDEN_INPUT_HASH,
        GOLDEN_CONTENT_HASH,
        None,
    )
    owned = lead_row(GOLDEN.model_copy(update={"owner": "rep-a"}), None)
    assert owned["owner"] == "rep-a"
    assert {k: v for k, v in owned.items() if k != "owner"} == {k: v for k, v in row.items() if k != "owner"}
    assert '"owner"' not in owned["data"]


def test_an_import_assigns_owners_and_a_reimport_without_one_keeps_them(
    engine: Engine, tmp_path: Path
) -> None:
    mapping_path = tmp_path / "mapping.yaml"
    mapping_path.write_text(MAPPING, encoding="utf-8")
    mapping = load_mapping(mapping_path)
    first = tmp_path / "export-1.csv"
    first.write_text(
        "Lead ID,Email,Visits,Lead Owner\nL1,a@example.com,3,rep-a\nL2,b@example.com,5,rep-b\nL3,c@example.com,1,\n",
        encoding="utf-8",
    )
    summary = import_file(engine, first, mapping)
    assert (summary.imported, summary.rejected) == (3, 0)
    assert _owners(engine) == {"L1": "rep-a", "L2": "rep-b", "L3": None}
    # L1: owner left blank, same content otherwise -> kept; L2: blank owner and new content -> kept;
    # L3: assigned now
    second = tmp_path / "export-2.csv"
    second.write_text(
        "Lead ID,Email,Visits,Lead Owner\nL1,a@example.com,3,\nL2,b@example.com,6,\nL3,c@example.com,1,rep-c\n",
        encoding="utf-8",
    )
    summary = import_file(engine, second, mapping)
    assert (summary.imported, summary.updated, summary.unchanged) == (0, 3, 0)  # post_decision changed
    assert _owners(engine) == {"L1": "rep-a", "L2": "rep-b", "L3": "rep-c"}
    # the owner is a post-decision column: no input hash moved with it
    with engine.connect() as conn:
        lead = store.get_lead(conn, "L1")
    assert lead is not None and lead["owner"] == "rep-a" and lead["post_decision"] == {"lead_owner": None}


def test_write_leads_keeps_an_owner_unless_the_row_sets_one(engine: Engine) -> None:
    def row(lead_id: str, owner: str | None, visits: int = 3) -> dict[str, Any]:
        lead = Lead(lead_id=lead_id, owner=owner, attributes={"total_visits": visits})
        return lead_row(lead, None)

    with engine.begin() as conn:
        # the same id twice in one batch: the later row wins, but a missing owner does not erase one
        assert store.write_leads(conn, [row("a", "rep-a"), row("a", None, 4), row("b", None)]) == (2, 0, 0)
    assert _owners(engine) == {"a": "rep-a", "b": None}
    with engine.begin() as conn:
        # unchanged content: counted unchanged, yet the new owner is assigned
        assert store.write_leads(conn, [row("a", "rep-z", 4), row("b", None)]) == (0, 0, 2)
    assert _owners(engine) == {"a": "rep-z", "b": None}
    with engine.begin() as conn:
        assert store.write_leads(conn, [row("a", None, 9)]) == (0, 1, 0)
        assert store.lead_owner(conn, "a") == (True, "rep-z")
        assert store.lead_owner(conn, "nope") == (False, None)


@pytest.mark.parametrize("stage", ["pre_decision", "id"])
def test_an_owner_column_must_be_post_decision(tmp_path: Path, stage: str) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(MAPPING.replace("lead_owner, stage: post_decision", f"lead_owner, stage: {stage}"))
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    assert "mapping.yaml:9:" in str(info.value) and "lead_field: owner must have stage: post_decision" in str(
        info.value
    )


def _only(names: set[str]) -> Callable[..., bool]:
    """An alembic ``include_object`` hook keeping these tables and what belongs to them."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table in names

    return include


def test_migration_0008_matches_the_tables(engine: Engine) -> None:
    names = {"leads", "conversations", "api_keys"}
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _only(names)})
        diffs = compare_metadata(context, Base.metadata)
    assert diffs == []
    assert {"owner"} <= set(LeadRow.__table__.c.keys()) & set(ConversationRow.__table__.c.keys())
    assert "rep_id" in ApiKeyRow.__table__.c


def test_an_api_key_may_act_as_a_rep(engine: Engine) -> None:
    with engine.begin() as conn:
        key, row = api_keys.create_key(conn, name="anna", role="sales_rep", created_by="t", rep_id="rep-a")
        assert row.rep_id == "rep-a" and api_keys.verify_key(conn, key).rep_id == "rep-a"  # type: ignore[union-attr]
        _, new, _ = api_keys.rotate_key(conn, row.prefix, grace=api_keys.parse_duration("1h"), created_by="t")
        assert new.rep_id == "rep-a"
        with pytest.raises(api_keys.ApiKeyError, match="another system, not a rep"):
            api_keys.create_key(conn, name="crm", role="integration", created_by="t", rep_id="rep-a")
        with pytest.raises(api_keys.ApiKeyError, match="bad rep id 'rep a'"):
            api_keys.create_key(conn, name="x", role="sales_rep", created_by="t", rep_id="rep a")


@pytest.mark.usefixtures("wide_console")
def test_keys_create_with_a_rep_id(tmp_path: Path) -> None:
    db = ["--database-url", f"sqlite:///{tmp_path / 'k.db'}"]
    out = run("keys", "create", "--role", "sales_rep", "--name", "anna", "--rep-id", "rep-a", *db)
    assert "role sales_rep, rep rep-a," in out
    out = run("keys", "create", "--role", "sales_rep", "--name", "nobody", *db)
    assert "without --rep-id sees no lead" in out
    listed = run("keys", "list", *db)
    assert "rep-a" in listed and "rep" in listed.splitlines()[2]
    out = run("keys", "create", "--role", "integration", "--name", "crm", "--rep-id", "rep-a", *db, code=1)
    assert "not a rep" in out
