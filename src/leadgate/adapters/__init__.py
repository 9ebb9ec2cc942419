"""Built-in destinations (CRM, webhook ...) and the checks every destination plugin passes when loaded.

A destination is a class registered under the entry point group ``leadgate.destinations`` (see
``leadgate.actions.ports.Destination`` and ``docs/adapters.md``). The worker loads one by name with
``load_destination_class`` (which runs ``check_destination_class``: an incomplete plugin fails loudly at
start-up, not at its first delivery) and builds it with ``build_destination`` (which validates the
config and turns pydantic's errors into one readable ``DestinationConfigError``).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, cast, get_args

from pydantic import BaseModel, ValidationError

from leadgate.actions.ports import Destination, DestinationContext
from leadgate.contracts.action import ActionKind
from leadgate.errors import LeadgateError

ENTRY_POINT_GROUP = "leadgate.destinations"
"""The entry point group destination plugins register in (``pyproject.toml``)."""

ACTION_KINDS: frozenset[str] = frozenset(get_args(ActionKind))


class DestinationConfigError(LeadgateError, ValueError):
    """A destination's configuration is invalid or incomplete (a missing secret, an unknown field)."""


class IncompleteDestinationError(LeadgateError, TypeError):
    """A destination class does not implement the ``Destination`` protocol (the message lists what is missing)."""


class UnknownDestinationError(LeadgateError, LookupError):
    """No plugin is registered under that name in ``leadgate.destinations``."""


def check_destination_class(cls: Any) -> type[Destination]:
    """Check that ``cls`` implements the ``Destination`` protocol completely; return it.

    Checked: it is a class; ``name`` is a non-empty string; ``kinds`` is a non-empty set of known
    ``ActionKind`` values; ``Config`` is a pydantic model that forbids unknown fields (a typo in a config
    key must be an error, not a silently ignored setting); ``deliver`` and ``close`` are its own methods
    (not the protocol's placeholders) and ``deliver`` takes one argument; ``__init__`` takes
    ``(config, context)``.

    Args:
        cls: the object an entry point loaded.

    Returns:
        ``cls``, typed as a ``Destination`` class.

    Raises:
        IncompleteDestinationError: naming the class and every problem found.
    """
    label = getattr(cls, "__qualname__", repr(cls))
    if not inspect.isclass(cls):
        raise IncompleteDestinationError(f"destination {label}: not a class")
    problems: list[str] = []
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        problems.append("class attribute `name` (a non-empty str) is missing")
    kinds = getattr(cls, "kinds", None)
    if not isinstance(kinds, frozenset | set) or not kinds:
        problems.append("class attribute `kinds` (a non-empty frozenset of action kinds) is missing")
    elif unknown := sorted(str(k) for k in kinds if k not in ACTION_KINDS):
        problems.append(f"`kinds` has unknown action kinds {unknown} (known: {sorted(ACTION_KINDS)})")
    config = getattr(cls, "Config", None)
    if not (inspect.isclass(config) and issubclass(config, BaseModel)):
        problems.append("class attribute `Config` (a pydantic BaseModel subclass) is missing")
    elif config.model_config.get("extra") != "forbid":
        problems.append('`Config` must forbid unknown fields (model_config = ConfigDict(extra="forbid"))')
    for method, arity in (("deliver", 1), ("close", 0)):
        func = getattr(cls, method, None)
        if func is None or not callable(func) or func is getattr(Destination, method, None):
            problems.append(f"method `{method}` is not implemented")
            continue
        params = [p for p in inspect.signature(func).parameters.values() if p.name != "self"]
        required = [p for p in params if p.default is inspect.Parameter.empty]
        if len(required) != arity:
            problems.append(
                f"method `{method}` must take {arity} argument(s), takes {[p.name for p in params]}"
            )
    init_params = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"]
    positional = [p for p in init_params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2 and not any(p.kind is p.VAR_POSITIONAL for p in init_params):
        problems.append("`__init__` must take (config, context)")
    if problems:
        raise IncompleteDestinationError(f"destination {label} is incomplete: " + "; ".join(problems))
    return cast("type[Destination]", cls)


def load_destination_class(name: str) -> type[Destination]:
    """Load and check the destination plugin registered as ``name`` in ``leadgate.destinations``.

    Raises:
        UnknownDestinationError: no such entry point (the message lists the registered names).
        IncompleteDestinationError: the plugin cannot be imported, or fails ``check_destination_class``.
    """
    found = entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not found:
        known = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
        raise UnknownDestinationError(f"no destination named {name!r} (registered: {', '.join(known)})")
    return load_entry_point(next(iter(found)))


def load_entry_point(entry: EntryPoint) -> type[Destination]:
    """Import the class an entry point names and check it.

    Raises:
        IncompleteDestinationError: the module or class cannot be imported, or fails the check.
    """
    try:
        cls = entry.load()
    except (ImportError, AttributeError) as exc:
        raise IncompleteDestinationError(
            f"destination {entry.name!r} ({entry.value}) cannot be loaded: {exc}"
        ) from exc
    return check_destination_class(cls)


def validate_config(cls: type[Destination], raw: Mapping[str, Any]) -> BaseModel:
    """Validate a raw config mapping against ``cls.Config``.

    Raises:
        DestinationConfigError: one line per invalid field (``<name>.<field>: <problem>``).
    """
    try:
        return cls.Config.model_validate(dict(raw))
    except ValidationError as exc:
        lines = [
            f"{cls.name}.{'.'.join(str(p) for p in err['loc']) or '(config)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise DestinationConfigError(
            f"invalid config of destination {cls.name!r}: " + "; ".join(lines)
        ) from exc


def build_destination(
    cls_or_name: type[Destination] | str, raw_config: Mapping[str, Any], context: DestinationContext
) -> Destination:
    """Load (when given a name), check, configure and build one destination: ``cls(config, context)``.

    Raises:
        UnknownDestinationError, IncompleteDestinationError: as ``load_destination_class``.
        DestinationConfigError: the config is invalid, or a secret it names is not set.
    """
    cls = (
        load_destination_class(cls_or_name)
        if isinstance(cls_or_name, str)
        else check_destination_class(cls_or_name)
    )
    config = validate_config(cls, raw_config)
    return cls(config, context)  # type: ignore[call-arg]
