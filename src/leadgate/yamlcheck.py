"""Read a YAML file into a pydantic model and report every problem with the line and column it is on.

Shared by the policy, calendars and flow loaders, so that an issue has one shape everywhere:
``file:line:col: path: message``.

PyYAML keeps a start mark (line, column) on every node of the composed tree. Each pydantic error
location (``tiers.warm``) is walked down that tree to the node it names: the value for a wrong value,
the key for an unknown key, and the enclosing mapping for a missing key. Duplicate keys, which PyYAML
silently accepts (the last one wins), are found on the same tree and reported too.

Public interface:

* :class:`YamlIssue`: one problem (``line``, ``column``, ``path``, ``message``).
* :class:`YamlError`: base of the loaders' errors (``PolicyError``, ``CalendarError``, ``FlowError``).
* :func:`check_yaml`: text -> ``(model or None, issues)``; what each loader's ``check_*_text`` runs.
* :func:`parse_yaml`, :func:`issues_from_validation`, :func:`mark`: the steps it is made of.
* :data:`UNION_TAG_PREFIX`: the prefix of discriminated-union tags, skipped in error paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from leadgate.errors import LeadgateError

__all__ = [
    "ROOT",
    "UNION_TAG_PREFIX",
    "YamlError",
    "YamlIssue",
    "check_yaml",
    "issues_from_validation",
    "mark",
    "parse_yaml",
]

UNION_TAG_PREFIX = "union:"
"""Prefix of the tags of discriminated unions (``Tag(f"{UNION_TAG_PREFIX}field")``).

Pydantic puts a union's tag in the location of every error inside it (``when.union:field.op``); the
locator skips the parts that start with this prefix, so the path names only what the YAML holds
(``when.op``). Every union of a model read through this module must use it.
"""

ROOT = "<root>"
"""The path of an issue about the document as a whole."""

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True, order=True)
class YamlIssue:
    """One problem in a YAML file; instances sort by position.

    Attributes:
        line: 1-based line number.
        column: 1-based column number.
        path: dotted location in the document (``tiers.warm``, ``disqualification.0.when.op``), or
            ``<root>`` for the document itself.
        message: what is wrong, in plain words.

    """

    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.path}: {self.message}"


class YamlError(LeadgateError, ValueError):
    """A YAML file is not valid; the loaders raise subclasses of it.

    ``str()`` lists one ``source:line:col: path: message`` line per issue.

    Attributes:
        source: the file name (or the label given to the ``load_*_text`` function).
        issues: every issue found, ordered by position.

    """

    def __init__(self, source: str, issues: list[YamlIssue]) -> None:
        self.source = source
        self.issues = issues
        super().__init__("\n".join(f"{source}:{issue}" for issue in issues))


def mark(node: Node) -> tuple[int, int]:
    """Return where a node starts.

    Args:
        node: a node of a tree composed by PyYAML.

    Returns:
        ``(line, column)``, both 1-based.

    """
    return node.start_mark.line + 1, node.start_mark.column + 1


def _duplicate_keys(node: Node, path: tuple[str, ...]) -> list[YamlIssue]:
    issues: list[YamlIssue] = []
    if isinstance(node, MappingNode):
        seen: dict[str, Node] = {}
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if key.value in seen:
                    first_line, _ = mark(seen[key.value])
                    line, column = mark(key)
                    issues.append(
                        YamlIssue(
                            line,
                            column,
                            ".".join((*path, key.value)),
                            f"duplicate key {key.value!r} (first given on line {first_line})",
                        )
                    )
                seen[key.value] = key
            issues.extend(_duplicate_keys(value, (*path, key.value if isinstance(key, ScalarNode) else "?")))
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            issues.extend(_duplicate_keys(item, (*path, str(index))))
    return issues


def parse_yaml(text: str, kind: str) -> tuple[Any, Node | None, list[YamlIssue]]:
    """Parse YAML text with the safe loader, keeping the node tree for error positions.

    Args:
        text: the YAML (one document).
        kind: what the file is, for the messages (``"policy file"``, ``"calendars file"``,
            ``"flow file"``): an empty document gives ``the <kind> is empty``.

    Returns:
        ``(data, root, issues)``: ``data`` is what ``yaml.safe_load`` would return and ``root`` the
        composed node tree; ``issues`` lists duplicate keys. When the text is empty (blank or only
        comments) or not valid YAML, ``data`` and ``root`` are None and ``issues`` holds the one issue.

    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None, [YamlIssue(1, 1, ROOT, f"the {kind} is empty")]
        issues = _duplicate_keys(node, ())
        return loader.construct_document(node), node, issues
    except yaml.MarkedYAMLError as exc:
        where = exc.problem_mark or exc.context_mark
        line, column = (where.line + 1, where.column + 1) if where is not None else (1, 1)
        detail = "; ".join(str(part) for part in (exc.context, exc.problem) if part)
        return None, None, [YamlIssue(line, column, ROOT, f"YAML syntax error: {detail or exc}")]
    except yaml.YAMLError as exc:
        return None, None, [YamlIssue(1, 1, ROOT, f"YAML error: {exc}")]
    finally:
        loader.dispose()


