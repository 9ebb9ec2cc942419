"""The notification destinations are plugins: found through the ``leadgate.destinations`` entry points,
each a ``Destination`` (name, kinds, a pydantic ``Config`` refusing unknown keys, deliver, close), built
as ``cls(config, context)`` without network I/O."""

from __future__ import annotations

import base64
from importlib.metadata import entry_points
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import create_engine

from leadgate.actions.ports import Destination, DestinationContext
from leadgate.config import Settings

EXPECTED: dict[str, tuple[set[str], dict[str, Any]]] = {
    "email": (
        {"notify_rep", "notify_manager"},
        {
            "host": "smtp.acme.example",
            "from_address": "leads@acme.example",
            "base_url": "https://lg.acme.example",
        },
    ),
    "slack": ({"notify_rep", "notify_manager"}, {"base_url": "https://lg.acme.example"}),
    "nurture": (
        {"nurture"},
        {"url": "https://ma.acme.example/hooks/leadgate", "secret_env": "PLUGIN_TEST_SECRET"},
    ),
    "invite": ({"invite"}, {"host": "smtp.acme.example", "from_address": "demos@acme.example"}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_notification_destination_loads_from_its_entry_point(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLUGIN_TEST_SECRET", "whsec_" + base64.b64encode(b"plugin-test-secret-0123").decode())
    kinds, config = EXPECTED[name]
    (point,) = [p for p in entry_points(group="leadgate.destinations") if p.name == name]
    cls = point.load()
    assert cls.name == name and set(cls.kinds) == kinds
    # unreachable hosts: building must not connect
    engine = create_engine("sqlite://")  # a context always carries the database; nothing is read here
    destination = cls(
        cls.Config.model_validate(config), DestinationContext(engine=engine, settings=Settings())
    )
    assert isinstance(destination, Destination)
    destination.close()
    engine.dispose()
    # a typo in a config key is refused, naming the key
    with pytest.raises(ValidationError, match="hostname"):
        cls.Config.model_validate({**config, "hostname": "smtp.example"})
