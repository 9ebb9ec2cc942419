"""File qualification with a router: each chunk's routed decisions are assigned in the chunk's transaction."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, func, select
from tests.api.conftest import register, shipped_qualifier, trained_model
from tests.conftest import LEADS_CSV, MAPPING

from leadgate.audit.events import verify_events
from leadgate.db.acting_models import AssignmentRow
from leadgate.db.models import DecisionRow
from leadgate.ingest import load_mapping
from leadgate.qualifier import Qualifier
from leadgate.routing import load_router
from leadgate.runs import qualify_file


def qualifier(engine: Engine) -> Qualifier:
    """The shipped X Education qualifier with the shared trained model (trained once per process)."""
    register(engine, trained_model())
    return shipped_qualifier(engine)


def test_qualify_file_routes_each_chunk_when_given_a_router(engine: Engine, tmp_path: Path) -> None:
    sample = tmp_path / "leads.csv"
    lines = LEADS_CSV.read_text(encoding="utf-8").splitlines(keepends=True)
    sample.write_text("".join(lines[:601]), encoding="utf-8")  # the header and the first 600 leads
    q = qualifier(engine)
    router = load_router(q.policy)
    summary = qualify_file(
        engine, sample, load_mapping(MAPPING), q, explain="none", chunk_size=250, router=router
    )
    with engine.connect() as conn:
        routed = conn.execute(
            select(func.count()).select_from(DecisionRow).where(DecisionRow.action == "route_to_sales")
        ).scalar_one()
        per_rep = dict(
            conn.execute(select(AssignmentRow.rep_id, func.count()).group_by(AssignmentRow.rep_id)).all()
        )
    assert summary.decisions == 600 and routed > 60
    assert sum(per_rep.values()) == routed  # one assignment per routed decision
    # the example reps' daily caps bind (priya 60 India leads a day, anna 40, marcus 30): the rest unassigned
    assert per_rep["priya"] == 60 and per_rep.get("anna", 0) <= 40 and per_rep.get("marcus", 0) <= 30
    assert per_rep[None] == routed - sum(v for k, v in per_rep.items() if k is not None)
    assert verify_events(engine) == (routed, None)


def test_qualify_file_without_a_router_assigns_nothing(engine: Engine, tmp_path: Path) -> None:
    sample = tmp_path / "leads.csv"
    lines = LEADS_CSV.read_text(encoding="utf-8").splitlines(keepends=True)
    sample.write_text("".join(lines[:201]), encoding="utf-8")
    qualify_file(engine, sample, load_mapping(MAPPING), qualifier(engine), explain="none")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AssignmentRow)).scalar_one() == 0
