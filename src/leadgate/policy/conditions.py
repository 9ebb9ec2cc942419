"""The policy condition language: small, declarative, safe (no ``eval``), compiled once into closures.

A condition is one of:

* a field test ``{field: attributes.do_not_call, op: eq, value: true}``;
* ``{all: [cond, ...]}`` (every one holds), ``{any: [cond, ...]}`` (at least one holds),
  ``{not: cond}`` (the condition does not hold).

Fields:

* ``attributes.<name>``: ``Lead.attributes[name]`` (pre-decision values, e.g. ``attributes.lead_origin``);
* a top-level lead field: ``lead_id``, ``source``, ``email``, ``first_name``, ``last_name``, ``company``,
  ``title``, ``country``, ``city``, ``phone``;
* ``score.probability``, ``score.confidence``, ``score.fit_score`` (numbers) and ``score.scorer``
  (``model`` or ``rule_fallback``).

``post_decision.*`` and ``outcome`` are refused: they are recorded after sales contact, so a decision
made when the lead arrives cannot depend on them.

Operators and how a lead's value is compared (the policy value's type picks the comparison):

* ``eq`` / ``ne``: a boolean policy value compares the lead value read as a boolean (``true``,
  ``"true"``, ``"yes"``, ``"1"``, ``1`` are true; ``false``, ``"false"``, ``"no"``, ``"0"``, ``0`` are
  false; anything else matches neither); a number compares the value read as a number (``"3"`` is 3);
  a string compares the value as a string, exactly (case-sensitive; booleans read ``"true"`` /
  ``"false"``). ``ne`` is exactly ``not eq``: a missing value is "not equal".
* ``in`` / ``not_in``: ``value`` is a non-empty list of scalars; ``in`` holds when ``eq`` holds for any
  of them; ``not_in`` is exactly ``not in``.
* ``gt``, ``gte``, ``lt``, ``lte``: ``value`` is a number; the lead value is read as a number; a missing
  or non-numeric value never matches.
* ``matches``: ``value`` is a Python regular expression, applied with ``re.search`` (anchor it with
  ``^`` and ``$`` for a whole-value match) to the value as a string; a missing value never matches.
* ``missing`` / ``present``: take no ``value``; a value is missing when it is absent, ``null`` or a
  blank string.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from leadgate.yamlcheck import UNION_TAG_PREFIX

Op = Literal["eq", "ne", "in", "not_in", "missing", "present", "gte", "lte", "lt", "gt", "matches"]

LEAD_FIELDS = frozenset(
    {"lead_id", "source", "email", "first_name", "last_name", "company", "title", "country", "city", "phone"}
)
"""Top-level ``Lead`` fields a condition may read by bare name."""

SCORE_FIELDS: dict[str, int] = {"probability": 0, "confidence": 1, "fit_score": 2, "scorer": 3}
"""``score.<name>`` fields and their position in the score tuple the compiled predicates receive."""

SCORERS = ("model", "rule_fallback")

_NUMERIC_OPS = frozenset({"gte", "lte", "lt", "gt"})
_NO_VALUE_OPS = frozenset({"missing", "present"})
_SCORE_NUMBER_OPS = frozenset({"eq", "ne", "gte", "lte", "lt", "gt"})
_SCORER_OPS = frozenset({"eq", "ne", "in", "not_in"})


_MODEL = ConfigDict(extra="forbid", frozen=True, strict=True)


def _issue(loc: tuple[str | int, ...], message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError("policy_condition", "{message}", {"message": message}),
        loc=loc,
        input=value,
    )


def _is_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool)


class FieldCondition(BaseModel):
    """A test on one field: ``{field: attributes.do_not_call, op: eq, value: true}``.

    Attributes:
        field: what to read (``attributes.<name>``, a top-level lead field, or ``score.<name>``).
        op: the operator (see the module docstring for the comparison rules).
        value: the operand; required for every op but ``missing`` / ``present``, which refuse one.

    Raises:
        pydantic.ValidationError: (on validation) for an unknown field path, a ``post_decision`` path,
            a value of the wrong type for the op, an invalid regular expression, or an op that makes no
            sense on a score field; each error is located on the offending key.

    """

    model_config = _MODEL
    field: Annotated[str, Field(min_length=1, max_length=200)]
    op: Op
    value: Any = None

    @model_validator(mode="after")
    def _check(self) -> FieldCondition:
        errors: list[InitErrorDetails] = []
        errors.extend(_check_field(self.field))
        op, value, given = self.op, self.value, "value" in self.model_fields_set
        if op in _NO_VALUE_OPS:
            if given:
                errors.append(_issue(("value",), f"op '{op}' takes no value", value))
        elif not given:
            errors.append(_issue((), f"op '{op}' needs a 'value'", None))
        elif op in _NUMERIC_OPS:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                errors.append(_issue(("value",), f"op '{op}' needs a finite number, got {value!r}", value))
        elif op == "matches":
            if not isinstance(value, str):
                errors.append(
                    _issue(
                        ("value",), f"op 'matches' needs a regular expression string, got {value!r}", value
                    )
                )
            else:
                try:
                    re.compile(value)
                except re.error as exc:
                    errors.append(_issue(("value",), f"invalid regular expression {value!r}: {exc}", value))
        elif op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                errors.append(_issue(("value",), f"op '{op}' needs a non-empty list, got {value!r}", value))
            else:
                for i, item in enumerate(value):
                    if not _is_scalar(item):
                        errors.append(
                            _issue(
                                ("value", i),
                                f"list items must be strings, numbers or booleans, got {item!r}",
                                item,
                            )
                        )
        elif not _is_scalar(value):
            errors.append(
                _issue(("value",), f"op '{op}' needs a string, number or boolean, got {value!r}", value)
            )
        if not errors:
            errors.extend(self._check_score_field())
        if errors:
            raise ValidationError.from_exception_data("FieldCondition", errors)
        return self

    def _check_score_field(self) -> list[InitErrorDetails]:
        if not self.field.startswith("score."):
            return []
        name = self.field.removeprefix("score.")
        if name == "scorer":
            if self.op not in _SCORER_OPS:
                return [
                    _issue(
                        ("op",),
                        f"op '{self.op}' does not apply to score.scorer (use eq, ne, in, not_in)",
                        self.op,
                    )
                ]
            values = self.value if isinstance(self.value, list) else [self.value]
            bad = [v for v in values if v not in SCORERS]
            if bad:
                return [
                    _issue(("value",), f"score.scorer is 'model' or 'rule_fallback', got {bad[0]!r}", bad[0])
                ]
            return []
        if self.op not in _SCORE_NUMBER_OPS:
            return [_issue(("op",), f"op '{self.op}' does not apply to score.{name} (a number)", self.op)]
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            return [_issue(("value",), f"score.{name} is a number, got {self.value!r}", self.value)]
        return []


def _check_field(path: str) -> list[InitErrorDetails]:
    head, _, rest = path.partition(".")
    if head == "attributes":
        if rest:
            return []
        return [_issue(("field",), "'attributes.' must be followed by an attribute name", path)]
    if head == "score":
        if rest in SCORE_FIELDS:
            return []
        names = ", ".join(f"score.{n}" for n in SCORE_FIELDS)
        return [_issue(("field",), f"unknown score field {path!r}; known: {names}", path)]
    if head in ("post_decision", "outcome"):
        return [
            _issue(
                ("field",),
                f"{path!r} is recorded after sales contact; a decision made on arrival cannot read it",
                path,
            )
        ]
    if path in LEAD_FIELDS:
        return []
    return [
        _issue(
            ("field",),
            f"unknown field {path!r}; use attributes.<name>, score.<name> or one of "
            + ", ".join(sorted(LEAD_FIELDS)),
            path,
        )
    ]


class AllOf(BaseModel):
    """``{all: [cond, ...]}``: holds when every condition holds (checked in order, stops at a miss)."""

    model_config = _MODEL
    all: Annotated[list[Condition], Field(min_length=1)]


class AnyOf(BaseModel):
    """``{any: [cond, ...]}``: holds when at least one condition holds (stops at the first hit)."""

    model_config = _MODEL
    any: Annotated[list[Condition], Field(min_length=1)]


class NotOf(BaseModel):
    """``{not: cond}``: holds when the condition does not hold."""

    model_config = _MODEL
    not_: Condition = Field(alias="not")


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return {FieldCondition: "field", AllOf: "all", AnyOf: "any", NotOf: "not"}.get(type(value))
    if isinstance(value, dict):
        for key in ("all", "any", "not"):
            if key in value:
                return key
        return "field"
    return None


Condition = Annotated[
    Annotated[FieldCondition, Tag(f"{UNION_TAG_PREFIX}field")]
    | Annotated[AllOf, Tag(f"{UNION_TAG_PREFIX}all")]
    | Annotated[AnyOf, Tag(f"{UNION_TAG_PREFIX}any")]
    | Annotated[NotOf, Tag(f"{UNION_TAG_PREFIX}not")],
    Discriminator(
        lambda v: None if (k := _condition_kind(v)) is None else f"{UNION_TAG_PREFIX}{k}",
        custom_error_type="policy_condition",
        custom_error_message=(
            "a condition is a mapping: {field, op, value}, {all: [...]}, {any: [...]} or {not: ...}"
        ),
    ),
]
"""A condition node (field test or combinator)."""

AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


# ---------------------------------------------------------------------------------------------- compile

ScoreTuple = tuple[Any, ...]
"""``(probability, confidence, fit_score, scorer)``, or ``()`` when no condition reads the score."""

Predicate = Callable[[Mapping[str, Any], Mapping[str, Any], ScoreTuple], bool]
"""A compiled condition: ``pred(attributes, lead_fields, score_tuple) -> bool``."""

Getter = Callable[[Mapping[str, Any], Mapping[str, Any], ScoreTuple], Any]

_TRUE = frozenset({"true", "yes", "y", "t", "1"})
_FALSE = frozenset({"false", "no", "n", "f", "0"})


def as_bool(value: Any) -> bool | None:
    """Read a lead value as a boolean: True, False, or None when it is neither."""
    if value is True or value is False:
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        return True if text in _TRUE else False if text in _FALSE else None
    if isinstance(value, int | float):
        return True if value == 1 else False if value == 0 else None
    return None


def as_number(value: Any) -> float | None:
    """Read a lead value as a number (booleans are 1.0 / 0.0, as in feature sets); None when it is not one."""
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def as_text(value: Any) -> str | None:
    """Read a lead value as a string (booleans are ``"true"`` / ``"false"``); None when missing."""
    if value is None or isinstance(value, str):
        return value
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def is_missing(value: Any) -> bool:
    """Tell whether a value is missing: absent (None) or a blank string."""
    return value is None or (isinstance(value, str) and not value.strip())


def _getter(path: str) -> Getter:
    head, _, rest = path.partition(".")
    if head == "attributes":

        def get_attribute(a: Mapping[str, Any], f: Mapping[str, Any], s: ScoreTuple) -> Any:
            return a.get(rest)

        return get_attribute
    if head == "score":
        index = SCORE_FIELDS[rest]

        def get_score(a: Mapping[str, Any], f: Mapping[str, Any], s: ScoreTuple) -> Any:
            return s[index]

        return get_score

    def get_field(a: Mapping[str, Any], f: Mapping[str, Any], s: ScoreTuple) -> Any:
        return f.get(path)

    return get_field


def _equals(get: Getter, value: Any) -> Predicate:
    if value is True or value is False:
        target_bool: bool = value

        def eq_bool(a: Mapping[str, Any], f: Mapping[str, Any], s: ScoreTuple) -> bool:
            return as_bool(get(a, f, s)) is target_bool

        return eq_bool
    if isinstance(value, int | float):
        target_number = float(value)

        def eq_number(a: Mapping[str, Any], f: Mapping[str, Any], s: ScoreTuple) -> bool:
            return as_number(get(a, f, s)) == target_number

        return eq_number
    target_text: str = value

    def eq_text(a: Mapping[str, Any], f: Mapping[str, Any], s: ScoreTuple) -> bool:
        return as_text(get(a, f, s)) == target_text

    return eq_text


def _member(get: Getter, values: Sequence[Any]) -> Predicate:
    bools = frozenset(v for v in values if v is True or v is False)
    numbers = frozenset(float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool))
    texts = frozenset(v for v in values if isinstance(v, str))

    def member(a: Mapping[str, Any], f: Mapping[str, Any], s: ScoreTuple) -> bool:
        v = get(a, f, s)
        if v is None:
            return False
        return (
            (bool(texts) and as_text(v) in texts)
            or (bool(numbers) and as_number(v) in numbers)
            or (bool(bools) and as_bool(v) in bools)
        )

    return member


def _negate(pred: Predicate) -> Predicate:
    def negated(a: Mapping[str, Any], f: Mapping[str, Any], s: ScoreTuple) -> bool:
        return not pred(a, f, s)

    return negated


def _compare(get: Getter, op: str, bound: float) -> Predicate:
    if op == "gte":

        def gte(a: Mapping[str, Any], f: Mapping[str, Any], s: ScoreTuple) -> bool:
            n = as_number(get(a, f, s))
            return n is not None and n >= bound

        return gte
    if op == "gt":

        def gt(a: Mapping[str, Any], f: Mapping[str, Any], s: ScoreTuple) -> bool:
            n = as_number(get(a, f, s))
            return n is not None and n > bound

        return gt
    if op == "lte":

        def lte(a: Mapping[str, Any], f: Mapping[str, Any], s: ScoreTuple) -> bool:
            n = as_number(get(a, f, s))
            return n is not None and n <= bound

        return lte

    def lt(a: Mapping[str, Any], f: Mapping[str, Any], s: ScoreTuple) -> bool:
        n = as_number(get(a, f, s))
        return n is not None and n < bound

    return lt


def _compile_field(cond: FieldCondition) -> Predicate:
    get = _getter(cond.field)
    op = cond.op
    if op == "eq":
        return _equals(get, cond.value)
    if op == "ne":
        return _negate(_equals(get, cond.value))
    if op == "in":
        return _member(get, cond.value)
    if op == "not_in":
        return _negate(_member(get, cond.value))
    if op in _NUMERIC_OPS:
        return _compare(get, op, float(cond.value))
    if op == "matches":
        search = re.compile(cond.value).search

        def matches(a: Mapping[str, Any], f: Mapping[str, Any], s: ScoreTuple) -> bool:
            text = as_text(get(a, f, s))
            return text is not None and search(text) is not None

        return matches

    def missing(a: Mapping[str, Any], f: Mapping[str, Any], s: ScoreTuple) -> bool:
        return is_missing(get(a, f, s))

    return missing if op == "missing" else _negate(missing)


def compile_condition(cond: FieldCondition | AllOf | AnyOf | NotOf) -> Predicate:
    """Turn a validated condition into a closure ``pred(attributes, lead_fields, score_tuple) -> bool``.

    Done once per policy; evaluating the closure costs a few hundred nanoseconds per field test.
    """
    if isinstance(cond, FieldCondition):
        return _compile_field(cond)
    if isinstance(cond, NotOf):
        return _negate(compile_condition(cond.not_))
    if isinstance(cond, AllOf):
        preds = tuple(compile_condition(c) for c in cond.all)

        def all_of(a: Mapping[str, Any], f: Mapping[str, Any], s: ScoreTuple) -> bool:
            for pred in preds:  # noqa: SIM110 - an explicit loop is faster than all() over a generator
                if not pred(a, f, s):
                    return False
            return True

        return all_of
    preds_any = tuple(compile_condition(c) for c in cond.any)

    def any_of(a: Mapping[str, Any], f: Mapping[str, Any], s: ScoreTuple) -> bool:
        for pred in preds_any:  # noqa: SIM110 - an explicit loop is faster than any() over a generator
            if pred(a, f, s):
                return True
        return False

    return any_of


def fields_read(cond: FieldCondition | AllOf | AnyOf | NotOf) -> set[str]:
    """Every field path a condition reads (``attributes.x``, ``email``, ``score.fit_score``)."""
    if isinstance(cond, FieldCondition):
        return {cond.field}
    if isinstance(cond, NotOf):
        return fields_read(cond.not_)
    children = cond.all if isinstance(cond, AllOf) else cond.any
    out: set[str] = set()
    for child in children:
        out |= fields_read(child)
    return out
