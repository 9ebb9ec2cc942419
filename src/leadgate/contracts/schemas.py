"""JSON Schema export of the published contracts and the compatibility rules they must keep.

A published schema (``schemas/<name>.json``) may only change in ways that keep every document it
accepted valid (backward compatibility for readers of stored data and API clients): no property removed,
no new required property, no type, enum or const narrowed, no bound, length or pattern tightened.
``incompatibilities(published, current)`` lists the violations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from leadgate.contracts.decision import Decision, Score
from leadgate.contracts.lead import Lead, RawLead

CONTRACTS: dict[str, type[BaseModel]] = {
    "raw_lead.v1": RawLead,
    "lead.v1": Lead,
    "score.v1": Score,
    "decision.v1": Decision,
}
"""Published contract name -> model. A new major version gets a new name (``lead.v2``)."""


def schema_of(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12, validation mode) of contract ``name``. Raises ``KeyError``."""
    return CONTRACTS[name].model_json_schema(mode="validation")


def export_schemas(directory: Path) -> list[Path]:
    """Write ``<name>.json`` for every contract into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in CONTRACTS:
        path = directory / f"{name}.json"
        path.write_bytes(
            orjson.dumps(schema_of(name), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        )
        written.append(path)
    return written


def _types(node: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    node = _deref(node, defs)
    if "anyOf" in node:
        out: set[str] = set()
        for sub in node["anyOf"]:
            out |= _types(sub, defs)
        return out
    t = node.get("type")
    if t is None:
        return {"$ref:" + node.get("title", "?")} if "properties" in node else {"any"}
    return set(t) if isinstance(t, list) else {t}


def _deref(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _compare(
    path: str,
    old: dict[str, Any],
    new: dict[str, Any],
    odefs: dict[str, Any],
    ndefs: dict[str, Any],
    out: list[str],
) -> None:
    old, new = _deref(old, odefs), _deref(new, ndefs)
    old_types, new_types = _types(old, odefs), _types(new, ndefs)
    if "any" not in new_types and not old_types <= new_types:
        out.append(f"{path}: type narrowed from {sorted(old_types)} to {sorted(new_types)}")
    if "enum" in new:
        removed = set(map(str, old.get("enum", []))) - set(map(str, new["enum"]))
        if "enum" not in old or removed:
            out.append(f"{path}: enum narrowed (removed {sorted(removed) or 'unrestricted values'})")
    if "const" in new and new.get("const") != old.get("const"):
        out.append(f"{path}: const changed from {old.get('const')!r} to {new['const']!r}")
    for key, tighter in (("maxLength", "lt"), ("maximum", "lt"), ("minLength", "gt"), ("minimum", "gt")):
        if key in new and (
            key not in old or (new[key] < old[key] if tighter == "lt" else new[key] > old[key])
        ):
            out.append(f"{path}: {key} tightened from {old.get(key)!r} to {new[key]!r}")
    if "pattern" in new and new["pattern"] != old.get("pattern"):
        out.append(f"{path}: pattern changed from {old.get('pattern')!r} to {new['pattern']!r}")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for prop, sub in old_props.items():
        if prop not in new_props:
            if new.get("additionalProperties") is False:
                out.append(f"{path}.{prop}: property removed")
            continue
        _compare(f"{path}.{prop}", sub, new_props[prop], odefs, ndefs, out)
    added_required = set(new.get("required", [])) - set(old.get("required", []))
    for prop in sorted(added_required):
        out.append(f"{path}.{prop}: became required")
    if "items" in old and "items" in new:
        _compare(f"{path}[]", old["items"], new["items"], odefs, ndefs, out)
    if isinstance(old.get("additionalProperties"), dict) and isinstance(
        new.get("additionalProperties"), dict
    ):
        _compare(f"{path}.*", old["additionalProperties"], new["additionalProperties"], odefs, ndefs, out)
    if old.get("additionalProperties", True) is not False and new.get("additionalProperties") is False:
        out.append(f"{path}: additional properties no longer allowed")
    if "anyOf" in old and "anyOf" in new:
        # Union members may be reordered: each old member must be accepted by some new member.
        for i, o in enumerate(old["anyOf"]):
            candidates = [n for n in new["anyOf"] if _types(o, odefs) <= _types(n, ndefs)]
            results: list[list[str]] = []
            for n in candidates:
                found: list[str] = []
                _compare(f"{path}|{i}", o, n, odefs, ndefs, found)
                results.append(found)
            if not candidates:
                out.append(f"{path}|{i}: union member {sorted(_types(o, odefs))} removed")
            elif all(results):
                out.extend(sorted(results, key=lambda r: len(r))[0])


def incompatibilities(published: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Changes from ``published`` to ``current`` that could reject a document ``published`` accepted.

    Returns:
        One plain-words line per violation (``$.attributes: type narrowed ...``); empty when compatible.
    """
    out: list[str] = []
    _compare("$", published, current, published.get("$defs", {}), current.get("$defs", {}), out)
    return out
