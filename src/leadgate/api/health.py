"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and what is loaded")
def healthz(request: Request) -> dict[str, Any]:
    """``{"status": "ok", "model": "name@version", "policy": "name@version", "database": "ok"}``."""
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
    }
