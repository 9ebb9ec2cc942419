"""Rule-based scoring: the ICP fit score (``FitScorer``) and the no-model fallback (``RuleFallbackScorer``).

A rule set is data (YAML), validated by ``FitRuleSet``::

    name: xeducation_fit
    version: 1
    base_points: 20
    rules:
      - {feature: occupation, op: eq, value: Working Professional, points: 35, text: Working professional}
      - {feature: total_time_on_site, op: gte, value: 600, points: 25, text: Spent 10+ minutes on the site}
    probability_bands:          # used by RuleFallbackScorer only
      - {min_points: 0, probability: 0.05}
      - {min_points: 50, probability: 0.70}

Operators: ``eq`` (equal; a string value matches category strings, a number matches numbers), ``in``
(equal to one of a list), ``gte`` / ``lte`` (numeric >= / <=, missing never matches), ``missing`` (None or
NaN) and ``present``. Booleans in YAML (``true``) are read as the strings ``"true"``/``"false"``, which is
how feature sets carry yes/no answers. Fit score = ``clip(base_points + sum of matched rule points, 0, 100)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import pandas as pd
import yaml
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sklearn.base import BaseEstimator, ClassifierMixin

from leadgate.contracts.decision import Explanation, Factor, Probability
from leadgate.contracts.errors import ContractError
from leadgate.scoring._data import (
    check_columns,
    is_missing,
    is_missing_array,
    proba_columns,
    require_fitted,
    require_frame,
)
from leadgate.scoring.explain import MAX_FACTORS, factor_value

if TYPE_CHECKING:
    from typing import Self

RuleOp = Literal["eq", "in", "gte", "lte", "missing", "present"]
RuleValue = str | float

#: Default rule set shipped for the X Education example.
DEFAULT_RULES = "xeducation_fit.yaml"

#: Confidence reported by ``RuleFallbackScorer``. It is set below any sensible review threshold so that
#: every lead scored without a model goes to a person (the policy owns the threshold).
FALLBACK_CONFIDENCE = 0.2


def _normalise(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return float(v)
    return v


class FitRule(BaseModel):
    """One declarative rule.

    Attributes:
        feature: feature (column) the rule reads.
        op: ``eq`` | ``in`` | ``gte`` | ``lte`` | ``missing`` | ``present``.
        value: a string or number for ``eq``; a non-empty list for ``in``; a number for ``gte``/``lte``;
            absent for ``missing``/``present``.
        points: points added when the rule matches (negative to subtract).
        text: plain words shown in explanations ("Working professional").

    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    feature: Annotated[str, Field(min_length=1, max_length=64)]
    op: RuleOp
    value: RuleValue | list[RuleValue] | None = None
    points: float
    text: Annotated[str, Field(min_length=1, max_length=200)]

    @field_validator("value", mode="before")
    @classmethod
    def _booleans_as_strings(cls, v: Any) -> Any:
        if isinstance(v, list | tuple):
            return [_normalise(x) for x in v]
        return _normalise(v)

    @model_validator(mode="after")
    def _value_fits_op(self) -> FitRule:
        v = self.value
        if self.op in ("missing", "present"):
            if v is not None:
                raise ValueError(f"op {self.op!r} takes no value")
        elif self.op == "in":
            if not isinstance(v, list) or not v:
                raise ValueError("op 'in' needs a non-empty list of values")
        elif self.op in ("gte", "lte"):
            if not isinstance(v, float) or not math.isfinite(v):
                raise ValueError(f"op {self.op!r} needs a finite number")
        elif v is None or isinstance(v, list):
            raise ValueError("op 'eq' needs one string or number")
        return self

    def matches_value(self, v: Any) -> bool:
        """Whether one raw value matches (the scalar twin of ``FitRuleSet.matches``).

        Raises:
            ValueError: ``gte``/``lte`` on a value that is not a number.

        """
        missing = is_missing(v)
        if self.op == "missing":
            return missing
        if self.op == "present":
            return not missing
        if missing:
            return False
        if self.op in ("gte", "lte"):
            if isinstance(v, str | bool):
                raise ValueError(f"rule on {self.feature!r} ({self.op}) needs a number, got {v!r}")
            x = float(v)
            bound = float(self.value)  # type: ignore[arg-type]
            return x >= bound if self.op == "gte" else x <= bound
        candidates = self.value if isinstance(self.value, list) else [self.value]
        return any(_equal(v, c) for c in candidates)


