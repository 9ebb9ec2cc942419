"""Two server processes posting the same new ``lead_id`` at once (issue 8, item 11), on SQLite and PostgreSQL.

Two real ``leadgate serve`` processes share one database. Each round posts one new ``lead_id`` to both at
the same instant (a barrier), with the same content or with different content. Afterwards: exactly one
lead row per id, its ``input_hash`` equals the ``input_hash`` of its latest decision, no 5xx, and with
different content exactly one of the two posts wins (200) while the other gets 409 (the id was stored
meanwhile with other content).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from tests.api.conftest import bearer, create_test_key
from tests.api.servers import servers
from tests.api.test_api import WEB_LEAD

from leadgate.db import make_engine
from leadgate.db.store import DECISIONS, LEADS

ROUNDS = 25


def _post_together(bases: list[str], key: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    """POST ``bodies[i]`` to ``bases[i]`` from one thread each, released together by a barrier."""
    barrier = threading.Barrier(len(bases))
    out: list[Any] = [None] * len(bases)

    def run(i: int) -> None:
        with httpx.Client(base_url=bases[i], headers=bearer(key), timeout=60) as client:
            client.get("/healthz")  # connect first: the barrier then releases two ready requests
            barrier.wait()
            out[i] = client.post("/v1/leads", json=bodies[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


@pytest.fixture
def two_servers(db_url: str, tmp_path: Path) -> Iterator[tuple[list[str], str]]:
    engine = make_engine(db_url)
    key = create_test_key(engine)
    engine.dispose()
    with servers(db_url, tmp_path, count=2) as bases:
        yield bases, key


def test_same_new_lead_id_posted_to_two_servers_at_once_stays_consistent(
    db_url: str, two_servers: tuple[list[str], str]
) -> None:
    bases, key = two_servers
    outcomes: dict[str, list[int]] = {"same": [], "different": []}
    for n in range(ROUNDS):
        for kind in ("same", "different"):
            lead_id = f"race-{kind}-{n}"
            a = {**WEB_LEAD, "lead_id": lead_id}
            b = {**a, "company": "Other Co"} if kind == "different" else a
            responses = _post_together(bases, key, [a, b])
            codes = sorted(r.status_code for r in responses)
            assert all(c < 500 for c in codes), [r.text for r in responses]
            outcomes[kind].append(codes.count(200))
            if kind == "same":
                assert codes == [200, 200], [r.text for r in responses]
            else:
                assert codes == [200, 409], [r.text for r in responses]
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            leads = conn.execute(select(LEADS.c.lead_id, LEADS.c.input_hash, LEADS.c.latest_decision_id))
            rows = {r[0]: (r[1], r[2]) for r in leads}
            assert len(rows) == 2 * ROUNDS
            count = conn.execute(select(func.count()).select_from(LEADS)).scalar()
            assert count == 2 * ROUNDS  # exactly one row per id
            decisions = conn.execute(select(DECISIONS.c.decision_id, DECISIONS.c.input_hash))
            decided = {r[0]: r[1] for r in decisions}
            grouped = conn.execute(select(DECISIONS.c.lead_id, func.count()).group_by(DECISIONS.c.lead_id))
            by_lead = {r[0]: r[1] for r in grouped}
    finally:
        engine.dispose()
    for lead_id, (input_hash, latest) in rows.items():
        assert latest is not None and decided[latest] == input_hash, lead_id
        # a refused post stores no decision: two decisions for the same content, one for different content
        assert by_lead[lead_id] == (2 if "-same-" in lead_id else 1), lead_id
    assert sum(outcomes["same"]) == 2 * ROUNDS and sum(outcomes["different"]) == ROUNDS
