"""Read policy YAML and report every problem with the line and column it is on.

PyYAML keeps a start mark (line, column) on every node of the composed tree. Each pydantic error
location (``tiers.warm``) is walked down that tree to the node it names: the value for a wrong value,
the key for an unknown key, and the enclosing mapping for a missing key. Duplicate keys, which PyYAML
silently accepts (the last one wins), are found on the same tree and reported too.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from leadgate.policy.conditions import TAG_PREFIX
from leadgate.policy.model import Policy

DEFAULT_POLICY_RESOURCE = "defaults/policy.yaml"
"""The default policy shipped in the package (a copy of ``examples/xeducation/policy.yaml``)."""


@dataclass(frozen=True, order=True)
class PolicyIssue:
    """One problem in a policy file.

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


class PolicyError(ValueError):
    """A policy file is not valid.

    ``str()`` lists one ``file:line:col: path: message`` line per issue.

    Attributes:
        source: the file name (or the label given to ``load_policy_text``).
        issues: every issue found, ordered by position.

    """

    def __init__(self, source: str, issues: list[PolicyIssue]) -> None:
        self.source = source
        self.issues = issues
        super().__init__("\n".join(f"{source}:{issue}" for issue in issues))


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _duplicate_keys(node: Node, path: tuple[str, ...]) -> list[PolicyIssue]:
    issues: list[PolicyIssue] = []
    if isinstance(node, MappingNode):
        seen: dict[str, Node] = {}
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if key.value in seen:
                    first_line, _ = _mark(seen[key.value])
                    line, column = _mark(key)
                    issues.append(
                        PolicyIssue(
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


def _parse(text: str) -> tuple[Any, Node | None, list[PolicyIssue]]:
    """YAML text -> (data, node tree, issues); data is what ``yaml.safe_load`` would return."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None, [PolicyIssue(1, 1, "<root>", "the policy file is empty")]
        issues = _duplicate_keys(node, ())
        return loader.construct_document(node), node, issues
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        detail = "; ".join(str(part) for part in (exc.context, exc.problem) if part)
        return None, None, [PolicyIssue(line, column, "<root>", f"YAML syntax error: {detail or exc}")]
    except yaml.YAMLError as exc:
        return None, None, [PolicyIssue(1, 1, "<root>", f"YAML error: {exc}")]
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
        if isinstance(part, str) and part.startswith(TAG_PREFIX):
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
    return node, ".".join(parts) or "<root>"


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


def _issues_from_validation(exc: ValidationError, root: Node) -> list[PolicyIssue]:
    issues = []
    for error in exc.errors():
        node, path = _locate(root, tuple(error["loc"]), on_key=error["type"] == "extra_forbidden")
        line, column = _mark(node)
        issues.append(PolicyIssue(line, column, path, _message(error)))
    return issues


def _check_text(text: str) -> tuple[Policy | None, list[PolicyIssue]]:
    data, root, issues = _parse(text)
    if root is None:
        return None, issues
    if not isinstance(data, dict):
        line, column = _mark(root)
        return None, [*issues, PolicyIssue(line, column, "<root>", "a policy file must be a YAML mapping")]
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        issues.extend(_issues_from_validation(exc, root))
        policy = None
    issues.sort()
    return (policy if not issues else None), issues


def check_policy_text(text: str) -> list[PolicyIssue]:
    """Check policy YAML given as text.

    Returns:
        Every issue found, ordered by line and column; an empty list when the policy is valid.

    """
    return _check_text(text)[1]


def check_policy_file(path: str | Path) -> list[PolicyIssue]:
    """Check a policy file and list its problems (for ``leadgate policy check`` and editors).

    Returns:
        Every issue found (YAML syntax, duplicate keys, unknown keys, wrong types, unordered thresholds,
        unknown actions or ops, duplicate rule ids...), ordered by line and column; empty when valid.

    Raises:
        FileNotFoundError: if the file does not exist.

    """
    return check_policy_text(Path(path).read_text(encoding="utf-8"))


def load_policy_text(text: str, source: str = "<policy>") -> Policy:
    """Load a policy from YAML text (e.g. a policy version stored in the registry).

    Args:
        text: the YAML.
        source: the name used in error messages.

    Raises:
        PolicyError: listing every issue as ``source:line:col: path: message``.

    """
    policy, issues = _check_text(text)
    if policy is None:
        raise PolicyError(source, issues)
    return policy


def load_policy(path: str | Path) -> Policy:
    """Load and validate a policy file; its engine is compiled once here.

    Raises:
        FileNotFoundError: if the file does not exist.
        PolicyError: listing every issue as ``file:line:col: path: message``.

    """
    path = Path(path)
    return load_policy_text(path.read_text(encoding="utf-8"), source=str(path))


def default_policy_text() -> str:
    """Return the YAML of the default policy shipped in the package (``leadgate/defaults/policy.yaml``)."""
    return resources.files("leadgate").joinpath(DEFAULT_POLICY_RESOURCE).read_text(encoding="utf-8")


def load_default_policy() -> Policy:
    """Load the default policy shipped in the package.

    Raises:
        PolicyError: if the shipped file is broken (a packaging bug).

    """
    return load_policy_text(default_policy_text(), source=f"leadgate/{DEFAULT_POLICY_RESOURCE}")
