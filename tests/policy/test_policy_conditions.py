"""The condition language: every op, value coercion, combinators, field kinds."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from leadgate.policy.conditions import Condition, FieldCondition, compile_condition, fields_read

SCORE = (0.5, 0.9, 42.0, "model")
_CONDITION: TypeAdapter[Any] = TypeAdapter(Condition)


def holds(cond: dict[str, Any], attrs: dict[str, Any], fields: dict[str, Any] | None = None) -> bool:
    pred = compile_condition(_CONDITION.validate_python(cond))
    return pred(attrs, fields or {}, SCORE)


def attr(op: str, value: Any = None, *, name: str = "x") -> dict[str, Any]:
    cond: dict[str, Any] = {"field": f"attributes.{name}", "op": op}
    if op not in ("missing", "present"):
        cond["value"] = value
    return cond


@pytest.mark.parametrize(
    ("lead_value", "expected"),
    [
        (True, True),
        ("true", True),
        ("True", True),
        ("yes", True),
        (" Yes ", True),
        ("1", True),
        (1, True),
        (False, False),
        ("false", False),
        ("no", False),
        (0, False),
        (None, False),
        ("maybe", False),
        (2, False),
    ],
)
def test_eq_true_reads_booleans_and_boolean_strings(lead_value: Any, expected: bool) -> None:
    assert holds(attr("eq", True), {"x": lead_value}) is expected


@pytest.mark.parametrize(
    ("lead_value", "expected"), [(False, True), ("false", True), ("No", True), (0, True), (None, False)]
)
def test_eq_false(lead_value: Any, expected: bool) -> None:
    assert holds(attr("eq", False), {"x": lead_value}) is expected


def test_eq_number_reads_numbers_and_numeric_strings() -> None:
    assert holds(attr("eq", 3), {"x": 3})
    assert holds(attr("eq", 3), {"x": 3.0})
    assert holds(attr("eq", 3), {"x": " 3 "})
    assert holds(attr("eq", 1), {"x": True})
    assert not holds(attr("eq", 3), {"x": "three"})
    assert not holds(attr("eq", 3), {"x": 3.5})
    assert not holds(attr("eq", 3), {})


def test_eq_string_is_exact() -> None:
    assert holds(attr("eq", "Student"), {"x": "Student"})
    assert not holds(attr("eq", "Student"), {"x": "student"})
    assert not holds(attr("eq", "Student"), {"x": None})
    assert holds(attr("eq", "true"), {"x": True})
    assert holds(attr("eq", "5"), {"x": 5})


def test_ne_is_not_eq_so_missing_is_not_equal() -> None:
    assert holds(attr("ne", "India"), {"x": "Qatar"})
    assert not holds(attr("ne", "India"), {"x": "India"})
    assert holds(attr("ne", "India"), {})
    assert holds(attr("ne", True), {"x": "maybe"})


def test_in_and_not_in_with_mixed_list() -> None:
    cond = attr("in", ["Student", 7, True])
    assert holds(cond, {"x": "Student"})
    assert holds(cond, {"x": "7"})
    assert holds(cond, {"x": 7.0})
    assert holds(cond, {"x": "yes"})
    assert not holds(cond, {"x": "Teacher"})
    assert not holds(cond, {"x": None})
    assert not holds(cond, {})
    assert holds(attr("not_in", ["Student", 7]), {"x": "Teacher"})
    assert not holds(attr("not_in", ["Student", 7]), {"x": "Student"})
    assert holds(attr("not_in", ["Student"]), {})


@pytest.mark.parametrize(
    ("op", "value", "lead_value", "expected"),
    [
        ("gte", 5, 5, True),
        ("gte", 5, 4.99, False),
        ("gt", 5, 5, False),
        ("gt", 5, 5.01, True),
        ("lte", 5, 5, True),
        ("lte", 5, 5.01, False),
        ("lt", 5, 5, False),
        ("lt", 5, 4, True),
        ("gte", 5, "6", True),
        ("gte", 0.5, " 0.75 ", True),
        ("gte", 5, "six", False),
        ("gte", 5, None, False),
        ("lt", 5, None, False),
        ("lt", 5, "", False),
    ],
)
def test_ordering_ops(op: str, value: float, lead_value: Any, expected: bool) -> None:
    assert holds(attr(op, value), {"x": lead_value}) is expected


def test_ordering_ops_on_absent_values_never_match() -> None:
    for op in ("gte", "gt", "lte", "lt"):
        assert not holds(attr(op, 0), {})


def test_matches_is_a_search_on_the_text() -> None:
    assert holds(attr("matches", r"@example\.com$"), {"x": "a@example.com"})
    assert not holds(attr("matches", r"@example\.com$"), {"x": "a@example.com.au"})
    assert holds(attr("matches", "olark"), {"x": "via olark chat"})
    assert not holds(attr("matches", "^olark"), {"x": "via olark chat"})
    assert holds(attr("matches", "(?i)^GOOGLE$"), {"x": "google"})
    assert holds(attr("matches", "^12"), {"x": 123})
    assert not holds(attr("matches", ".*"), {"x": None})
    assert not holds(attr("matches", ".*"), {})


@pytest.mark.parametrize(
    ("attrs", "missing"),
    [
        ({}, True),
        ({"x": None}, True),
        ({"x": ""}, True),
        ({"x": "  "}, True),
        ({"x": 0}, False),
        ({"x": False}, False),
    ],
)
def test_missing_and_present(attrs: dict[str, Any], missing: bool) -> None:
    assert holds(attr("missing"), attrs) is missing
    assert holds(attr("present"), attrs) is not missing


def test_all_any_not() -> None:
    a = attr("eq", True, name="a")
    b = attr("eq", True, name="b")
    assert holds({"all": [a, b]}, {"a": True, "b": True})
    assert not holds({"all": [a, b]}, {"a": True, "b": False})
    assert holds({"any": [a, b]}, {"a": False, "b": True})
    assert not holds({"any": [a, b]}, {"a": False})
    assert holds({"not": a}, {"a": False})
    assert not holds({"not": a}, {"a": True})
    nested = {"all": [{"any": [a, b]}, {"not": attr("eq", "Student", name="occupation")}]}
    assert holds(nested, {"b": "yes", "occupation": "Working Professional"})
    assert not holds(nested, {"b": "yes", "occupation": "Student"})


def test_all_stops_at_the_first_miss_and_any_at_the_first_hit() -> None:
    calls: list[str] = []

    class Spy(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            calls.append(key)
            return super().get(key, default)

    assert not holds({"all": [attr("eq", True, name="a"), attr("eq", True, name="b")]}, Spy(a=False))
    assert calls == ["a"]
    calls.clear()
    assert holds({"any": [attr("eq", True, name="a"), attr("eq", True, name="b")]}, Spy(a=True))
    assert calls == ["a"]


def test_lead_fields_and_score_fields() -> None:
    assert holds(
        {"field": "email", "op": "matches", "value": "@example.org$"}, {}, {"email": "x@example.org"}
    )
    assert holds(
        {"field": "country", "op": "eq", "value": "India"}, {"country": "Qatar"}, {"country": "India"}
    )
    assert holds({"field": "score.fit_score", "op": "gte", "value": 40}, {})
    assert not holds({"field": "score.fit_score", "op": "gt", "value": 42}, {})
    assert holds({"field": "score.scorer", "op": "eq", "value": "model"}, {})
    assert holds({"field": "score.scorer", "op": "in", "value": ["model", "rule_fallback"]}, {})
    assert holds({"field": "score.probability", "op": "lt", "value": 0.6}, {})


def test_attribute_named_like_a_lead_field_reads_the_attribute() -> None:
    cond = {"field": "attributes.country", "op": "eq", "value": "India"}
    assert holds(cond, {"country": "India"}, {"country": "Qatar"})
    assert not holds(cond, {"country": "Qatar"}, {"country": "India"})


def test_fields_read() -> None:
    cond = _CONDITION.validate_python(
        {"all": [attr("eq", True, name="a"), {"not": {"field": "email", "op": "present"}}]}
    )
    assert fields_read(cond) == {"attributes.a", "email"}


@pytest.mark.parametrize(
    "cond",
    [
        {"field": "attributes.", "op": "present"},
        {"field": "post_decision.tags", "op": "present"},
        {"field": "outcome", "op": "present"},
        {"field": "nickname", "op": "present"},
        {"field": "attributes.x", "op": "eq"},
        {"field": "attributes.x", "op": "eq", "value": None},
        {"field": "attributes.x", "op": "eq", "value": [1]},
        {"field": "attributes.x", "op": "eq", "value": float("nan")},
        {"field": "attributes.x", "op": "gte", "value": True},
        {"field": "attributes.x", "op": "gte", "value": float("inf")},
        {"field": "attributes.x", "op": "matches", "value": 3},
        {"field": "attributes.x", "op": "matches", "value": "("},
        {"field": "attributes.x", "op": "in", "value": "abc"},
        {"field": "attributes.x", "op": "present", "value": 1},
        {"field": "attributes.x", "op": "like", "value": 1},
        {"field": "score.fit_score", "op": "present"},
        {"field": "score.fit_score", "op": "eq", "value": "high"},
        {"field": "score.scorer", "op": "gte", "value": 1},
        {"field": "score.scorer", "op": "in", "value": ["model", "ml"]},
        {"field": "attributes.x", "op": "eq", "value": 1, "extra": 2},
        {"all": []},
        {"any": [{"field": "attributes.x"}]},
        {"not": [{"field": "attributes.x", "op": "present"}]},
        "attributes.x == 1",
    ],
)
def test_invalid_conditions_are_refused(cond: Any) -> None:
    with pytest.raises(ValidationError):
        _CONDITION.validate_python(cond)


def test_field_condition_is_frozen() -> None:
    cond = FieldCondition(field="attributes.x", op="present")
    with pytest.raises(ValidationError):
        cond.op = "missing"
