"""The shared YAML checker: issues point at the right line and column, for every kind of file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Discriminator, Tag, ValidationError

from leadgate.chat.booking import CalendarError, check_calendars_text, load_calendars_text
from leadgate.chat.booking.loader import CalendarIssue
from leadgate.chat.flows.loader import FlowError, FlowIssue, check_flow_text, load_flow_text
from leadgate.policy import PolicyError, PolicyIssue, check_policy_text, load_policy_text
from leadgate.yamlcheck import (
    UNION_TAG_PREFIX,
    YamlError,
    YamlIssue,
    check_yaml,
    issues_from_validation,
    mark,
    parse_yaml,
)

_STRICT = ConfigDict(extra="forbid", strict=True)


class Cat(BaseModel):
    model_config = _STRICT
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    model_config = _STRICT
    kind: Literal["dog"]
    good: bool


Pet = Annotated[
    Annotated[Cat, Tag(f"{UNION_TAG_PREFIX}cat")] | Annotated[Dog, Tag(f"{UNION_TAG_PREFIX}dog")],
    Discriminator(lambda v: f"{UNION_TAG_PREFIX}{v.get('kind')}" if isinstance(v, dict) else None),
]


class Owner(BaseModel):
    model_config = _STRICT
    name: str
    pets: list[Pet]


class House(BaseModel):
    model_config = _STRICT
    street: str
    owners: list[Owner]


HOUSE = """\
street: Main
owners:
  - name: Ada
    pets:
      - {kind: dog, good: true}
      - kind: cat
        lives: nine
"""


def test_a_valid_document_gives_the_model_and_no_issue() -> None:
    house, issues = check_yaml(HOUSE.replace("nine", "9"), House, "house file")
    assert issues == []
    assert (
        house is not None and isinstance(house.owners[0].pets[1], Cat) and house.owners[0].pets[1].lives == 9
    )


def test_a_nested_wrong_value_points_at_the_value_and_skips_the_union_tag() -> None:
    house, issues = check_yaml(HOUSE, House, "house file")
    assert house is None
    assert issues == [YamlIssue(7, 16, "owners.0.pets.1.lives", "Input should be a valid integer")]
    assert str(issues[0]) == "7:16: owners.0.pets.1.lives: Input should be a valid integer"


def test_unknown_key_points_at_the_key_and_missing_key_at_its_mapping() -> None:
    text = HOUSE.replace("nine", "9").replace("{kind: dog, good: true}", "{kind: dog, bad: true}")
    _, issues = check_yaml(text, House, "house file")
    assert issues == [
        YamlIssue(5, 9, "owners.0.pets.0.good", "missing required key 'good'"),
        YamlIssue(5, 21, "owners.0.pets.0.bad", "unknown key 'bad'"),
    ]


def test_a_path_past_the_document_is_kept_whole() -> None:
    _, issues = check_yaml("street: Main\n", House, "house file")
    assert issues == [YamlIssue(1, 1, "owners", "missing required key 'owners'")]


def test_duplicate_keys_are_reported_at_the_second_one() -> None:
    _, issues = check_yaml(HOUSE.replace("nine", "9") + "street: Side\n", House, "house file")
    assert issues == [YamlIssue(8, 1, "street", "duplicate key 'street' (first given on line 1)")]


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n"])
@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("policy file", check_policy_text),
        ("calendars file", lambda text: check_calendars_text(text)[1]),
        ("flow file", check_flow_text),
    ],
)
def test_an_empty_file_names_its_kind(text: str, kind: str, check: Callable[[str], list[YamlIssue]]) -> None:
    assert check(text) == [YamlIssue(1, 1, "<root>", f"the {kind} is empty")]


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("policy file", check_policy_text),
        ("calendars file", lambda text: check_calendars_text(text)[1]),
        ("flow file", check_flow_text),
    ],
)
def test_a_document_that_is_not_a_mapping_names_its_kind(
    kind: str, check: Callable[[str], list[YamlIssue]]
) -> None:
    assert check("\n- a\n- b\n") == [YamlIssue(2, 1, "<root>", f"a {kind} must be a YAML mapping")]


def test_a_yaml_syntax_error_gives_the_position_of_the_problem() -> None:
    data, root, issues = parse_yaml("street: Main\nowners: [a, b\n", "house file")
    assert data is None and root is None
    assert issues == [
        YamlIssue(
            3,
            1,
            "<root>",
            "YAML syntax error: while parsing a flow sequence; expected ',' or ']', but got '<stream end>'",
        )
    ]
    _, _, issues = parse_yaml("a: 1\n  b: 2\n", "house file")
    assert issues == [YamlIssue(2, 4, "<root>", "YAML syntax error: mapping values are not allowed here")]


def test_unsafe_tags_are_refused_as_errors() -> None:
    _, _, issues = parse_yaml("x: !!python/object/apply:os.system [echo hi]\n", "house file")
    assert len(issues) == 1 and issues[0].message.startswith(
        "YAML syntax error: could not determine a constructor"
    )


def test_parse_yaml_returns_the_data_and_the_node_tree() -> None:
    data, root, issues = parse_yaml("a:\n  b: [1, 2]\n", "house file")
    assert data == {"a": {"b": [1, 2]}} and issues == []
    assert root is not None and mark(root) == (1, 1)
    inner = root.value[0][1]  # the value of ``a``
    assert mark(inner) == (2, 3)


def test_issues_from_validation_can_be_used_on_its_own() -> None:
    data, root, _ = parse_yaml("street: 5\nowners: []\n", "house file")
    assert root is not None
    with pytest.raises(ValidationError) as caught:
        House.model_validate(data)
    assert issues_from_validation(caught.value, root) == [
        YamlIssue(1, 9, "street", "Input should be a valid string")
    ]


def test_issues_sort_by_position() -> None:
    issues = [YamlIssue(3, 1, "b", "x"), YamlIssue(1, 5, "a", "y"), YamlIssue(1, 2, "c", "z")]
    assert [(i.line, i.column) for i in sorted(issues)] == [(1, 2), (1, 5), (3, 1)]


def test_the_loaders_share_the_issue_type() -> None:
    assert PolicyIssue is YamlIssue and CalendarIssue is YamlIssue and FlowIssue is YamlIssue


@pytest.mark.parametrize(
    ("load", "error"),
    [(load_policy_text, PolicyError), (load_calendars_text, CalendarError), (load_flow_text, FlowError)],
)
def test_the_loaders_errors_are_yaml_errors(load: Callable[..., Any], error: type[YamlError]) -> None:
    with pytest.raises(error) as caught:
        load("- a\n", source="bad.yaml")
    assert isinstance(caught.value, YamlError) and isinstance(caught.value, ValueError)
    assert caught.value.source == "bad.yaml" and len(caught.value.issues) == 1
    assert str(caught.value).startswith("bad.yaml:1:1: <root>: a ") and str(caught.value).endswith(
        " must be a YAML mapping"
    )


def test_yaml_error_lists_one_line_per_issue() -> None:
    error = YamlError("f.yaml", [YamlIssue(1, 1, "a", "one"), YamlIssue(2, 3, "b", "two")])
    assert str(error) == "f.yaml:1:1: a: one\nf.yaml:2:3: b: two"
