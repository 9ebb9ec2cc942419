"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and what is loaded")
def healthz(request: Request) -> dict[str, Any]:
    """``{"status": "ok", "model": "name@version", "policy": "name@version", "database": "ok", ...}``.

    ``leads_scored`` and ``out_of_range_share`` count the leads qualified through this process since it
    started and the share of them with a feature outside the model's training range.
    """
    lg = request.app.state.lg
    with lg.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    q = lg.qualifier
    return {
        "status": "ok",
        "model": f"{q.model_name}@{q.model_version}",
        "scorer": "model" if q.model is not None else "rule_fallback",
        "policy": q.policy_ref,
        "feature_set": q.feature_set.ref,
        "database": "ok",
        "leads_scored": lg.scored,
        "out_of_range_share": lg.out_of_range / lg.scored if lg.scored else 0.0,
    }
