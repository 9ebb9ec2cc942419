"""The destinations file: which destination plugins are enabled, their config, and which kinds go where.

``destinations.yaml`` (path: ``Settings.destinations_file``, env ``LEADGATE_DESTINATIONS_FILE``)::

    destinations_version: 1
    destinations:
      embedded: {}                      # plugin defaults to the key: entry point ``embedded``
      hubspot:
        config:
          token_env: HUBSPOT_TOKEN      # secrets by environment variable name, never in the file
      crm_test:
        plugin: mypackage.crm:MyCrm     # an unpackaged adapter: module:Class
        enabled: false
    routes:
      crm_upsert: [embedded, hubspot]
      crm_task: [hubspot]

A plugin is an entry point name of group ``leadgate.destinations`` or ``module:Class``. Every problem is
reported with its line and column (``leadgate.yamlcheck``): an unknown plugin, a class that does not satisfy
the ``Destination`` protocol, an invalid ``config`` (validated by the plugin's own ``Config`` model, the error
path names the field: ``destinations.hubspot.config.token_env``), a route to an undeclared or disabled
destination, or to one whose ``kinds`` do not include the kind. With no file, ``DEFAULT_DESTINATIONS``
applies: the embedded CRM for ``crm_upsert`` and ``crm_task``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from leadgate.actions.ports import Destination, DestinationContext
from leadgate.contracts.action import ActionKind
from leadgate.errors import LeadgateError
from leadgate.yamlcheck import YamlError, YamlIssue, issues_from_validation, mark, parse_yaml

GROUP: Final = "leadgate.destinations"
"""The entry point group of destination plugins."""

DestinationName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]


class DestinationsError(YamlError):
    """A destinations file is not valid; ``str()`` lists one ``file:line:col: path: message`` per issue."""


class DestinationBuildError(LeadgateError, ValueError):
    """A configured destination could not be built (its message names the destination)."""


class PluginError(ValueError):
    """A plugin reference that cannot be loaded or does not satisfy the ``Destination`` protocol."""


class DestinationSpec(BaseModel):
    """One declared destination.

    Attributes:
        plugin: entry point name (group ``leadgate.destinations``) or ``module:Class``; default: the key.
        enabled: False keeps the declaration but neither builds nor routes to it.
        config: the plugin's configuration, validated by its ``Config`` model.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    plugin: str | None = Field(default=None, min_length=1, max_length=200)
    enabled: bool = True
    config: dict[str, Any] = Field(default_factory=dict)


