"""Salesforce against the local Salesforce: upsert by external id, composite all-or-none, the API limit."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from tests.adapters.contract import sample_delivery
from tests.adapters.fake_salesforce import FakeSalesforce

from leadgate.actions.ports import DestinationContext, PermanentDeliveryError, RetryableDeliveryError
from leadgate.adapters import build_destination
from leadgate.adapters.salesforce import Salesforce

CONTEXT = DestinationContext(engine=None, settings=None, timeout=5.0)
OWNERS = {"anna": "0055g00000A1b2CAAR", "marcus": "0055g00000A1b2DAAR"}


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSalesforce]:
    fake = FakeSalesforce()
    monkeypatch.setenv("TEST_SF_TOKEN", fake.token)
    yield fake
    fake.stop()


@pytest.fixture
def make() -> Iterator[Callable[..., Salesforce]]:
    """Builds destinations the way the worker does, and closes them after the test."""
    built: list[Salesforce] = []

    def build(server: FakeSalesforce, **extra: object) -> Salesforce:
        config = {"instance_url": server.url, "token_env": "TEST_SF_TOKEN", "owners": OWNERS, **extra}
        dest = build_destination(Salesforce, config, CONTEXT)
        assert isinstance(dest, Salesforce)
        built.append(dest)
        return dest

    yield build
    for dest in built:
        dest.close()


def test_lead_upsert_by_external_id_fills_required_fields(
    make: Callable[..., Salesforce], server: FakeSalesforce
) -> None:
    dest = make(server, tier_field="Rating", tier_values={"hot": "Hot", "warm": "Warm", "nurture": "Cold"})
    first = dest.deliver(sample_delivery("crm_upsert", 1, "salesforce"))  # Rahul Mehta, no company
    lead = server.find("Lead", "Leadgate_Id__c", "web:2026-12-02:000001")
    assert lead is not None and first.detail["created"] is True
    assert (lead["FirstName"], lead["LastName"], lead["Company"]) == ("Rahul", "Mehta", "[not provided]")
    assert lead["Email"] == "rahul.mehta@gmail.com" and lead["City"] == "Mumbai"
    assert lead["OwnerId"] == "0055g00000A1b2DAAR" and lead["Rating"] == "Hot"
    again = dest.deliver(sample_delivery("crm_upsert", 1, "salesforce"))
    assert again.external_id == first.external_id and again.detail["created"] is False


def test_rating_picklist_refuses_an_unknown_tier_permanently(
    make: Callable[..., Salesforce], server: FakeSalesforce
) -> None:
    dest = make(server, tier_field="Rating")  # Salesforce's Rating picklist is Hot/Warm/Cold, not "hot"
    with pytest.raises(PermanentDeliveryError, match="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST") as info:
        dest.deliver(sample_delivery("crm_upsert", 2, "salesforce"))
    assert info.value.status == 400 and "Rating" in str(info.value)


def test_contact_sobject_uses_contact_fields(make: Callable[..., Salesforce], server: FakeSalesforce) -> None:
    dest = make(server, sobject="Contact")
    dest.deliver(sample_delivery("crm_upsert", 4, "salesforce"))  # Anna Keller, Munich
    contact = server.find("Contact", "Leadgate_Id__c", "web:2026-12-02:000004")
    assert contact is not None and contact["MailingCity"] == "Munich" and "Company" not in contact
    assert server.count("Lead") == 0


def test_task_is_one_composite_with_lead_owner_and_due_date(
    make: Callable[..., Salesforce], server: FakeSalesforce
) -> None:
    dest = make(server)
    delivery = sample_delivery("crm_task", 2, "salesforce")  # hot, rep anna, due 09:21:05Z
    done = dest.deliver(delivery)
    assert len(server.requests) == 1 and server.requests[0].path.endswith("/composite")
    task = server.find("Task", "Leadgate_Key__c", delivery.action.idempotency_key)
    lead_id = done.detail["record_id"]
    assert task is not None and task["WhoId"] == lead_id and lead_id.startswith("00Q")
    assert task["OwnerId"] == "0055g00000A1b2CAAR" and task["Priority"] == "High"
    assert task["ActivityDate"] == "2026-12-02" and task["ReminderDateTime"] == "2026-12-02T09:21:05.000+0000"
    assert done.detail["api_usage"] == 1 and done.detail["api_limit"] == 15_000


def test_composite_is_all_or_none(make: Callable[..., Salesforce], server: FakeSalesforce) -> None:
    server.users = {"0055g00000A1b2CAAR"}  # marcus's user was deactivated in the org
    dest = make(server)
    with pytest.raises(PermanentDeliveryError, match="INVALID_CROSS_REFERENCE_KEY") as info:
        dest.deliver(sample_delivery("crm_task", 3, "salesforce"))  # rep marcus
    assert "OwnerId" in str(info.value)
    assert server.count("Lead") == 0 and server.count("Task") == 0  # the lead upsert was rolled back


def test_holds_deliveries_near_the_daily_limit(
    make: Callable[..., Salesforce], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeSalesforce(api_limit=10)
    monkeypatch.setenv("TEST_SF_TOKEN", server.token)
    server.api_used = 6
    try:
        dest = make(server, refuse_at_usage=0.8, limit_retry_after_s=900)
        done = dest.deliver(sample_delivery("crm_upsert", 1, "salesforce"))
        assert (done.detail["api_usage"], done.detail["api_limit"]) == (7, 10)
        dest.deliver(sample_delivery("crm_upsert", 2, "salesforce"))  # usage 8/10 = the threshold
        sent = len(server.requests)
        with pytest.raises(RetryableDeliveryError, match="8/10") as info:
            dest.deliver(sample_delivery("crm_upsert", 4, "salesforce"))
        assert info.value.retry_after == 900 and len(server.requests) == sent  # nothing sent
    finally:
        server.stop()


def test_request_limit_exceeded_is_retryable(
    make: Callable[..., Salesforce], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeSalesforce(api_limit=1)
    monkeypatch.setenv("TEST_SF_TOKEN", server.token)
    try:
        dest = make(server, refuse_at_usage=1.0, limit_retry_after_s=600)
        dest.deliver(sample_delivery("crm_upsert", 1, "salesforce"))
        dest.api_usage = None  # another process used the rest of the allowance; this one has no reading
        with pytest.raises(RetryableDeliveryError, match="REQUEST_LIMIT_EXCEEDED") as info:
            dest.deliver(sample_delivery("crm_upsert", 2, "salesforce"))
        assert info.value.status == 403 and info.value.retry_after == 600
    finally:
        server.stop()


def test_expired_session_is_permanent(
    make: Callable[..., Salesforce], server: FakeSalesforce, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_SF_TOKEN", "00D5g000004abcd!expired")
    dest = make(server)
    with pytest.raises(PermanentDeliveryError, match="INVALID_SESSION_ID") as info:
        dest.deliver(sample_delivery("crm_task", 2, "salesforce"))
    assert info.value.status == 401


def test_losing_a_concurrent_upsert_is_retryable_and_the_retry_updates(
    make: Callable[..., Salesforce], server: FakeSalesforce
) -> None:
    dest = make(server)
    server.duplicate_next = "Leadgate_Id__c"
    with pytest.raises(RetryableDeliveryError, match="DUPLICATE_VALUE"):
        dest.deliver(sample_delivery("crm_upsert", 4, "salesforce"))
    done = dest.deliver(sample_delivery("crm_upsert", 4, "salesforce"))
    assert done.detail["created"] is False and server.count("Lead") == 1


def test_duplicate_value_on_another_field_is_permanent(
    make: Callable[..., Salesforce], server: FakeSalesforce
) -> None:
    dest = make(server)
    server.duplicate_next = "Email"  # e.g. a duplicate rule on Email in the org: a retry cannot fix it
    with pytest.raises(PermanentDeliveryError, match="DUPLICATE_VALUE"):
        dest.deliver(sample_delivery("crm_upsert", 4, "salesforce"))
    assert server.count("Lead") == 0
