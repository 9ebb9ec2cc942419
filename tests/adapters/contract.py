"""The contract every destination passes (DESIGN rule 2): reuse it for a new adapter in a few lines.

Write a test class that inherits ``DestinationContract`` (or ``FailureContract``, which adds the error
mapping, for a destination behind a network server) and gives a ``harness`` fixture::

    class TestSlackContract(FailureContract):
        @pytest.fixture
        def harness(self, tmp_path):
            server = FakeSlack()
            ...
            yield Harness(cls=SlackWebhook, config={...}, effects=lambda kind: len(server.messages),
                          fail=fail, bad_configs=[({"url": "not a url"}, "url")],
                          unreachable_config={...})
            server.stop()

``Harness.fail(mode)`` makes the next delivery fail in one of ``FAILURE_MODES`` (the server answers the
way the vendor does: 429/5xx/400/401 for HTTP, 421/451/550/535 for SMTP ...) and returns the
``retry_after`` the adapter must report for ``rate_limit`` (None: any value). ``Harness.effects(kind)`` counts
the downstream effects the server holds (records, tasks, messages, verified webhook ids), so "one effect"
is checked where it happens, not in the adapter.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest

from leadgate.actions.ports import (
    Delivered,
    Delivery,
    Destination,
    DestinationContext,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from leadgate.adapters import (
    DestinationConfigError,
    build_destination,
    check_destination_class,
    load_destination_class,
)
from leadgate.contracts.action import Action, ActionKind

ALL_KINDS: tuple[ActionKind, ...] = get_args(ActionKind)
FAILURE_MODES = ("rate_limit", "unavailable", "bad_request", "unauthorized")
"""rate_limit: retryable with the server's retry-after; unavailable: retryable; bad_request, unauthorized: permanent."""

# Leads as they arrive from a web form, a CSV export and a chat: realistic, varied (no email on one).
LEADS: tuple[dict[str, Any], ...] = (
    {"email": "anna.keller@brightpath-learning.de", "first_name": "Anna", "last_name": "Keller",
     "company": "BrightPath Learning GmbH", "title": "Head of Training", "country": "Germany",
     "city": "Munich", "phone": "+49 89 2180 4417"},
    {"email": "Rahul.Mehta@gmail.com", "first_name": "Rahul", "last_name": "Mehta", "country": "India",
     "city": "Mumbai", "phone": "+91 98200 41173"},
    {"email": "j.okafor@lagos-techhub.ng", "first_name": "Jide", "last_name": "Okafor",
     "company": "Lagos TechHub", "title": "Operations Lead", "country": "Nigeria"},
    {"email": "marie-claire.dubois@univ-lyon.example.fr", "last_name": "Dubois", "company": "Université de Lyon",
     "country": "France", "city": "Lyon"},
)  # fmt: skip
REASONS = ["spent 14 minutes on the course pages", "lead source: Welingak website", "working professional"]
REP = {
    "id": "anna",
    "name": "Anna Becker",
    "email": "anna.becker@example.com",
    "timezone": "Europe/Berlin",
    "manager": "sofia",
}
SECOND_REP = {
    "id": "marcus",
    "name": "Marcus Reed",
    "email": "marcus.reed@example.com",
    "timezone": "America/New_York",
    "manager": "sofia",
}
BASE_TIME = datetime(2026, 12, 2, 9, 14, 5, 120000, tzinfo=UTC)


