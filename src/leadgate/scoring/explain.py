"""Explanations: exact TreeSHAP contributions, computed fast, turned into plain-words factors.

Two parts:

* ``SplitCells`` and ``dedup_contributions``: LightGBM's ``pred_contrib=True`` (TreeSHAP, Lundberg et al.
  2020, "From local explanations to global understanding with explainable AI for trees", Nature MI) costs
  20 to 100 times a plain prediction (more for bigger trees). The TreeSHAP value of a row depends on the row only through the
  branch it takes at every split of every tree. Two rows that fall in the same *cell* (same side of every
  split threshold of every feature, same missing-value handling, same category code) therefore get
  bit-identical contributions. ``dedup_contributions`` maps rows to cells, runs ``pred_contrib`` once per
  distinct cell and scatters the result back. It is exact by construction, and the tests check it
  against plain ``pred_contrib`` with ``np.array_equal``, including values exactly on split thresholds.
* ``FeatureText`` and ``build_explanation``: pick the strongest factors and write them in plain words
  ("Time spent on the website: 25 min (raises the score)").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, get_args

import lightgbm as lgb
import numpy as np
from numpy.typing import NDArray

from leadgate.contracts.decision import Explanation, Factor
from leadgate.scoring._data import is_missing

#: LightGBM treats |x| <= kZeroThreshold as zero when a split's missing type is "Zero" (LightGBM
#: ``include/LightGBM/meta.h``).
LIGHTGBM_ZERO_THRESHOLD = 1e-35

#: The ``Explanation`` contract keeps at most 3 positive and 3 negative factors.
MAX_FACTORS = 3


@dataclass(frozen=True)
class SplitCells:
    """Where a LightGBM model can tell feature values apart.

    Attributes:
        categorical: per feature, True if it is categorical (decided on its integer code).
        thresholds: per feature, the sorted distinct numeric split thresholds (empty when the feature
            is categorical or never used in a numeric split).
        used: per feature, True if any split of any tree uses it.
        zero_special: per feature, True if a split treats zero as missing (``missing_type == "Zero"``).

    """

    categorical: tuple[bool, ...]
    thresholds: tuple[NDArray[np.float64], ...]
    used: tuple[bool, ...]
    zero_special: tuple[bool, ...]

    @classmethod
    def from_booster(cls, booster: lgb.Booster, categorical_idx: Sequence[int]) -> SplitCells:
        """Read every split of every tree from ``booster.dump_model()``.

        Thresholds are read from LightGBM's JSON dump, which prints doubles with 17 significant digits
        (exact round trip).
        """
        n_features = booster.num_feature()
        cats = set(categorical_idx)
        thr: list[set[float]] = [set() for _ in range(n_features)]
        used = [False] * n_features
        zero = [False] * n_features
        stack: list[dict[str, Any]] = [t["tree_structure"] for t in booster.dump_model()["tree_info"]]
        while stack:
            node = stack.pop()
            if "split_feature" not in node:
                continue
            j = int(node["split_feature"])
            used[j] = True
            if node.get("missing_type") == "Zero":
                zero[j] = True
            if node["decision_type"] == "<=":
                thr[j].add(float(node["threshold"]))
            stack.append(node["left_child"])
            stack.append(node["right_child"])
        return cls(
            categorical=tuple(j in cats for j in range(n_features)),
            thresholds=tuple(np.array(sorted(t), dtype=np.float64) for t in thr),
            used=tuple(used),
            zero_special=tuple(zero),
        )

    def keys(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        """Cell key of each row: shape (n, 2 * n_features), equal keys <=> same branch at every split.

        Per feature, two columns: a NaN flag, and a value key. Numeric: the number of thresholds below the
        value (LightGBM goes left when ``value <= threshold``), doubled plus one when zero is special and
        the value is zero. Categorical: the value truncated to an integer, as LightGBM casts it. Unused
        features: 0.
        """
        n, f = matrix.shape
        out = np.zeros((n, 2 * f), dtype=np.float64)
        for j in range(f):
            if not self.used[j]:
                continue
            col = matrix[:, j]
            nan = np.isnan(col)
            out[:, 2 * j] = nan
            safe = np.where(nan, 0.0, col)
            if self.categorical[j]:
                out[:, 2 * j + 1] = np.trunc(safe) + 0.0  # + 0.0 turns -0.0 into 0.0
            else:
                key = np.searchsorted(self.thresholds[j], safe, side="left").astype(np.float64)
                if self.zero_special[j]:
                    key = 2.0 * key + (np.abs(safe) <= LIGHTGBM_ZERO_THRESHOLD)
                out[:, 2 * j + 1] = np.where(nan, 0.0, key)
        return out


def dedup_contributions(
    booster: lgb.Booster, matrix: NDArray[np.float64], cells: SplitCells, num_threads: int = 1
) -> NDArray[np.float64]:
    """TreeSHAP contributions computed once per distinct split cell, scattered back to every row.

    Args:
        booster: the trained LightGBM booster.
        matrix: encoded rows, float64, shape (n, n_features).
        cells: the booster's ``SplitCells``.
        num_threads: LightGBM threads for ``pred_contrib``.

    Returns:
        Array (n, n_features + 1), identical (bit for bit) to
        ``booster.predict(matrix, pred_contrib=True)``; the last column is the base value.

    """
    n = matrix.shape[0]
    if n <= 1:
        return plain_contributions(booster, matrix, num_threads)
    keys = np.ascontiguousarray(cells.keys(matrix))
    rows = keys.view(np.dtype((np.void, keys.dtype.itemsize * keys.shape[1]))).ravel()
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    if len(first) == n:
        return plain_contributions(booster, matrix, num_threads)
    return plain_contributions(booster, matrix[first], num_threads)[inverse.ravel()]


def plain_contributions(
    booster: lgb.Booster, matrix: NDArray[np.float64], num_threads: int = 1
) -> NDArray[np.float64]:
    """Run ``booster.predict(matrix, pred_contrib=True)`` on every row: (n, n_features + 1), n may be 0."""
    if len(matrix) == 0:  # LightGBM cannot predict contributions of zero rows
        return np.empty((0, matrix.shape[1] + 1), dtype=np.float64)
    out = booster.predict(matrix, pred_contrib=True, num_threads=num_threads)
    return np.asarray(out, dtype=np.float64)


_PAREN = re.compile(r"^(?P<long>.*?)\s*\((?P<short>[^()]+)\)\s*$")
_TIME_UNITS = {"seconds": 1.0, "second": 1.0, "s": 1.0, "minutes": 60.0, "minute": 60.0, "min": 60.0}


@dataclass(frozen=True)
class FeatureText:
    """How one feature is written in explanations.

    Attributes:
        name: feature name.
        label: short label, capitalised ("Lead origin"). A parenthesis at the end of the description is
            the label only when it names the feature, i.e. its words are the feature name's words
            (``lead_origin``: "how the lead was created (lead origin)" gives "Lead origin"); any other
            parenthesis is part of the wording ("number of employees (thousands)" stays whole, it is
            not the label "Thousands"). Without a description: the name with underscores as spaces.
        template: the description itself when it contains ``{value}`` ("Spent {value} on the website"),
            used instead of ``"<label>: <value>"``.
        unit: unit of a numeric feature ("seconds", "visits"), or None.
        numeric: True for numeric features.

    """

    name: str
    label: str
    template: str | None
    unit: str | None
    numeric: bool

    @classmethod
    def build(cls, name: str, description: str | None, unit: str | None, numeric: bool) -> FeatureText:
        """Derive the label and template from a feature's description and unit."""
        desc = (description or "").strip()
        template = desc if "{value}" in desc else None
        match = _PAREN.match(desc)
        names_feature = match is not None and _words(match.group("short")) == _words(name)
        label = match.group("short") if match and names_feature else desc or name.replace("_", " ")
        return cls(name, label[:1].upper() + label[1:], template, unit, numeric)

    def format_value(self, value: Any) -> str:
        """Write the value in plain words: seconds as minutes, booleans as yes/no, numbers without noise."""
        if self.numeric:
            v = float(value)
            factor = _TIME_UNITS.get((self.unit or "").lower())
            if factor is not None:
                return _format_duration(v * factor)
            text = _format_number(v)
            if self.unit and self.unit.lower() not in self.label.lower():
                text = f"{text} {self.unit}"
            return text
        s = str(value)
        return {"true": "yes", "false": "no"}.get(s.lower(), s)

    def sentence(self, value: Any, contribution: float) -> str:
        """One factor in plain words, e.g. "Current occupation not given (lowers the score)"."""
        effect = "raises the score" if contribution > 0 else "lowers the score"
        if is_missing(value):
            return f"{self.label} not given ({effect})"
        if value is UNSEEN:
            return f"{self.label}: a value not seen in training ({effect})"
        shown = self.format_value(value)
        body = self.template.format(value=shown) if self.template else f"{self.label}: {shown}"
        return f"{body} ({effect})"


