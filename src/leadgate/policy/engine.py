"""The policy engine: a pure function from (lead, score, policy) to tier, action and reasons.

Precedence, applied in this order (``docs/policy.md`` explains it with examples):

1. **Disqualification rules.** Every rule is checked, in file order; if any holds, the tier is
   ``disqualified``, the action is ``actions.disqualified``, and the reasons name every rule that held.
   Nothing else applies: these rules do not depend on the score, so neither overrides nor review rules
   change them.
2. **Tier by probability.** ``probability >= tiers.hot`` is hot, else ``>= tiers.warm`` warm, else
   ``>= tiers.nurture`` nurture, else disqualified (thresholds are inclusive). The action is
   ``actions[tier]``.
3. **Overrides.** The first override (file order) whose ``tiers`` include the tier and whose condition
   holds replaces the action; the tier is kept.
4. **Review.** If ``review.on_fallback`` and the score came from the rule fallback, or if
   ``confidence < review.min_confidence``, the action becomes ``human_review`` (both reasons are listed
   when both hold). Otherwise, if ``review.high_value`` matches, the action is kept and
   ``review_required`` is set. ``review_required`` is always True when the action is ``human_review``.

The engine is compiled once per policy into closures (``CompiledPolicy``); ``decide`` costs a few
microseconds per lead and reads no clock, file, randomness or global state.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from leadgate.contracts.decision import ActionName, Tier
from leadgate.policy.conditions import SCORERS, compile_condition
from leadgate.policy.outcome import PolicyOutcome, Verdict

if TYPE_CHECKING:
    from leadgate.contracts.decision import Score
    from leadgate.contracts.lead import Lead
    from leadgate.policy.model import Policy

FALLBACK_REASON = "scored by the rule fallback, not the model: human review"
_NO_FIELDS: Mapping[str, Any] = MappingProxyType({})
_TIERS: tuple[Tier, ...] = ("hot", "warm", "nurture", "disqualified")


def format_threshold(value: float) -> str:
    """Write a threshold for people: two decimals (``0.70``), more only when the value has them."""
    text = f"{value:.2f}"
    return text if float(text) == value else repr(float(value))


def format_against(value: float, threshold: float, threshold_text: str) -> str:
    """``value`` with two decimals, or more when two would print it equal to a threshold it differs from.

    So a confidence of 0.5999 against 0.60 reads "0.5999 below 0.60", never "0.60 below 0.60".
    """
    text = f"{value:.2f}"
    if value == threshold or text != threshold_text:
        return text
    for digits in range(3, 10):
        text = f"{value:.{digits}f}"
        if text != f"{threshold:.{digits}f}":
            return text
    return repr(float(value))


def _unpickled_engine() -> None:
    return None


class CompiledPolicy:
    """A policy compiled into closures, built once (``Policy.compiled()``) and reused for every lead.

    Attributes:
        ref: ``name@version`` of the policy.
        owner_id: ``id()`` of the ``Policy`` it was compiled from (a copied policy recompiles).
        needs_lead_fields: True when a condition reads a top-level lead field (``email``, ``country``).
        needs_score: True when a condition reads ``score.*``.

    """

    __slots__ = (
        "_actions",
        "_disqualification",
        "_high_value",
        "_min_confidence",
        "_min_confidence_text",
        "_on_fallback",
        "_overrides",
        "_thresholds",
        "needs_lead_fields",
        "needs_score",
        "owner_id",
        "ref",
    )

    def __init__(self, policy: Policy) -> None:
        self.owner_id = id(policy)
        self.ref = policy.ref
        tiers = policy.tiers
        self._thresholds = (
            (tiers.hot, format_threshold(tiers.hot)),
            (tiers.warm, format_threshold(tiers.warm)),
            (tiers.nurture, format_threshold(tiers.nurture)),
        )
        self._actions: dict[Tier, ActionName] = {tier: getattr(policy.actions, tier) for tier in _TIERS}
        self._disqualification = tuple(
            (compile_condition(rule.when), f"disqualified by rule {rule.id}: {rule.reason}")
            for rule in policy.disqualification
        )
        self._overrides = tuple(
            (
                frozenset(o.tiers),
                compile_condition(o.when),
                o.action,
                {t: f"rule {o.id}: {o.reason} ({o.action} instead of {self._actions[t]})" for t in o.tiers},
            )
            for o in policy.overrides
        )
        review = policy.review
        self._min_confidence = review.min_confidence
        self._min_confidence_text = format_threshold(review.min_confidence)
        self._on_fallback = review.on_fallback
        hv = review.high_value
        self._high_value = (
            None
            if hv is None
            else (frozenset(hv.tiers), compile_condition(hv.when), f"review required: {hv.reason}")
        )
        fields = policy.fields_read()
        self.needs_score = any(f.startswith("score.") for f in fields)
        self.needs_lead_fields = any(not f.startswith(("score.", "attributes.")) for f in fields)

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        # Closures do not pickle: a pickled Policy drops its engine and recompiles on first use.
        return (_unpickled_engine, ())

    def verdict(
        self,
        attributes: Mapping[str, Any],
        lead_fields: Mapping[str, Any],
        probability: float,
        confidence: float,
        fit_score: float,
        scorer: str,
    ) -> Verdict:
        """Decide for one lead from plain values (the shared core of ``decide`` and ``decide_many``).

        Args:
            attributes: ``Lead.attributes``.
            lead_fields: top-level lead fields by name (``email``, ``country``); may be empty when
                ``needs_lead_fields`` is False.
            probability: calibrated probability of conversion, in [0, 1].
            confidence: the scorer's confidence, in [0, 1].
            fit_score: ICP fit, 0-100 points.
            scorer: ``model`` or ``rule_fallback``.

        Returns:
            The ``Verdict``; inputs are not validated here (``decide_many`` validates them).

        """
        s = (probability, confidence, fit_score, scorer) if self.needs_score else ()
        reasons: list[str] = []
        for pred, text in self._disqualification:
            if pred(attributes, lead_fields, s):
                reasons.append(text)
        if reasons:
            action = self._actions["disqualified"]
            return Verdict("disqualified", action, tuple(reasons), action == "human_review", self.ref)

        (hot, hot_text), (warm, warm_text), (nurture, nurture_text) = self._thresholds
        tier: Tier
        if probability >= hot:
            tier = "hot"
            reasons.append(
                f"probability {format_against(probability, hot, hot_text)} >= hot threshold {hot_text}"
            )
        elif probability >= warm:
            tier = "warm"
            reasons.append(
                f"probability {format_against(probability, warm, warm_text)} >= warm threshold {warm_text}"
            )
        elif probability >= nurture:
            tier = "nurture"
            reasons.append(
                f"probability {format_against(probability, nurture, nurture_text)} "
                f">= nurture threshold {nurture_text}"
            )
        else:
            tier = "disqualified"
            reasons.append(
                f"probability {format_against(probability, nurture, nurture_text)} "
                f"below the nurture threshold {nurture_text}"
            )
        action = self._actions[tier]

        for tiers, pred, new_action, texts in self._overrides:
            if tier in tiers and pred(attributes, lead_fields, s):
                reasons.append(texts[tier])
                action = new_action
                break

        to_review = False
        if self._on_fallback and scorer == "rule_fallback":
            reasons.append(FALLBACK_REASON)
            to_review = True
        if confidence < self._min_confidence:
            reasons.append(
                f"confidence {format_against(confidence, self._min_confidence, self._min_confidence_text)} "
                f"below {self._min_confidence_text}: human review"
            )
            to_review = True
        if to_review:
            return Verdict(tier, "human_review", tuple(reasons), True, self.ref)
        review_required = action == "human_review"
        hv = self._high_value
        if not review_required and hv is not None and tier in hv[0] and hv[1](attributes, lead_fields, s):
            reasons.append(hv[2])
            review_required = True
        return Verdict(tier, action, tuple(reasons), review_required, self.ref)


def decide(lead: Lead, score: Score, policy: Policy) -> PolicyOutcome:
    """Apply a policy to one scored lead.

    A pure function: no I/O, clock, randomness or global state; the same inputs always give the same
    outcome, and the inputs are not modified. The precedence of the policy's sections is described in
    this module's docstring and in ``docs/policy.md``.

    Args:
        lead: the lead (``attributes`` and top-level fields are read; ``post_decision`` never is).
        score: its score (``probability``, ``confidence``, ``fit_score``, ``scorer``).
        policy: the policy (its compiled engine is reused).

    Returns:
        The ``PolicyOutcome``: tier, action, reasons in plain words, review flag and ``name@version``.

    """
    verdict = policy.compiled().verdict(
        lead.attributes,
        lead.__dict__,  # pydantic keeps field values in __dict__: a free name -> value mapping
        score.probability,
        score.confidence,
        score.fit_score,
        score.scorer,
    )
    return PolicyOutcome.from_verdict(verdict)


def _as_list(values: Collection[Any], name: str, n: int) -> list[Any]:
    tolist = getattr(values, "tolist", None)  # numpy arrays and pandas series: native Python scalars
    out = list(tolist() if callable(tolist) else values)
    if len(out) != n:
        raise ValueError(f"decide_many: {name} has {len(out)} values, expected {n} (one per lead)")
    return out


def _check_range(values: list[Any], name: str, high: float) -> None:
    if all(0.0 <= v <= high for v in values):
        return
    for i, v in enumerate(values):
        if not 0.0 <= v <= high:
            raise ValueError(f"decide_many: {name}[{i}] = {v!r} is outside [0, {high:g}]")


def decide_many(
    attributes: Sequence[Mapping[str, Any]],
    probabilities: Collection[float],
    confidences: Collection[float],
    fit_scores: Collection[float],
    scorers: Collection[str],
    policy: Policy,
    *,
    lead_fields: Sequence[Mapping[str, Any]] | None = None,
) -> list[Verdict]:
    """Apply a policy to a batch of leads without building pydantic objects per lead.

    Gives exactly what ``decide`` gives for each lead, as ``Verdict`` tuples
    (``PolicyOutcome.from_verdict`` turns one into an outcome).

    Args:
        attributes: n mappings, ``Lead.attributes`` of each lead.
        probabilities: n calibrated probabilities in [0, 1] (a list or a numpy array of shape (n,)).
        confidences: n confidences in [0, 1].
        fit_scores: n fit scores in [0, 100].
        scorers: n scorer kinds, ``model`` or ``rule_fallback``.
        policy: the policy.
        lead_fields: n mappings of top-level lead fields (``email``, ``country``); required only when
            the policy reads them (``policy.compiled().needs_lead_fields``).

    Returns:
        n ``Verdict`` tuples, in input order.

    Raises:
        ValueError: when the sequences differ in length, a probability or confidence is outside [0, 1]
            (or NaN), a fit score is outside [0, 100], a scorer is unknown, or the policy reads lead
            fields and ``lead_fields`` is None.

    """
    engine = policy.compiled()
    n = len(attributes)
    ps = _as_list(probabilities, "probabilities", n)
    cs = _as_list(confidences, "confidences", n)
    fs = _as_list(fit_scores, "fit_scores", n)
    ks = _as_list(scorers, "scorers", n)
    _check_range(ps, "probabilities", 1.0)
    _check_range(cs, "confidences", 1.0)
    _check_range(fs, "fit_scores", 100.0)
    unknown = set(ks).difference(SCORERS)
    if unknown:
        raise ValueError(
            f"decide_many: unknown scorer(s) {sorted(map(str, unknown))}; expected one of {SCORERS}"
        )
    verdict = engine.verdict
    if lead_fields is None:
        if engine.needs_lead_fields:
            raise ValueError(
                f"decide_many: policy {engine.ref} reads top-level lead fields; pass lead_fields"
            )
        return [
            verdict(a, _NO_FIELDS, p, c, f, k)
            for a, p, c, f, k in zip(attributes, ps, cs, fs, ks, strict=True)
        ]
    lf = _as_list(lead_fields, "lead_fields", n)
    return [
        verdict(a, x, p, c, f, k) for a, x, p, c, f, k in zip(attributes, lf, ps, cs, fs, ks, strict=True)
    ]