def sample_delivery(kind: ActionKind, n: int, destination: str = "test", *, attempt: int = 1) -> Delivery:
    """The ``n``-th realistic delivery of ``kind``: lead ``web:2026-12-02:<n>``, decision ``dec-<n>``.

    The same ``(kind, n, destination)`` always gives the same action (same idempotency key), as a retry
    or a replay of the outbox row would.
    """
    lead_id = f"web:2026-12-02:{n:06d}"
    decision_id = f"0193a1c2-7d4e-7000-8000-{n:012d}"
    key = hashlib.sha256(f"{kind}|{destination}|{lead_id}|{decision_id}".encode()).hexdigest()
    rep = REP if n % 2 == 0 else SECOND_REP
    tier = "hot" if n % 3 else "warm"
    created = BASE_TIME + timedelta(minutes=n)
    payload = {
        "tier": tier,
        "probability": 0.83 if tier == "hot" else 0.52,
        "reasons": REASONS,
        "rep_id": rep["id"],
        "sla_due_at": (created + timedelta(minutes=5 if tier == "hot" else 60)).isoformat(),
    }
    action = Action(
        action_id=f"0193a1c2-7d4e-7000-9000-{n:012d}",
        kind=kind,
        destination=destination,
        lead_id=lead_id,
        decision_id=decision_id,
        idempotency_key=key,
        payload=payload,
        created_at=created,
    )
    decision = {"tier": tier, "action": "route_to_sales", "probability": payload["probability"],
                "reasons": REASONS, "policy_version": "xeducation@3"}  # fmt: skip
    lead = {"lead_id": lead_id, "source": "web_form", **LEADS[n % len(LEADS)]}
    return Delivery(action=action, lead=lead, decision=decision, rep=rep, attempt=attempt)


@dataclass
class Harness:
    """One destination under test, pointed at its local server (see the module docstring).

    Attributes:
        cls: the destination class.
        config: a raw config (as in the settings file) that builds a working destination.
        effects: ``effects(kind)`` -> the number of downstream effects of that kind the server holds.
        context: what the worker would pass (engine, settings, timeout).
        kinds: the kinds to exercise (default ``cls.kinds``).
        bad_configs: ``(raw config, text the error must contain)`` pairs that must be refused.
        fail: ``fail(mode) -> expected retry_after`` (``FailureContract`` only).
        unreachable_config: a config pointing at a closed port (``FailureContract`` only).
        delivery: builds the n-th delivery of a kind (default ``sample_delivery``).
    """

    cls: type[Any]
    config: dict[str, Any]
    effects: Callable[[ActionKind], int]
    context: DestinationContext = field(
        default_factory=lambda: DestinationContext(engine=None, settings=None, timeout=5.0)
    )
    kinds: tuple[ActionKind, ...] = ()
    bad_configs: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    fail: Callable[[str], float | None] | None = None
    unreachable_config: dict[str, Any] | None = None
    delivery: Callable[[ActionKind, int], Delivery] = sample_delivery
    _built: list[Destination] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.kinds:
            self.kinds = tuple(k for k in ALL_KINDS if k in self.cls.kinds)

    def build(self, config: dict[str, Any] | None = None) -> Destination:
        """A destination built the way the worker builds it (closed by ``close_all``)."""
        dest = build_destination(self.cls, self.config if config is None else config, self.context)
        self._built.append(dest)
        return dest

    def close_all(self) -> None:
        """Close every destination this harness built."""
        for dest in self._built:
            dest.close()