def _equal(v: Any, target: RuleValue | None) -> bool:
    if isinstance(target, str):
        return isinstance(v, str) and v == target
    if isinstance(v, str | bool) or target is None:
        return False
    return float(v) == target


class ProbabilityBand(BaseModel):
    """Probability for leads whose fit points are at least ``min_points`` (up to the next band)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    min_points: Annotated[float, Field(ge=0.0, le=100.0)]
    probability: Probability


class FitRuleSet(BaseModel):
    """A named, versioned rule set.

    Attributes:
        name: rule-set name.
        version: positive integer; bump it on any change.
        description: where the rules and points come from.
        base_points: points every lead starts with.
        rules: the rules, applied independently (every matching rule adds its points); may be empty
            (``generic_fallback_rules``: a fallback that reads no column).
        probability_bands: points -> probability table for ``RuleFallbackScorer``: sorted by
            ``min_points`` (strictly increasing, the first at 0), probabilities non-decreasing.

    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=64)]
    version: Annotated[int, Field(ge=1)]
    description: str = ""
    base_points: float = 0.0
    rules: list[FitRule]
    probability_bands: list[ProbabilityBand] = Field(default_factory=list)

    @model_validator(mode="after")
    def _bands_monotone(self) -> FitRuleSet:
        bands = self.probability_bands
        if not bands:
            return self
        if bands[0].min_points != 0.0:
            raise ValueError("the first probability band must start at min_points 0")
        for a, b in pairwise(bands):
            if b.min_points <= a.min_points:
                raise ValueError("probability bands must have strictly increasing min_points")
            if b.probability < a.probability:
                raise ValueError(
                    "probability bands must have non-decreasing probabilities (more points, higher)"
                )
        return self

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    @property
    def features(self) -> list[str]:
        """Features read by the rules, in first-use order."""
        return list(dict.fromkeys(r.feature for r in self.rules))

    def matches(self, X: pd.DataFrame) -> NDArray[np.bool_]:
        """Which rules match which leads.

        Args:
            X: DataFrame holding every feature the rules read.

        Returns:
            Boolean array (n, n_rules).

        Raises:
            TypeError: ``X`` is not a DataFrame.
            ValueError: a feature column is missing, or a ``gte``/``lte`` column holds non-numbers.

        """
        X = require_frame(X)
        check_columns(X, self.features)
        out = np.zeros((len(X), len(self.rules)), dtype=bool)
        for k, rule in enumerate(self.rules):
            values = X[rule.feature].to_numpy(dtype=object)
            missing = is_missing_array(values)
            if rule.op == "missing":
                out[:, k] = missing
            elif rule.op == "present":
                out[:, k] = ~missing
            elif rule.op in ("gte", "lte"):
                try:
                    num = X[rule.feature].to_numpy(dtype=np.float64, na_value=np.nan)
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"rule on {rule.feature!r} ({rule.op}) needs a numeric column") from exc
                bound = float(rule.value)  # type: ignore[arg-type]
                with np.errstate(invalid="ignore"):
                    hit = num >= bound if rule.op == "gte" else num <= bound
                out[:, k] = hit & ~np.isnan(num)
            else:
                targets = rule.value if isinstance(rule.value, list) else [rule.value]
                # Decide each distinct value once (columns repeat a handful of categories).
                lookup = {v: any(_equal(v, t) for t in targets) for v in set(values.tolist())}
                hit = np.fromiter(map(lookup.__getitem__, values.tolist()), dtype=bool, count=len(values))
                out[:, k] = hit & ~missing
        return out

    def points(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Fit points per lead, ``clip(base + sum of matched points, 0, 100)``, shape (n,)."""
        pts = np.array([r.points for r in self.rules], dtype=np.float64)
        raw = self.base_points + self.matches(X).astype(np.float64) @ pts
        return np.clip(raw, 0.0, 100.0)

    def probability(self, points: NDArray[np.float64]) -> NDArray[np.float64]:
        """Band probability for each points value (n,).

        Raises:
            ValueError: the rule set has no ``probability_bands``.

        """
        if not self.probability_bands:
            raise ValueError(f"rule set {self.ref} has no probability_bands: it cannot be a fallback scorer")
        starts = np.array([b.min_points for b in self.probability_bands])
        probs = np.array([b.probability for b in self.probability_bands])
        idx = np.searchsorted(starts, points, side="right") - 1
        return probs[np.clip(idx, 0, len(probs) - 1)]

    def explain_row(self, row: Mapping[str, Any], top_k: int = MAX_FACTORS) -> Explanation:
        """Rules that matched one lead, as factors (contribution = points).

        Args:
            row: feature name -> raw value.
            top_k: factors kept on each side, 0..3.

        Returns:
            ``Explanation(method="rules", base_value=base_points)``: up to ``top_k`` matched rules with
            positive points and up to ``top_k`` with negative points, largest first.

        Raises:
            KeyError: a feature the rules read is absent from ``row``.
            ValueError: ``top_k`` outside 0..3.

        """
        if not 0 <= top_k <= MAX_FACTORS:
            raise ValueError(f"top_k must be between 0 and {MAX_FACTORS}, got {top_k}")
        positive: list[Factor] = []
        negative: list[Factor] = []
        hits = [r for r in self.rules if r.points != 0 and r.matches_value(row[r.feature])]
        for r in sorted(hits, key=lambda r: -abs(r.points)):
            side = positive if r.points > 0 else negative
            if len(side) < top_k:
                side.append(
                    Factor(
                        feature=r.feature,
                        value=factor_value(row[r.feature]),
                        contribution=float(r.points),
                        text=f"{r.text} ({r.points:+g} points)",
                    )
                )
        return Explanation(
            method="rules", base_value=float(self.base_points), positive=positive, negative=negative
        )


GENERIC_FALLBACK = "generic_fallback"
"""Name of the rule set used when a project has no fit rules (see ``generic_fallback_rules``)."""


def generic_fallback_rules(probability: float) -> FitRuleSet:
    """A rule set that reads no column: every lead gets 0 fit points and the one band ``probability``.

    Used by the rule fallback of a project without fit rules, so the fallback never needs a column of
    another dataset (X Education's, say). The caller passes the model's training base rate when a model
    exists (a lead the model cannot score is then an average lead), else the policy's ``warm`` threshold,
    so a lead is routed and reviewed rather than discarded for lack of a model; the policy's
    ``review.on_fallback`` sends every such decision to a person. Its name says so on every decision
    (``rule_fallback``, model version ``generic_fallback@1``).

    Raises:
        ValueError: ``probability`` outside [0, 1].
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be in [0, 1], got {probability}")
    return FitRuleSet(
        name=GENERIC_FALLBACK,
        version=1,
        description=(
            "no fit rules in the project: one probability band for every lead "
            f"({probability:.3f}, the training base rate or the policy's warm threshold)"
        ),
        base_points=0.0,
        rules=[],
        probability_bands=[ProbabilityBand(min_points=0.0, probability=round(float(probability), 6))],
    )


def load_fit_rules(source: str | Path | Mapping[str, Any] | None = None) -> FitRuleSet:
    """Load and validate a rule set.

    Args:
        source: a YAML file path, an already parsed mapping, or None for the shipped X Education rules
            (``leadgate/scoring/defaults/xeducation_fit.yaml``).

    Raises:
        FileNotFoundError: the file does not exist.
        ContractError: naming the field path and reason of each problem.

    """
    if source is None:
        raw = yaml.safe_load(
            (resources.files("leadgate.scoring") / "defaults" / DEFAULT_RULES).read_text("utf-8")
        )
    elif isinstance(source, Mapping):
        raw = dict(source)
    else:
        raw = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
    try:
        return FitRuleSet.model_validate(raw)
    except ValidationError as exc:
        raise ContractError.from_validation_error("fit_rules", exc) from exc


def _resolve(rules: FitRuleSet | Mapping[str, Any] | str | Path | None) -> FitRuleSet:
    return rules if isinstance(rules, FitRuleSet) else load_fit_rules(rules)


def _rows(X: pd.DataFrame, features: Sequence[str]) -> list[dict[str, Any]]:
    pos = check_columns(X, features)
    values = X.iloc[:, pos].to_numpy(dtype=object)
    return [dict(zip(features, row, strict=True)) for row in values]


class FitScorer(BaseEstimator):
    """ICP fit score, 0-100 points, from a declarative rule set.

    ``fit`` only validates the rule set (it learns nothing) and stores it as ``rule_set_``.

    Args:
        rules: a ``FitRuleSet``, a mapping or YAML path to validate, or None for the shipped X Education
            rules.

    """

    def __init__(self, rules: FitRuleSet | Mapping[str, Any] | str | Path | None = None):
        self.rules = rules

    def fit(self, X: pd.DataFrame | None = None, y: Any = None) -> Self:
        """Validate the rule set; ``X`` and ``y`` are ignored.

        Raises:
            ContractError: the rule set is invalid.

        """
        self.rule_set_ = _resolve(self.rules)
        return self

    def score(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Fit points per lead, shape (n,), in [0, 100].

        Raises:
            NotFittedError: before ``fit``.
            TypeError, ValueError: see ``FitRuleSet.matches``.

        """
        require_fitted(self, "rule_set_")
        return self.rule_set_.points(X)

    def explain_one(self, row: Mapping[str, Any] | pd.Series, top_k: int = MAX_FACTORS) -> Explanation:
        """Explain one lead by its matched rules (see ``FitRuleSet.explain_row``).

        Raises:
            NotFittedError: before ``fit``.

        """
        require_fitted(self, "rule_set_")
        mapping = row.to_dict() if isinstance(row, pd.Series) else row
        return self.rule_set_.explain_row(mapping, top_k)

    def explain(self, X: pd.DataFrame, top_k: int = MAX_FACTORS) -> list[Explanation]:
        """``explain_one`` for every lead of ``X``."""
        require_fitted(self, "rule_set_")
        return [self.rule_set_.explain_row(r, top_k) for r in _rows(X, self.rule_set_.features)]


class RuleFallbackScorer(ClassifierMixin, BaseEstimator):
    """Probability from rule points, for leads no model may score (none registered, required feature missing).

    ``P(convert) = probability of the band`` holding the lead's fit points
    (``FitRuleSet.probability_bands``: a banded table kept in the YAML next to the rules, so a marketer
    reads and edits one file). ``confidence(X)`` is the constant ``constant_confidence`` hyperparameter (0.2
    by default, ``FALLBACK_CONFIDENCE``): low on purpose, so the policy sends these leads to review.

    Args:
        rules: a ``FitRuleSet`` with ``probability_bands``, a mapping or YAML path, or None for the shipped
            X Education rules.
        constant_confidence: confidence reported for every lead, in [0, 1].

    """

    def __init__(
        self,
        rules: FitRuleSet | Mapping[str, Any] | str | Path | None = None,
        constant_confidence: float = FALLBACK_CONFIDENCE,
    ):
        self.rules = rules
        self.constant_confidence = constant_confidence

    def fit(self, X: pd.DataFrame | None = None, y: Any = None) -> Self:
        """Validate the rules (nothing is learned); ``X`` and ``y`` are ignored.

        Raises:
            ContractError: invalid rule set.
            ValueError: the rule set has no probability bands, or ``constant_confidence`` is outside [0, 1].

        """
        rule_set = _resolve(self.rules)
        if not rule_set.probability_bands:
            raise ValueError(
                f"rule set {rule_set.ref} has no probability_bands: it cannot be a fallback scorer"
            )
        if not 0.0 <= float(self.constant_confidence) <= 1.0:
            raise ValueError("constant_confidence must be in [0, 1]")
        self.rule_set_ = rule_set
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Band probabilities, shape (n, 2).

        Raises:
            NotFittedError: before ``fit``.
            TypeError, ValueError: see ``FitRuleSet.matches``.

        """
        require_fitted(self, "rule_set_")
        return proba_columns(self.rule_set_.probability(self.rule_set_.points(X)))

    def predict(self, X: pd.DataFrame) -> NDArray[np.int64]:
        """Class (n,): 1 where the probability is at least 0.5."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def confidence(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """Constant low confidence, shape (n,).

        Raises:
            NotFittedError: before ``fit``.

        """
        require_fitted(self, "rule_set_")
        return np.full(len(require_frame(X)), float(self.constant_confidence))

    def explain(self, X: pd.DataFrame, top_k: int = MAX_FACTORS) -> list[Explanation]:
        """Explain every lead of ``X`` by its matched rules (``FitRuleSet.explain_row``)."""
        require_fitted(self, "rule_set_")
        return [self.rule_set_.explain_row(r, top_k) for r in _rows(X, self.rule_set_.features)]
