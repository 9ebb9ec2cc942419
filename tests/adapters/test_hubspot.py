"""HubSpot against the local HubSpot: record shapes, associations, the real rate limit, partial failures."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from tests.adapters.contract import sample_delivery
from tests.adapters.fake_hubspot import FakeHubSpot

from leadgate.actions.ports import DestinationContext, PermanentDeliveryError, RetryableDeliveryError
from leadgate.adapters import build_destination
from leadgate.adapters.hubspot import HubSpot

CONTEXT = DestinationContext(engine=None, settings=None, timeout=5.0)
OWNERS = {"anna": "81234567", "marcus": "81234568"}


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHubSpot]:
    fake = FakeHubSpot()
    monkeypatch.setenv("TEST_HUBSPOT_TOKEN", fake.token)
    yield fake
    fake.stop()


@pytest.fixture
def make() -> Iterator[Callable[..., HubSpot]]:
    """Builds destinations the way the worker does, and closes them after the test."""
    built: list[HubSpot] = []

    def build(server: FakeHubSpot, **extra: object) -> HubSpot:
        config = {"base_url": server.url, "token_env": "TEST_HUBSPOT_TOKEN", "owners": OWNERS, **extra}
        dest = build_destination(HubSpot, config, CONTEXT)
        assert isinstance(dest, HubSpot)
        built.append(dest)
        return dest

    yield build
    for dest in built:
        dest.close()


def test_contact_upsert_maps_the_lead_and_its_company(
    make: Callable[..., HubSpot], server: FakeHubSpot
) -> None:
    dest = make(server)
    delivery = sample_delivery("crm_upsert", 4, "hubspot")  # Anna Keller, BrightPath Learning GmbH
    done = dest.deliver(delivery)
    contact = server.find("contacts", "email", "anna.keller@brightpath-learning.de")
    assert contact is not None
    assert (contact["firstname"], contact["lastname"], contact["jobtitle"]) == (
        "Anna",
        "Keller",
        "Head of Training",
    )
    assert contact["leadgate_lead_id"] == "web:2026-12-02:000004"
    assert contact["leadgate_tier"] == "hot" and contact["hubspot_owner_id"] == "81234567"
    company = server.find("companies", "domain", "brightpath-learning.de")
    assert company is not None and company["name"] == "BrightPath Learning GmbH"
    company_id = next(i for i, r in server.records["companies"].items() if r is company)
    assert ("contacts", done.external_id, "companies", company_id) in server.associations
    assert done.detail["company_id"] == company_id and done.detail["rate_limit_remaining"] >= 0


def test_free_mail_lead_gets_no_company_and_email_is_matched_case_insensitively(
    make: Callable[..., HubSpot], server: FakeHubSpot
) -> None:
    dest = make(server)
    dest.deliver(sample_delivery("crm_upsert", 1, "hubspot"))  # Rahul.Mehta@gmail.com
    assert server.count("companies") == 0
    assert server.find("contacts", "email", "rahul.mehta@gmail.com") is not None


def test_task_has_hubspot_properties_owner_due_time_and_contact(
    make: Callable[..., HubSpot], server: FakeHubSpot
) -> None:
    dest = make(server)
    delivery = sample_delivery("crm_task", 2, "hubspot")  # hot, rep anna, due 5 minutes after creation
    done = dest.deliver(delivery)
    task = server.records["tasks"][str(done.external_id)]
    assert task["leadgate_action_key"] == delivery.action.idempotency_key
    assert task["hs_timestamp"] == "2026-12-02T09:21:05.120Z"
    assert task["hs_task_priority"] == "HIGH" and task["hs_task_status"] == "NOT_STARTED"
    assert task["hubspot_owner_id"] == "81234567" and task["hs_task_subject"] == "First touch: hot lead"
    assert "spent 14 minutes on the course pages" in task["hs_task_body"]
    contact_id = done.detail["contact_id"]
    assert ("tasks", done.external_id, "contacts", contact_id) in server.associations


def test_the_rolling_rate_limit_gives_a_retryable_error_with_the_window(
    make: Callable[..., HubSpot], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeHubSpot(max_requests=3, interval_ms=10_000)
    monkeypatch.setenv("TEST_HUBSPOT_TOKEN", server.token)
    try:
        dest = make(server)
        done = dest.deliver(sample_delivery("crm_upsert", 4, "hubspot"))  # contact, company, association
        assert done.detail["rate_limit_remaining"] == 0
        with pytest.raises(RetryableDeliveryError) as info:
            dest.deliver(sample_delivery("crm_upsert", 5, "hubspot"))
        assert info.value.status == 429
        assert info.value.retry_after == pytest.approx(10.0)  # X-HubSpot-RateLimit-Interval-Milliseconds
        assert "RATE_LIMIT" in str(info.value)
        assert server.count("contacts") == 1
    finally:
        server.stop()


def test_failure_half_way_through_a_task_then_retry_makes_one_of_each(
    make: Callable[..., HubSpot], server: FakeHubSpot
) -> None:
    dest = make(server)
    delivery = sample_delivery("crm_task", 8, "hubspot")
    server.fail_next(502, after=1)  # the contact upsert passes, the task upsert gets a 502
    with pytest.raises(RetryableDeliveryError):
        dest.deliver(delivery)
    assert (server.count("contacts"), server.count("tasks")) == (1, 0)
    server.fail_next(503, after=2)  # contact and task pass, the association fails
    with pytest.raises(RetryableDeliveryError):
        dest.deliver(delivery)
    assert (server.count("contacts"), server.count("tasks"), len(server.associations)) == (1, 1, 0)
    dest.deliver(delivery)
    assert (server.count("contacts"), server.count("tasks"), len(server.associations)) == (1, 1, 1)


def test_hubspot_validation_error_is_permanent_and_names_the_property(
    make: Callable[..., HubSpot], server: FakeHubSpot
) -> None:
    dest = make(server, tier_property="leadgate_score_band")  # a property the portal does not have
    with pytest.raises(PermanentDeliveryError, match="PROPERTY_DOESNT_EXIST") as info:
        dest.deliver(sample_delivery("crm_upsert", 2, "hubspot"))
    assert info.value.status == 400 and "leadgate_score_band" in str(info.value)


def test_rep_without_owner_id_and_erased_lead_are_permanent(
    make: Callable[..., HubSpot], server: FakeHubSpot
) -> None:
    dest = make(server, owners={"anna": "81234567"})
    with pytest.raises(PermanentDeliveryError, match="marcus"):
        dest.deliver(sample_delivery("crm_task", 3, "hubspot"))  # odd n: rep marcus
    erased = sample_delivery("crm_upsert", 2, "hubspot")
    erased = type(erased)(action=erased.action, lead={}, decision=erased.decision, rep=erased.rep)
    with pytest.raises(PermanentDeliveryError, match="no email"):
        dest.deliver(erased)
    assert server.count("tasks") == 0


def test_wrong_token_is_permanent_401(
    make: Callable[..., HubSpot], server: FakeHubSpot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_HUBSPOT_TOKEN", "pat-na1-revoked")
    dest = make(server)
    with pytest.raises(PermanentDeliveryError, match="INVALID_AUTHENTICATION") as info:
        dest.deliver(sample_delivery("crm_upsert", 2, "hubspot"))
    assert info.value.status == 401


def test_company_can_be_upserted_by_a_unique_custom_property(
    make: Callable[..., HubSpot], server: FakeHubSpot
) -> None:
    dest = make(server, company_id_property="leadgate_company_domain")
    dest.deliver(sample_delivery("crm_upsert", 4, "hubspot"))
    dest.deliver(sample_delivery("crm_upsert", 4, "hubspot"))
    company = server.find("companies", "leadgate_company_domain", "brightpath-learning.de")
    assert company is not None and company["domain"] == "brightpath-learning.de"
    assert server.count("companies") == 1


def test_daily_limit_waits_the_configured_time(
    make: Callable[..., HubSpot], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeHubSpot(daily=1)
    monkeypatch.setenv("TEST_HUBSPOT_TOKEN", server.token)
    try:
        dest = make(server, daily_limit_retry_after_s=5400)
        with pytest.raises(RetryableDeliveryError, match="daily limit") as info:
            dest.deliver(sample_delivery("crm_task", 2, "hubspot"))  # the contact passes, the task does not
        assert info.value.status == 429 and info.value.retry_after == 5400
        assert server.count("tasks") == 0
    finally:
        server.stop()


def test_hot_leads_open_one_deal_in_the_configured_stage(
    make: Callable[..., HubSpot], server: FakeHubSpot
) -> None:
    dest = make(server, deal_tiers=["hot"], deal_stage="qualifiedtobuy")
    done = dest.deliver(sample_delivery("crm_upsert", 4, "hubspot"))  # hot, BrightPath Learning GmbH
    dest.deliver(sample_delivery("crm_upsert", 4, "hubspot"))
    dest.deliver(sample_delivery("crm_upsert", 3, "hubspot"))  # warm: no deal
    deal = server.find("deals", "leadgate_deal_key", "web:2026-12-02:000004")
    assert deal is not None and server.count("deals") == 1
    assert (deal["dealname"], deal["dealstage"], deal["pipeline"]) == (
        "BrightPath Learning GmbH (leadgate hot)",
        "qualifiedtobuy",
        "default",
    )
    assert ("deals", done.detail["deal_id"], "contacts", done.external_id) in server.associations


def test_unknown_deal_stage_is_refused_permanently(make: Callable[..., HubSpot], server: FakeHubSpot) -> None:
    dest = make(server, deal_tiers=["hot"], deal_stage="Qualified")
    with pytest.raises(PermanentDeliveryError, match="INVALID_OPTION"):
        dest.deliver(sample_delivery("crm_upsert", 4, "hubspot"))
    assert server.count("deals") == 0


def test_conflict_from_a_concurrent_create_is_retryable_and_the_retry_updates(
    make: Callable[..., HubSpot], server: FakeHubSpot
) -> None:
    dest = make(server)
    server.conflict_next = True
    with pytest.raises(RetryableDeliveryError, match="CONFLICT") as info:
        dest.deliver(sample_delivery("crm_upsert", 1, "hubspot"))
    assert info.value.status == 409
    done = dest.deliver(sample_delivery("crm_upsert", 1, "hubspot"))
    assert done.detail["contact_created"] is False and server.count("contacts") == 1
