"""The destinations file: plugins load by entry point or module:Class, every problem has its line."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest
from tests.actions.http_crm import HttpCrm
from tests.cli_support import run

from leadgate.actions.destinations import (
    DEFAULT_DESTINATIONS,
    GROUP,
    DestinationBuildError,
    DestinationsError,
    PluginError,
    check_destinations_text,
    destinations_path,
    load_destinations,
    load_destinations_text,
    load_plugin,
)
from leadgate.actions.ports import DestinationContext

GOOD = """\
destinations_version: 1
destinations:
  crm:
    plugin: tests.actions.http_crm:HttpCrm
    config:
      url: http://127.0.0.1:9/
      token_env: CRM_TOKEN
  old_crm:
    plugin: tests.actions.http_crm:HttpCrm
    enabled: false
routes:
  crm_upsert: [crm]
  nurture: [crm]
"""


def test_a_valid_file_loads_and_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_TOKEN", "pat-eu1-4f2a")
    loaded = load_destinations_text(GOOD)
    assert set(loaded.enabled) == {"crm"}
    assert loaded.routes == {"crm_upsert": ("crm",), "nurture": ("crm",)}
    built = loaded.build(DestinationContext(engine=None, settings=None, timeout=2.5))
    assert isinstance(built["crm"], HttpCrm)
    assert built["crm"].client.timeout.read == 2.5
    assert built["crm"].client.headers["Authorization"] == "Bearer pat-eu1-4f2a"
    built["crm"].close()


def test_a_destination_that_cannot_start_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_TOKEN", raising=False)
    loaded = load_destinations_text(GOOD, "destinations.yaml")
    with pytest.raises(DestinationBuildError) as err:
        loaded.build(DestinationContext(engine=None, settings=None))
    assert str(err.value) == (
        "destination 'crm' (destinations.yaml) could not start: environment variable CRM_TOKEN (token_env) is not set"
    )


def issues_of(text: str) -> list[str]:
    loaded, issues = check_destinations_text(text)
    assert loaded is None
    return [str(i) for i in issues]


def test_invalid_plugin_config_names_the_destination_field_and_line() -> None:
    text = GOOD.replace("      url: http://127.0.0.1:9/\n", "      endpoint: http://127.0.0.1:9/\n")
    assert issues_of(text) == [
        "6:7: destinations.crm.config.endpoint: unknown key 'endpoint'",
        "6:7: destinations.crm.config.url: missing required key 'url'",
    ]


def test_unknown_plugin_and_a_class_that_is_not_a_destination() -> None:
    text = GOOD.replace("plugin: tests.actions.http_crm:HttpCrm\n    config", "plugin: hubspott\n    config")
    text = text.replace(
        "tests.actions.http_crm:HttpCrm\n    enabled: false", "tests.actions.http_crm:NoDeliver"
    )
    found = issues_of(text)
    assert found[0].startswith("4:13: destinations.crm.plugin: no destination named 'hubspott' (registered: ")
    assert "salesforce" in found[0]
    assert found[1].startswith("9:13: destinations.old_crm.plugin: 'tests.actions.http_crm:NoDeliver' is not")
    assert "`Config` (a pydantic BaseModel subclass) is missing" in found[1]
    assert "method `deliver` is not implemented" in found[1]


def test_routes_to_unknown_disabled_or_unaccepting_destinations() -> None:
    text = GOOD.replace(
        "  nurture: [crm]\n", "  nurture: [crm, old_crm]\n  invite: [crm]\n  crm_task: [hubspot]\n"
    )
    assert issues_of(text) == [
        "13:18: routes.nurture.1: destination 'old_crm' is disabled",
        "14:12: routes.invite.0: destination 'crm' does not accept invite "
        "(crm_task, crm_upsert, notify_rep, nurture)",
        "15:14: routes.crm_task.0: destination 'hubspot' is not declared",
    ]


def test_file_shape_errors_and_duplicate_keys() -> None:
    assert issues_of("destinations:\n  crm: {}\n  crm: {}\n")[0] == (
        "3:3: destinations.crm: duplicate key 'crm' (first given on line 2)"
    )
    assert issues_of("destinations: {}\nroutes: {}\n\nrouts: {}\n") == ["4:1: routs: unknown key 'routs'"]
    (kind,) = issues_of("routes:\n  mail_blast: [crm]\n")
    assert kind.startswith("2:15: routes.mail_blast.[key]: Input should be 'crm_upsert'")
    assert issues_of("- a\n") == ["1:1: <root>: a destinations file must be a YAML mapping"]


def test_load_plugin_and_protocol_checks() -> None:
    assert load_plugin("tests.actions.http_crm:HttpCrm") is HttpCrm
    with pytest.raises(PluginError, match=r"cannot load 'tests\.actions\.nope:X'"):
        load_plugin("tests.actions.nope:X")
    with pytest.raises(PluginError, match="not a class"):
        load_plugin("builtins:len")
    with pytest.raises(PluginError, match="no destination named 'hubspt'"):
        load_plugin("hubspt")
    assert load_plugin("embedded").name == "embedded"


def test_default_routes_the_embedded_crm_and_the_entry_points_are_registered() -> None:
    names = {ep.name for ep in entry_points(group=GROUP)}
    assert {"embedded", "hubspot", "salesforce", "webhook", "email", "slack", "nurture", "invite"} <= names
    assert "crm_upsert: [embedded]" in DEFAULT_DESTINATIONS and "crm_task: [embedded]" in DEFAULT_DESTINATIONS


def test_load_destinations_reports_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "destinations.yaml"
    path.write_text("destinations:\n  crm:\n    plugin: tests.actions.http_crm:HttpCrm\n", encoding="utf-8")
    with pytest.raises(DestinationsError) as err:
        load_destinations(path)
    assert str(err.value) == f"{path}:3:5: destinations.crm.config.url: missing required key 'url'"


def test_cli_check(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    assert "crm_upsert -> crm" in run("outbox", "check", str(good))
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("[crm]\n  nurture", "[crn]\n  nurture"), encoding="utf-8")
    output = run("outbox", "check", str(bad), code=1)
    assert f"{bad}:12:16: routes.crm_upsert.0: destination 'crn' is not declared" in output


def test_the_file_in_force_comes_from_settings_else_the_project(tmp_path: Path) -> None:
    from leadgate.config import Settings

    project = tmp_path / "acme"
    project.mkdir()
    for name in ("mapping.yaml", "features.yaml", "policy.yaml", "destinations.yaml"):
        (project / name).write_text("# placeholder\n", encoding="utf-8")
    (project / "leadgate.yaml").write_text(
        "project_version: 1\nname: acme\nmapping: mapping.yaml\nfeatures: features.yaml\n"
        "policy: policy.yaml\nmodel: acme_propensity\ndestinations: destinations.yaml\n",
        encoding="utf-8",
    )
    explicit = tmp_path / "ops-destinations.yaml"
    assert destinations_path(Settings(destinations_file=explicit), cwd=project) == explicit
    assert destinations_path(Settings(), cwd=project) == (project / "destinations.yaml").resolve()
    assert (
        destinations_path(Settings(project=project), cwd=tmp_path)
        == (project / "destinations.yaml").resolve()
    )
    assert destinations_path(Settings(), cwd=tmp_path) is None
