"""A test destination (``tests.actions.http_crm:HttpCrm``): POSTs each action to the test CRM server.

It behaves as the real adapters must: idempotent on the action's key (sent as ``Idempotency-Key``), 429
and 5xx and network errors retryable (with ``Retry-After``), other 4xx permanent.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict

from leadgate.actions.ports import (
    Delivered,
    Delivery,
    DestinationContext,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from leadgate.contracts.action import ActionKind


class HttpCrm:
    """Delivers to ``{url}/v1/records``."""

    name: ClassVar[str] = "http_crm"
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({"crm_upsert", "crm_task", "notify_rep", "nurture"})

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        url: str
        token_env: str | None = None

    def __init__(self, config: Config, context: DestinationContext) -> None:
        headers = {}
        if config.token_env is not None:
            token = os.environ.get(config.token_env)
            if not token:
                raise ValueError(f"environment variable {config.token_env} (token_env) is not set")
            headers["Authorization"] = f"Bearer {token}"
        self.client = httpx.Client(base_url=config.url, timeout=context.timeout, headers=headers)

    def deliver(self, delivery: Delivery) -> Delivered:
        action = delivery.action
        body: dict[str, Any] = {
            "kind": action.kind,
            "lead_id": action.lead_id,
            "email": delivery.lead.get("email"),
            "company": delivery.lead.get("company"),
            "tier": (delivery.decision or {}).get("tier"),
            "owner": (delivery.rep or {}).get("email"),
            "attempt": delivery.attempt,
        }
        try:
            response = self.client.post(
                "/v1/records", json=body, headers={"Idempotency-Key": action.idempotency_key}
            )
        except httpx.TransportError as exc:
            raise RetryableDeliveryError(f"{type(exc).__name__} talking to the CRM") from exc
        if response.status_code == 429 or response.status_code >= 500:
            after = response.headers.get("Retry-After")
            raise RetryableDeliveryError(
                f"CRM answered {response.status_code}",
                retry_after=float(after) if after else None,
                status=response.status_code,
            )
        if response.status_code >= 400:
            raise PermanentDeliveryError(
                f"CRM refused the record: {response.json().get('message')}", status=response.status_code
            )
        return Delivered(external_id=response.json()["id"], detail={"status": response.status_code})

    def close(self) -> None:
        self.client.close()


class NoDeliver:
    """Not a destination: it lacks ``deliver`` and ``Config`` (for the loader's error test)."""

    name = "broken"
    kinds = frozenset({"crm_upsert"})

    def close(self) -> None:
        pass
