"""A local Standard Webhooks receiver: verifies each request with the ``standardwebhooks`` library.

A request whose signature, id or timestamp does not verify gets 401 (and is not counted); a verified one
is recorded once per ``webhook-id`` (the receiver-side deduplication the specification asks for) and
answered 204.
"""

from __future__ import annotations

from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from tests.adapters.fakeserver import FakeServer, Reply, Request


class WebhookReceiver(FakeServer):
    """The receiver. ``events[webhook_id]`` is the verified JSON body; ``rejected`` counts bad signatures."""

    def __init__(self, secret: str) -> None:
        self.verifier = Webhook(secret)
        self.events: dict[str, Any] = {}
        self.deliveries = 0
        self.rejected = 0
        super().__init__()

    def failure_reply(self, status: int, request: Request) -> Reply:
        return Reply(
            status,
            {
                "error": {410: "gone", 429: "slow down", 400: "bad request", 401: "unauthorized"}.get(
                    status, "unavailable"
                )
            },
        )

    def handle(self, request: Request) -> Reply:
        try:
            body = self.verifier.verify(request.body, request.headers)
        except WebhookVerificationError as exc:
            with self.lock:
                self.rejected += 1
            return Reply(401, {"error": str(exc)})
        with self.lock:
            self.deliveries += 1
            self.events.setdefault(request.headers["webhook-id"], body)
        return Reply(204)