def _locate(root: Node, loc: tuple[int | str, ...], on_key: bool) -> tuple[Node, str]:
    """Walk an error location down the node tree.

    Returns the node to point at and the dotted path. Union tags in ``loc`` are skipped; the walk
    stops at the last node that exists (the enclosing mapping for a missing key).
    """
    node = root
    parts: list[str] = []
    stopped = False
    for index, part in enumerate(loc):
        if isinstance(part, str) and part.startswith(UNION_TAG_PREFIX):
            continue
        if stopped:
            parts.append(str(part))
            continue
        if isinstance(node, MappingNode):
            found = None
            for key, value in node.value:  # the last duplicate wins, as in PyYAML
                if isinstance(key, ScalarNode) and key.value == str(part):
                    found = (key, value)
            if found is not None:
                parts.append(str(part))
                node = found[0] if on_key and index == len(loc) - 1 else found[1]
                continue
        elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            parts.append(str(part))
            node = node.value[part]
            continue
        parts.append(str(part))
        stopped = True
    return node, ".".join(parts) or ROOT


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    last = error["loc"][-1] if error["loc"] else None
    if kind == "extra_forbidden":
        return f"unknown key {last!r}"
    if kind == "missing":
        return f"missing required key {last!r}"
    if kind == "model_type":
        return f"expected a mapping, got {type(error['input']).__name__}"
    message = error["msg"]
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    return message


def issues_from_validation(exc: ValidationError, root: Node) -> list[YamlIssue]:
    """Turn pydantic errors into issues at the YAML nodes they name.

    An unknown key points at the key, a wrong value at the value, a missing key at the enclosing
    mapping. Messages are pydantic's, except ``unknown key 'x'``, ``missing required key 'x'`` and
    ``expected a mapping, got <type>``; the ``Value error, `` prefix is dropped.

    Args:
        exc: the error raised by ``Model.model_validate(data)``.
        root: the node tree ``data`` was constructed from (see :func:`parse_yaml`).

    Returns:
        One issue per pydantic error, in pydantic's order.

    """
    issues = []
    for error in exc.errors():
        node, path = _locate(root, tuple(error["loc"]), on_key=error["type"] == "extra_forbidden")
        line, column = mark(node)
        issues.append(YamlIssue(line, column, path, _message(error)))
    return issues


def check_yaml(text: str, model: type[ModelT], kind: str) -> tuple[ModelT | None, list[YamlIssue]]:
    """Parse YAML text and validate it as a model, collecting every issue.

    Args:
        text: the YAML (one document, a mapping).
        model: the pydantic model the document must validate as.
        kind: what the file is, for the messages (``"policy file"``): ``the <kind> is empty``,
            ``a <kind> must be a YAML mapping``.

    Returns:
        ``(instance, [])`` when valid; ``(None, issues)`` otherwise, ordered by line and column (YAML
        syntax, duplicate keys, and every validation error of ``model``).

    """
    data, root, issues = parse_yaml(text, kind)
    if root is None:
        return None, issues
    if not isinstance(data, dict):
        line, column = mark(root)
        return None, [*issues, YamlIssue(line, column, ROOT, f"a {kind} must be a YAML mapping")]
    instance: ModelT | None = None
    try:
        instance = model.model_validate(data)
    except ValidationError as exc:
        issues.extend(issues_from_validation(exc, root))
    issues.sort()
    return (instance if not issues else None), issues


REF_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
"""A ``name`` or ``version`` of a versioned file (``name@version``): letters, digits, '.', '_' and '-'."""


def check_ref_name(value: str, kind: str) -> str:
    """Return ``value`` if it may be the ``name`` of a versioned file, else raise.

    Raises:
        PydanticCustomError: (error type ``kind``) the name holds other characters.
    """
    if not REF_PART.match(value):
        raise PydanticCustomError(kind, "name may hold only letters, digits, '.', '_' and '-'")
    return value


def check_ref_version(value: Any, kind: str) -> str | int:
    """Return ``value`` if it may be the ``version`` of a versioned file: a whole number >= 0 or a string.

    Raises:
        PydanticCustomError: (error type ``kind``) anything else (booleans, negative numbers, floats).
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and len(value) <= 64 and REF_PART.match(value):
        return value
    raise PydanticCustomError(
        kind, "version must be a whole number >= 0 or a string of letters, digits, '.', '_' and '-'"
    )