def _words(text: str) -> list[str]:
    """Lower-case words of a name or phrase: ``lead_origin`` and "Lead origin" both give [lead, origin]."""
    return re.findall(r"[a-z0-9]+", text.lower())


class _Unseen:
    """Stands for a category value the model never saw, when only its encoded form is known."""

    def __repr__(self) -> str:
        return "UNSEEN"

    def __reduce__(self) -> str:
        return "UNSEEN"


#: Decoded value of an unseen category code (-1) when the raw string is not available.
UNSEEN = _Unseen()


def _format_number(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"


def _format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{_format_number(round(seconds))} s"
    minutes = seconds / 60.0
    if minutes < 10:
        return f"{_format_number(round(minutes, 1))} min"
    if minutes < 120:
        return f"{round(minutes)} min"
    return f"{_format_number(round(minutes / 60.0, 1))} h"


def factor_value(value: Any) -> str | float | None:
    """Convert a lead's raw value for a ``Factor``: str, float, or None when missing."""
    if is_missing(value) or value is UNSEEN:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    return str(value)


def explanation_method(preferred: str) -> str:
    """The ``Explanation.method`` to write for a scorer whose own method name is ``preferred``.

    ``"linear"`` (exact contributions of a logistic regression) and ``"blend"`` (weighted TreeSHAP and
    linear contributions) are written only once the ``Explanation`` contract accepts them; until then
    they are written as ``"treeshap"``, the additive log-odds attribution the contract knows (a linear
    model's centred contributions are its exact SHAP values, Lundberg & Lee 2017, "A unified approach to
    interpreting model predictions", linear SHAP).
    """
    allowed = get_args(Explanation.model_fields["method"].annotation)
    return preferred if preferred in allowed else "treeshap"


def build_explanation(
    contrib_row: NDArray[np.float64],
    values: Sequence[Any],
    texts: Sequence[FeatureText],
    top_k: int = MAX_FACTORS,
    method: str = "treeshap",
) -> Explanation:
    """Top factors of one lead from its row of additive log-odds contributions.

    Args:
        contrib_row: one row of ``pred_contrib`` output (or any additive attribution), shape
            (n_features + 1,), log-odds; the last entry is the base value.
        values: the lead's raw values, one per feature, in model column order.
        texts: how each feature is written, in model column order.
        top_k: factors kept on each side, 0..3.
        method: ``Explanation.method`` (see ``explanation_method``).

    Returns:
        ``Explanation(method=method)``: up to ``top_k`` features with a positive contribution
        (largest first) and up to ``top_k`` with a negative one (most negative first); features with a
        zero contribution are never listed. Ties keep column order.

    Raises:
        ValueError: if ``top_k`` is outside 0..3.

    """
    if not 0 <= top_k <= MAX_FACTORS:
        raise ValueError(f"top_k must be between 0 and {MAX_FACTORS}, got {top_k}")
    phi = contrib_row[:-1]
    order = np.argsort(-np.abs(phi), kind="stable")
    positive: list[Factor] = []
    negative: list[Factor] = []
    for j in order:
        c = float(phi[j])
        if c == 0.0 or (len(positive) >= top_k and len(negative) >= top_k):
            break
        side = positive if c > 0 else negative
        if len(side) < top_k:
            side.append(
                Factor(
                    feature=texts[j].name,
                    value=factor_value(values[j]),
                    contribution=c,
                    text=texts[j].sentence(values[j], c),
                )
            )
    return Explanation(
        method=method,  # checked by pydantic against the contract's Literal
        base_value=float(contrib_row[-1]),
        positive=positive,
        negative=negative,
    )


def build_explanations(
    contrib: NDArray[np.float64],
    values: NDArray[Any],
    texts: Sequence[FeatureText],
    top_k: int = MAX_FACTORS,
    method: str = "treeshap",
) -> list[Explanation]:
    """``build_explanation`` for every lead.

    Args:
        contrib: additive log-odds contributions (n, n_features + 1), the base value last.
        values: the leads' raw values (n, n_features), in model column order.
        texts: how each feature is written, in model column order.
        top_k: factors kept on each side, 0..3.
        method: ``Explanation.method`` (see ``explanation_method``).

    Returns:
        One ``Explanation`` per row of ``contrib``.

    Raises:
        ValueError: if ``top_k`` is outside 0..3 (and there is at least one lead).

    """
    return [
        build_explanation(contrib[i], values[i], texts, top_k, method=method) for i in range(len(contrib))
    ]
