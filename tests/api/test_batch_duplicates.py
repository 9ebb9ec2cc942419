"""A batch naming one ``lead_id`` twice gets a clear 422 naming the duplicates; nothing is stored."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from tests.api.conftest import Api
from tests.api.test_api import WEB_LEAD

from leadgate.db.store import DEAD, DECISIONS, LEADS


def test_duplicate_lead_id_in_one_batch_is_422_naming_each_duplicate(make_api: Callable[..., Api]) -> None:
    api = make_api()
    other = {**WEB_LEAD, "lead_id": "web-0002"}
    leads = [WEB_LEAD, other, {**WEB_LEAD, "company": "Other"}, other, {**WEB_LEAD, "lead_id": " web-0001 "}]
    r = api.client.post("/v1/leads/batch", json={"leads": leads})
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == [
        {
            "path": f"body.leads.{i}.lead_id",
            "reason": f"lead_id {lead_id!r} is already at index {first} of this batch: send each lead once per batch",
            "type": "duplicate_lead_id",
        }
        for i, lead_id, first in [(2, "web-0001", 0), (3, "web-0002", 1), (4, "web-0001", 0)]
    ]
    with api.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(LEADS)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(DECISIONS)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(DEAD)).scalar() == 1
    # the same leads once each are accepted
    r = api.client.post("/v1/leads/batch", json={"leads": [WEB_LEAD, other]})
    assert r.status_code == 200 and r.json()["accepted"] == 2
