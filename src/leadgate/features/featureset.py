"""Feature sets: a name, a version and a list of declared features over pre-decision lead attributes.

A feature set is data (YAML), so a change to it is a new version and every decision records
``name@version``. ``FeatureSet.check_sources`` refuses any feature whose source column is declared
``post_decision`` or is the label: that is the leakage guard training runs before it reads any data.
"""

from __future__ import annotations

import hashlib
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from leadgate.contracts.errors import ContractError, FieldError
from leadgate.errors import LeadgateError

if TYPE_CHECKING:
    from leadgate.contracts.lead import Lead

FeatureKind = Literal["numeric", "categorical"]
_NAME = r"^[a-z][a-z0-9_]*$"


class LeakageError(LeadgateError, ValueError):
    """A feature reads a column that is not known at decision time (``post_decision`` or the label)."""


class FeatureSpec(BaseModel):
    """One feature.

    Attributes:
        name: snake_case feature name, also the lead attribute it reads unless ``source`` is given.
        source: lead attribute read (defaults to ``name``).
        kind: ``numeric`` (float, NaN when missing) or ``categorical`` (string, None when missing).
        description: plain words used in explanations ("time spent on the website").
        unit: unit of a numeric feature for explanations ("seconds", "visits"), optional.
        required: when True, a lead missing this value is scored by the rule fallback.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Annotated[str, Field(pattern=_NAME, max_length=64)]
    source: str | None = None
    kind: FeatureKind
    description: str
    unit: str | None = None
    required: bool = False

    @property
    def source_name(self) -> str:
        """The lead attribute this feature reads."""
        return self.source or self.name


class FeatureSet(BaseModel):
    """A named, versioned list of features.

    Attributes:
        name: feature-set name (``xeducation_leads``).
        version: positive integer; bump it on any change.
        features: the features, in model column order.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Annotated[str, Field(pattern=_NAME, max_length=64)]
    version: Annotated[int, Field(ge=1)]
    features: Annotated[list[FeatureSpec], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique(self) -> FeatureSet:
        names = [f.name for f in self.features]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate feature names: {', '.join(dupes)}")
        return self

    @property
    def ref(self) -> str:
        """``name@version``, the identifier stored on every decision."""
        return f"{self.name}@{self.version}"

    @property
    def names(self) -> list[str]:
        """Feature names in column order."""
        return [f.name for f in self.features]

    @property
    def categorical(self) -> list[str]:
        """Names of the categorical features."""
        return [f.name for f in self.features if f.kind == "categorical"]

    @property
    def numeric(self) -> list[str]:
        """Names of the numeric features."""
        return [f.name for f in self.features if f.kind == "numeric"]

    def spec(self, name: str) -> FeatureSpec:
        """The ``FeatureSpec`` called ``name``. Raises ``KeyError`` if there is none."""
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def content_hash(self) -> str:
        """sha256 of the canonical JSON of this feature set."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    def check_sources(self, stages: Mapping[str, str]) -> None:
        """Refuse features that read columns not known at decision time.

        Args:
            stages: attribute name -> stage declared by the column mapping
                (``pre_decision``, ``post_decision``, ``label``, ``id``).

        Raises:
            LeakageError: naming every offending feature and the stage of its column; also when a
                feature reads an attribute the mapping does not declare at all.
        """
        problems = []
        for f in self.features:
            stage = stages.get(f.source_name)
            if stage is None:
                problems.append(
                    f"feature {f.name!r} reads {f.source_name!r}, which the mapping does not declare"
                )
            elif stage != "pre_decision":
                problems.append(
                    f"feature {f.name!r} reads {f.source_name!r}, declared {stage}: only pre_decision "
                    "columns (known when the lead arrives) may feed a model"
                )
        if problems:
            raise LeakageError(f"feature set {self.ref} refused: " + "; ".join(problems))

    def frame_from_records(self, records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        """Build the model input from attribute dicts.

        Args:
            records: one mapping of pre-decision attributes per lead.

        Returns:
            DataFrame of shape (len(records), len(features)); numeric columns float64 with NaN for
            missing, categorical columns of Python ``str`` with None for missing.
        """
        return self.frame_from_columns(self.raw_columns(records))

    def raw_columns(self, records: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
        """Each feature's raw values (as the attributes hold them), in feature order: n_features lists of n."""
        return [list(map(operator.methodcaller("get", f.source_name), records)) for f in self.features]

    def frame_from_columns(self, columns: Sequence[Sequence[Any]]) -> pd.DataFrame:
        """``frame_from_records`` from the output of ``raw_columns``."""
        data = {
            f.name: _numeric(col) if f.kind == "numeric" else _categorical(col)
            for f, col in zip(self.features, columns, strict=True)
        }
        return pd.DataFrame(data, columns=self.names)

    def frame_from_leads(self, leads: Iterable[Lead]) -> pd.DataFrame:
        """Like ``frame_from_records`` over ``Lead.attributes`` (post-decision values are never read)."""
        return self.frame_from_records([lead.attributes for lead in leads])

    def type_errors(self, attributes: Mapping[str, Any]) -> list[FieldError]:
        """Values this feature set cannot use: a numeric feature given something that is not a finite number.

        A numeric string ("12.5") is accepted. Missing values are not errors (they are missing).

        Returns:
            One ``FieldError`` per bad value, path ``attributes.<attribute>``; empty when all are usable.
        """
        errors = []
        for f in self.features:
            if f.kind != "numeric":
                continue
            value = attributes.get(f.source_name)
            if value is None or value == "":
                continue
            number = math.nan if isinstance(value, bool) else _to_float(value)
            if not math.isfinite(number):
                errors.append(
                    FieldError(
                        f"attributes.{f.source_name}",
                        f"feature {f.name!r} of {self.ref} needs a finite number, got {value!r}",
                    )
                )
        return errors

    def missing_required(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean array (n,) that is True where any ``required`` feature is missing."""
        mask = np.zeros(len(frame), dtype=bool)
        for f in self.features:
            if f.required:
                mask |= frame[f.name].isna().to_numpy()
        return mask


def _numeric(values: Sequence[Any]) -> np.ndarray:
    # Each distinct value is converted once (counts and durations repeat); a value that is not a finite
    # number ("12abc", "inf") is missing for a numeric feature; booleans count as 1 and 0.
    table: dict[Any, float] = {}
    for v in set(values):
        if isinstance(v, bool):
            table[v] = float(v)
        elif v is None or v == "":
            table[v] = math.nan
        else:
            number = _to_float(v)
            table[v] = number if math.isfinite(number) else math.nan
    return np.fromiter(map(table.__getitem__, values), dtype=np.float64, count=len(values))


def _to_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _category(v: Any) -> str | None:
    return None if v is None or v == "" else str(v).lower() if isinstance(v, bool) else str(v)


def _categorical(values: Sequence[Any]) -> pd.Series:
    kinds = set(map(type, values))
    if bool in kinds and (int in kinds or float in kinds):
        # True == 1 as a dict key, but they are different categories ("true" and "1").
        return pd.Series([_category(v) for v in values], dtype=object)
    table = {v: _category(v) for v in set(values)}
    return pd.Series(list(map(table.__getitem__, values)), dtype=object)


def load_feature_set(path: str | Path) -> FeatureSet:
    """Load a feature set from YAML.

    Raises:
        FileNotFoundError: if the file does not exist.
        ContractError: naming the field path and reason of each problem.
    """
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    try:
        return FeatureSet.model_validate(raw)
    except ValidationError as exc:
        raise ContractError.from_validation_error("feature_set", exc) from exc