class DestinationContract:
    """The tests every destination passes. Subclasses provide the ``harness`` fixture."""

    @pytest.fixture
    def dest(self, harness: Harness) -> Iterator[Destination]:
        yield harness.build()
        harness.close_all()

    def test_class_passes_the_protocol_check(self, harness: Harness) -> None:
        assert check_destination_class(harness.cls) is harness.cls
        assert harness.kinds, "the harness exercises at least one kind"

    def test_entry_point_loads_this_class(self, harness: Harness) -> None:
        assert load_destination_class(harness.cls.name) is harness.cls

    def test_same_action_twice_makes_one_effect(self, harness: Harness, dest: Destination) -> None:
        for kind in harness.kinds:
            before = harness.effects(kind)
            first = dest.deliver(harness.delivery(kind, 1))
            again = dest.deliver(harness.delivery(kind, 1))  # a retry after a lost answer
            assert isinstance(first, Delivered) and isinstance(again, Delivered)
            assert harness.effects(kind) == before + 1, kind
            assert again.external_id == first.external_id, kind
            other = dest.deliver(harness.delivery(kind, 2))  # another lead: its own effect
            assert harness.effects(kind) == before + 2, kind
            assert other.external_id != first.external_id or first.external_id is None

    def test_concurrent_deliveries_of_one_action_make_one_effect(self, harness: Harness) -> None:
        kind = harness.kinds[-1]
        before = harness.effects(kind)
        workers = [harness.build() for _ in range(4)]  # four workers that claimed the same row
        errors: list[BaseException] = []
        barrier = threading.Barrier(len(workers))

        def run(dest: Destination) -> None:
            barrier.wait()
            try:
                dest.deliver(harness.delivery(kind, 7))
            except RetryableDeliveryError:
                pass  # a worker may lose a race and retry later; it must never make a second effect
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(d,)) for d in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        harness.close_all()
        assert not errors, errors
        assert harness.effects(kind) == before + 1

    def test_refuses_kinds_it_does_not_take(self, harness: Harness, dest: Destination) -> None:
        refused = [k for k in ALL_KINDS if k not in harness.cls.kinds]
        for kind in refused:
            with pytest.raises(PermanentDeliveryError, match=kind):
                dest.deliver(harness.delivery(kind, 3))
        assert set(harness.cls.kinds) | set(refused) == set(ALL_KINDS)

    def test_config_errors_are_clear(self, harness: Harness) -> None:
        with pytest.raises(DestinationConfigError, match="no_such_setting"):
            harness.build({**harness.config, "no_such_setting": 1})
        assert harness.bad_configs, "the harness lists at least one invalid config"
        for raw, needle in harness.bad_configs:
            with pytest.raises(DestinationConfigError, match=needle):
                harness.build(raw)

    def test_close_is_idempotent(self, harness: Harness) -> None:
        dest = harness.build()
        dest.close()
        dest.close()


class FailureContract(DestinationContract):
    """The error mapping of a destination behind a server: ``harness.fail`` and ``unreachable_config`` set."""

    def _fail(self, harness: Harness, mode: str) -> float | None:
        assert harness.fail is not None, "a FailureContract harness sets fail"
        return harness.fail(mode)

    def test_rate_limit_is_retryable_with_the_servers_retry_after(
        self, harness: Harness, dest: Destination
    ) -> None:
        for kind in harness.kinds:
            expected = self._fail(harness, "rate_limit")
            with pytest.raises(RetryableDeliveryError) as info:
                dest.deliver(harness.delivery(kind, 11))
            if expected is not None:
                assert info.value.retry_after == pytest.approx(expected)

    def test_unavailable_is_retryable(self, harness: Harness, dest: Destination) -> None:
        for kind in harness.kinds:
            self._fail(harness, "unavailable")
            with pytest.raises(RetryableDeliveryError):
                dest.deliver(harness.delivery(kind, 12))

    def test_bad_request_is_permanent(self, harness: Harness, dest: Destination) -> None:
        for kind in harness.kinds:
            self._fail(harness, "bad_request")
            with pytest.raises(PermanentDeliveryError):
                dest.deliver(harness.delivery(kind, 13))

    def test_unauthorized_is_permanent(self, harness: Harness, dest: Destination) -> None:
        for kind in harness.kinds:
            self._fail(harness, "unauthorized")
            with pytest.raises(PermanentDeliveryError):
                dest.deliver(harness.delivery(kind, 14))

    def test_unreachable_server_is_retryable(self, harness: Harness) -> None:
        assert harness.unreachable_config is not None, "a FailureContract harness sets unreachable_config"
        dest = harness.build(harness.unreachable_config)
        try:
            with pytest.raises(RetryableDeliveryError):
                dest.deliver(harness.delivery(harness.kinds[0], 15))
        finally:
            dest.close()

    def test_retry_after_a_failure_makes_one_effect(self, harness: Harness, dest: Destination) -> None:
        for kind in harness.kinds:
            before = harness.effects(kind)
            self._fail(harness, "unavailable")
            with pytest.raises(RetryableDeliveryError):
                dest.deliver(harness.delivery(kind, 16))
            dest.deliver(harness.delivery(kind, 16))
            dest.deliver(harness.delivery(kind, 16))
            assert harness.effects(kind) == before + 1