class DestinationsFile(BaseModel):
    """The ``destinations.yaml`` document."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    destinations_version: Literal[1] = 1
    destinations: dict[DestinationName, DestinationSpec] = Field(default_factory=dict)
    routes: dict[ActionKind, list[DestinationName]] = Field(default_factory=dict)


@dataclass(frozen=True)
class Configured:
    """One enabled destination: its name, plugin class and validated config (not yet built)."""

    name: str
    cls: type[Any]
    config: BaseModel


@dataclass(frozen=True)
class Destinations:
    """A loaded destinations file: the enabled destinations and the routing table.

    Attributes:
        enabled: destination name -> ``Configured``.
        routes: action kind -> destination names (only enabled ones), the planner's ``Routes``.
        source: the file it came from, or ``<default>``.
    """

    enabled: dict[str, Configured]
    routes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = "<default>"

    def build(self, context: DestinationContext) -> dict[str, Destination]:
        """Build every enabled destination as ``cls(config, context)`` (no network I/O).

        Raises:
            DestinationBuildError: a plugin refused its config at construction (e.g. the environment
                variable its ``token_env`` names is not set); the ones built before are closed.
        """
        built: dict[str, Destination] = {}
        for name, c in self.enabled.items():
            try:
                built[name] = c.cls(c.config, context)
            except Exception as exc:
                for done in built.values():
                    done.close()
                raise DestinationBuildError(
                    f"destination {name!r} ({self.source}) could not start: {exc}"
                ) from exc
        return built


DEFAULT_DESTINATIONS: Final = (
    "destinations_version: 1\n"
    "destinations:\n"
    "  embedded: {}\n"
    "routes:\n"
    "  crm_upsert: [embedded]\n"
    "  crm_task: [embedded]\n"
)
"""What applies with no destinations file: the embedded CRM for ``crm_upsert`` and ``crm_task``."""


def load_plugin(ref: str) -> type[Any]:
    """The destination class named by ``ref``: an entry point of ``leadgate.destinations`` or ``module:Class``.

    Loading and the protocol check are ``leadgate.adapters``' (``load_destination_class``,
    ``check_destination_class``): one loader for the worker, ``outbox check`` and the adapters' tests.

    Raises:
        PluginError: unknown entry point, module or class that cannot be imported, or a class that does
            not satisfy the ``Destination`` protocol (every missing part named).
    """
    from leadgate.adapters import (
        IncompleteDestinationError,
        UnknownDestinationError,
        check_destination_class,
        load_destination_class,
    )

    try:
        if ":" not in ref:
            return load_destination_class(ref)
        module_name, _, attr = ref.partition(":")
        try:
            obj: Any = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise PluginError(f"cannot load {ref!r}: {exc}") from exc
        return check_destination_class(obj)
    except UnknownDestinationError as exc:
        raise PluginError(str(exc)) from exc
    except IncompleteDestinationError as exc:
        raise PluginError(f"{ref!r} is not a destination: {exc}") from exc


def _error(loc: tuple[str | int, ...], message: str, value: Any) -> InitErrorDetails:
    return {
        "type": PydanticCustomError("destinations", "{msg}", {"msg": message}),
        "loc": loc,
        "input": value,
    }


def _check_destinations(spec: DestinationsFile) -> tuple[dict[str, Configured], list[InitErrorDetails]]:
    """Load each enabled plugin, validate its config and the routes: ``(enabled, errors)``."""
    enabled: dict[str, Configured] = {}
    errors: list[InitErrorDetails] = []
    for name, dest in spec.destinations.items():
        if not dest.enabled:
            continue
        ref = dest.plugin or name
        at: tuple[str | int, ...] = (
            ("destinations", name, "plugin") if dest.plugin else ("destinations", name)
        )
        try:
            cls = load_plugin(ref)
        except PluginError as exc:
            errors.append(_error(at, str(exc), ref))
            continue
        try:
            config = cls.Config.model_validate(dest.config)
        except ValidationError as exc:
            for e in exc.errors():
                loc = ("destinations", name, "config", *e["loc"])
                if e["type"] in ("extra_forbidden", "missing"):  # keep the type: the key is pointed at
                    errors.append({"type": e["type"], "loc": loc, "input": e["input"]})
                else:
                    errors.append(_error(loc, str(e["msg"]).removeprefix("Value error, "), e["input"]))
            continue
        enabled[name] = Configured(name, cls, config)
    for kind, names in spec.routes.items():
        for i, name in enumerate(names):
            if name not in spec.destinations:
                errors.append(_error(("routes", kind, i), f"destination {name!r} is not declared", name))
            elif not spec.destinations[name].enabled:
                errors.append(_error(("routes", kind, i), f"destination {name!r} is disabled", name))
            elif name in enabled and kind not in enabled[name].cls.kinds:
                accepted = ", ".join(sorted(enabled[name].cls.kinds))
                errors.append(
                    _error(
                        ("routes", kind, i), f"destination {name!r} does not accept {kind} ({accepted})", name
                    )
                )
    return enabled, errors


def check_destinations_text(text: str) -> tuple[Destinations | None, list[YamlIssue]]:
    """Validate destinations YAML (and load its plugins): ``(destinations, [])`` or ``(None, issues)``."""
    kind = "destinations file"
    data, root, issues = parse_yaml(text, kind)
    if root is None:
        return None, issues
    if not isinstance(data, dict):
        line, column = mark(root)
        return None, [*issues, YamlIssue(line, column, "<root>", f"a {kind} must be a YAML mapping")]
    try:
        spec = DestinationsFile.model_validate(data)
    except ValidationError as exc:
        return None, sorted([*issues, *issues_from_validation(exc, root)])
    enabled, errors = _check_destinations(spec)
    if errors:
        rebuilt = ValidationError.from_exception_data("destinations", errors)
        issues.extend(issues_from_validation(rebuilt, root))
    if issues:
        return None, sorted(issues)
    routes: dict[str, tuple[str, ...]] = {
        kind: tuple(n for n in names if n in enabled) for kind, names in spec.routes.items()
    }
    return Destinations(enabled, routes), []


def load_destinations_text(text: str, source: str = "<destinations>") -> Destinations:
    """Load destinations from YAML text.

    Raises:
        DestinationsError: listing every issue as ``source:line:col: path: message``.
    """
    loaded, issues = check_destinations_text(text)
    if loaded is None:
        raise DestinationsError(source, issues)
    return Destinations(loaded.enabled, loaded.routes, source)


def load_destinations(path: Path | None = None) -> Destinations:
    """Load a destinations file, or ``DEFAULT_DESTINATIONS`` when ``path`` is None.

    Raises:
        DestinationsError: the file is not valid (every issue with its line).
        FileNotFoundError: ``path`` does not exist.
    """
    if path is None:
        return load_destinations_text(DEFAULT_DESTINATIONS, "<default destinations>")
    return load_destinations_text(path.read_text(encoding="utf-8"), str(path))


def load_routes(path: Path | None = None) -> dict[str, tuple[str, ...]]:
    """The routing table (action kind -> destination names) of a destinations file, for the planner.

    What the decision transaction passes to ``plan_actions``; loads (imports) the plugins to check them,
    builds none.

    Raises:
        DestinationsError: the file is not valid.
    """
    return load_destinations(path).routes


def destinations_path(settings: Any, cwd: Path | None = None) -> Path | None:
    """The destinations file in force (None: the default, the embedded CRM).

    ``Settings.destinations_file`` (``LEADGATE_DESTINATIONS_FILE``), else the ``destinations:`` of the
    project (``LEADGATE_PROJECT``, or ``leadgate.yaml`` in ``cwd``), else None.

    Raises:
        leadgate.project.ProjectError: the named project does not exist or is invalid.
    """
    if settings.destinations_file is not None:
        return Path(settings.destinations_file)
    from leadgate.project import find_project, read_project

    found = find_project(None, getattr(settings, "project", None), cwd)
    return None if found is None else read_project(found).destinations_path
