"""Loading destination plugins: an incomplete adapter fails loudly when loaded, with every problem named."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from leadgate.actions.ports import Delivered, Delivery, Destination, DestinationContext
from leadgate.adapters import (
    ENTRY_POINT_GROUP,
    IncompleteDestinationError,
    UnknownDestinationError,
    check_destination_class,
    load_destination_class,
    load_entry_point,
)
from leadgate.adapters.embedded import EmbeddedCrm
from leadgate.adapters.hubspot import HubSpot
from leadgate.adapters.salesforce import Salesforce
from leadgate.adapters.webhook import SignedWebhook
from leadgate.contracts.action import ActionKind


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Complete:
    name: ClassVar[str] = "complete"
    kinds: ClassVar[frozenset[str]] = frozenset({"notify_rep"})
    Config = _Config

    def __init__(self, config: Any, context: DestinationContext) -> None:
        self.config = config

    def deliver(self, delivery: Delivery) -> Delivered:
        return Delivered()

    def close(self) -> None:
        return None


class NoDeliver:
    name = "no_deliver"
    kinds = frozenset({"crm_task"})
    Config = _Config

    def __init__(self, config: Any, context: Any) -> None: ...

    def close(self) -> None: ...


class NoConfigNoName:
    kinds = frozenset({"crm_task"})

    def __init__(self, config: Any, context: Any) -> None: ...

    def deliver(self, delivery: Delivery) -> Delivered:
        return Delivered()

    def close(self) -> None: ...


class InheritsTheProtocolOnly(Destination):
    """Declares the protocol as a base class but leaves ``deliver`` to the protocol's placeholder."""

    name: ClassVar[str] = "protocol_only"
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({"crm_task"})
    Config: ClassVar[type[BaseModel]] = _Config

    def __init__(self, config: Any, context: DestinationContext) -> None: ...

    def close(self) -> None: ...


class LaxConfig(Complete):
    class Config(BaseModel):  # ignores unknown fields: a typo in a setting would pass silently
        url: str = ""


class BadShapes(Complete):
    kinds = frozenset({"crm_task", "sms"})

    def __init__(self) -> None: ...

    def deliver(self) -> Delivered:  # type: ignore[override]
        return Delivered()


def test_built_in_destinations_pass_and_load_by_name() -> None:
    for cls in (EmbeddedCrm, HubSpot, Salesforce, SignedWebhook, Complete):
        assert check_destination_class(cls) is cls
    assert load_destination_class("hubspot") is HubSpot
    assert load_destination_class("embedded") is EmbeddedCrm


@pytest.mark.parametrize(
    ("cls", "needles"),
    [
        (NoDeliver, ["`deliver` is not implemented"]),
        (InheritsTheProtocolOnly, ["`deliver` is not implemented"]),
        (NoConfigNoName, ["`name`", "`Config`"]),
        (LaxConfig, ['extra="forbid"']),
        (BadShapes, ["['sms']", "`deliver` must take 1", "`__init__` must take (config, context)"]),
        (Complete(None, None), ["not a class"]),  # type: ignore[arg-type]
    ],
)
def test_incomplete_destinations_fail_loudly(cls: Any, needles: list[str]) -> None:
    with pytest.raises(IncompleteDestinationError) as info:
        check_destination_class(cls)
    for needle in needles:
        assert needle in str(info.value)


def test_unknown_name_lists_the_registered_ones() -> None:
    with pytest.raises(UnknownDestinationError, match="hubspot") as info:
        load_destination_class("pipedrive")
    assert "pipedrive" in str(info.value)


def test_entry_point_to_a_missing_module_or_class_fails_loudly() -> None:
    missing_module = EntryPoint("teams", "leadgate.adapters.no_such_module:Teams", ENTRY_POINT_GROUP)
    with pytest.raises(IncompleteDestinationError, match="cannot be loaded"):
        load_entry_point(missing_module)
    missing_class = EntryPoint("teams", "leadgate.adapters.webhook:TeamsWebhook", ENTRY_POINT_GROUP)
    with pytest.raises(IncompleteDestinationError, match="TeamsWebhook"):
        load_entry_point(missing_class)
    incomplete = EntryPoint("odd", "leadgate.adapters.http:parse_retry_after", ENTRY_POINT_GROUP)
    with pytest.raises(IncompleteDestinationError, match="not a class"):
        load_entry_point(incomplete)
