"""The compute half of qualification: score leads and apply the policy, in memory.

    leads --FeatureSet--> frame --model | rule fallback--> ScoredBatch --policy--> Decided (decision rows)

``Qualifier`` returns stored-form decision rows and explanations (DESIGN rule 9: engines return); storing
them is ``leadgate.runs`` and ``leadgate.audit.log``. ``Qualifier.load`` reads the model registry once, and
explaining an older decision loads that model version; nothing else here touches the store.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import Engine

from leadgate.contracts.decision import Explanation
from leadgate.db import store
from leadgate.db.rows import LeadLike, as_record
from leadgate.errors import LeadgateError
from leadgate.features import FeatureSet
from leadgate.ingest import ColumnMapping, input_hash
from leadgate.policy import Policy, decide_many
from leadgate.registry import ModelNotFoundError, RegisteredModel, load_model
from leadgate.scoring import FitScorer, RuleFallbackScorer
from leadgate.scoring.rules import GENERIC_FALLBACK, FitRuleSet, generic_fallback_rules


class QualifierConfigError(LeadgateError, ValueError):
    """The model, feature set, fit rules, policy and mapping of a qualification do not fit together."""


def check_fit_rules(rules: FitRuleSet, feature_set: FeatureSet) -> None:
    """Refuse fit rules that read a feature the feature set does not build.

    Raises:
        QualifierConfigError: naming the rule set, the missing features and the feature set.
    """
    missing = [f for f in rules.features if f not in feature_set.names]
    if missing:
        raise QualifierConfigError(
            f"fit rules {rules.ref} read {', '.join(missing)}, which feature set {feature_set.ref} does not "
            "have: fix the fit rules or leave them out of the project (the fallback then needs no column)"
        )


def check_policy_fields(policy: Policy, mapping: ColumnMapping) -> None:
    """Refuse a policy that reads lead attributes the mapping does not declare as ``pre_decision``.

    Such a rule would silently never fire (the attribute is always missing).

    Raises:
        QualifierConfigError: naming each attribute, the policy and the mapping.
    """
    stages = mapping.stages()
    problems = []
    for name in sorted(policy.attribute_names()):
        stage = stages.get(name)
        if stage is None:
            problems.append(f"attributes.{name} (not declared)")
        elif stage != "pre_decision":
            problems.append(f"attributes.{name} (declared {stage}: a decision only sees pre_decision values)")
    if problems:
        raise QualifierConfigError(
            f"policy {policy.ref} reads fields that mapping {mapping.name!r} does not provide: "
            + ", ".join(problems)
            + "; those rules would never fire: map the columns or remove the rules"
        )


ExplainMode = Literal["all", "routed", "none"]
"""Which decisions get their explanation computed inline: all, those routed to sales, or none."""

ACTOR = "leadgate"
"""The ``actor`` stored on every decision the qualifier makes."""


@dataclass
class ScoredBatch:
    """Scores of a batch of leads (arrays of shape (n,)) and the model input they came from."""

    frame: pd.DataFrame
    raw: list[list[Any]]
    probability: np.ndarray
    confidence: np.ndarray
    fit_score: np.ndarray
    scorer: list[str]
    fallback_reason: list[str | None]
    out_of_range: np.ndarray | None = None
    """True (n,) where a lead scored by the model has a feature value outside the training range (a
    category never seen, a number outside [min, max], a value missing where training never missed it);
    None when no model scored the batch."""


@dataclass
class Decided:
    """Decision rows of a batch, the explanations computed inline (by row) and out-of-range flags (n,)."""

    rows: list[dict[str, Any]]
    explanations: dict[int, Explanation]
    out_of_range: np.ndarray


class Qualifier:
    """Scores leads and applies the policy, in memory (no I/O): the compute half of qualification.

    Args:
        model: the registered propensity model, or None to score every lead with the rule fallback.
        policy: the qualification policy.
        fit_scorer: the rule-based ICP fit scorer (0-100 points).
        fallback: the rule-based scorer used without a model or when required features are missing.
        feature_set: the feature set to use when there is no model (else the model's own).
    """

    def __init__(
        self,
        model: RegisteredModel | None,
        policy: Policy,
        fit_scorer: FitScorer,
        fallback: RuleFallbackScorer,
        feature_set: FeatureSet,
    ):
        self.model = model
        if model is not None and "n_jobs" in model.estimator.get_params():
            # Trained single-threaded for reproducibility; scoring uses every core (LightGBM threads).
            model.estimator.set_params(n_jobs=-1)
        self.policy = policy
        self.fit_scorer = fit_scorer
        self.fallback = fallback
        self.feature_set = model.feature_set if model is not None else feature_set
        self.policy_ref = policy.ref
        if model is not None:
            self.model_name, self.model_version, self.model_hash = (
                model.name,
                str(model.version),
                model.content_hash,
            )
        else:
            self.model_name, self.model_version, self.model_hash = self._fallback_identity()
        self._cache: dict[str, RegisteredModel] = {}
        self._fallback_id = self._fallback_identity()

    @classmethod
    def load(
        cls,
        engine: Engine,
        policy: Policy,
        model_ref: str = "propensity@champion",
        feature_set: FeatureSet | None = None,
        fit_rules: FitRuleSet | None = None,
    ) -> Qualifier:
        """Load the model ``model_ref`` from the registry; without one, qualify with the rule fallback.

        Args:
            engine: the store holding the registry.
            policy: the qualification policy.
            model_ref: ``name``, ``name@alias`` or ``name@version``.
            feature_set: the features of the rule fallback when no model is registered (a registered
                model brings its own).
            fit_rules: the project's ICP fit rules (fit score, and the fallback's probability bands), or
                None for none: the fallback then uses ``generic_fallback_rules`` (one band, no column read)
                and says so on every decision it makes.

        Raises:
            QualifierConfigError: no model and no ``feature_set``; fit rules reading a feature the
                feature set lacks.
        """
        with engine.connect() as conn:
            try:
                model: RegisteredModel | None = load_model(conn, model_ref)
            except ModelNotFoundError:
                model = None
        fs = model.feature_set if model is not None else feature_set
        if fs is None:
            raise QualifierConfigError(
                f"no model registered as {model_ref} and no feature set given for the rule fallback: "
                "train one (`leadgate train`) or give the project's feature set"
            )
        if fit_rules is not None:
            check_fit_rules(fit_rules, fs)
            rules = fit_rules
        else:
            base_rate = model.metrics.get("base_rate") if model is not None else None
            rules = generic_fallback_rules(base_rate if base_rate is not None else policy.tiers.warm)
        return cls(model, policy, FitScorer(rules).fit(), RuleFallbackScorer(rules).fit(), fs)

    def run_key(self, explain: str) -> str:
        """sha256 of what a qualify run's decisions depend on besides the file and mapping.

        Model version and hash, feature set, fit rules, policy version and content, and the explain mode:
        a run resumes only with the same ones, so one run never mixes two models or policies.
        """
        parts = [
            self.model_name,
            self.model_version,
            self.model_hash,
            self.feature_set.ref,
            self._fallback_id[2],
            self.policy.ref,
            self.policy.content_hash(),
            explain,
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    def _fallback_identity(self) -> tuple[str, str, str]:
        """``(name, version, sha256)`` of the rule fallback: its rule set's name, version and content hash."""
        rules = self.fallback.rule_set_
        digest = hashlib.sha256(rules.model_dump_json().encode()).hexdigest()
        return "rule_fallback", f"{rules.name}@{rules.version}", digest

    # -- scoring

    def score(self, leads: Sequence[LeadLike]) -> ScoredBatch:
        """Probability, confidence, fit score and scorer kind of each lead.

        Leads missing a ``required`` feature, and every lead when no model is registered, are scored by
        the rule fallback; ``fallback_reason`` says why.
        """
        raw = self.feature_set.raw_columns([as_record(lead)["attributes"] for lead in leads])
        frame = self.feature_set.frame_from_columns(raw)
        n = len(leads)
        fit = np.asarray(self.fit_scorer.score(frame), dtype=np.float64)
        if self.model is None:
            proba = self.fallback.predict_proba(frame)[:, 1]
            conf = self.fallback.confidence(frame)
            why = "no model registered" + self._fallback_note
            return ScoredBatch(frame, raw, proba, conf, fit, ["rule_fallback"] * n, [why] * n)
        proba = np.empty(n)
        conf = np.empty(n)
        scorer = ["model"] * n
        reason: list[str | None] = [None] * n
        missing = self.feature_set.missing_required(frame)
        ok = ~missing
        if ok.any():
            assessed = self.model.estimator.assess(frame[ok] if missing.any() else frame, explain=False)
            proba[ok] = assessed.probability
            conf[ok] = assessed.confidence
        out_of_range = np.zeros(n, dtype=bool)
        if ok.any():
            flags = getattr(assessed, "out_of_range", None)  # models pickled before issue 7 do not say
            if flags is None and hasattr(self.model.estimator, "out_of_range"):
                flags = self.model.estimator.out_of_range(frame[ok] if missing.any() else frame)
            if flags is not None:
                out_of_range[ok] = flags
        if missing.any():
            sub = frame[missing]
            proba[missing] = self.fallback.predict_proba(sub)[:, 1]
            conf[missing] = self.fallback.confidence(sub)
            names = [f.name for f in self.feature_set.features if f.required]
            for i in np.flatnonzero(missing):
                absent = [nm for nm in names if _is_missing(frame.at[i, nm])]
                scorer[i] = "rule_fallback"
                reason[i] = "required features missing: " + ", ".join(absent) + self._fallback_note
        return ScoredBatch(frame, raw, proba, conf, fit, scorer, reason, out_of_range)

    @property
    def _fallback_note(self) -> str:
        rules = self.fallback.rule_set_
        if rules.name != GENERIC_FALLBACK:
            return ""
        p = rules.probability_bands[0].probability
        return f"; no fit rules in the project: one probability band ({p:.3f}) for every lead, no column read"

    def explain(self, batch: ScoredBatch, rows: Sequence[int]) -> dict[int, Explanation]:
        """Explanations of the leads at positions ``rows`` of ``batch``.

        TreeSHAP for model scores, the fit rules for fallback scores.
        """
        out: dict[int, Explanation] = {}
        model_rows = [i for i in rows if batch.scorer[i] == "model"]
        if model_rows and self.model is not None:
            explanations = self.model.estimator.explain(batch.frame.iloc[model_rows].reset_index(drop=True))
            out.update(zip(model_rows, explanations, strict=True))
        for i in rows:
            if batch.scorer[i] != "model":
                out[i] = self.fit_scorer.explain_one(batch.frame.iloc[i])
        return out

    def explain_features(
        self, features: dict[str, Any], scorer: str, model_name: str, model_version: str, engine: Engine
    ) -> Explanation:
        """Explain a stored decision from its stored feature values with the model version that made it.

        Raises:
            ModelNotFoundError: that model version is not in the registry any more.
        """
        frame = self.feature_set_for(model_name, model_version, engine).frame_from_records(
            [{name: features.get(name) for name in features}]
        )
        if scorer != "model":
            return self.fit_scorer.explain_one(frame.iloc[0])
        model = self._model_version(model_name, model_version, engine)
        return model.estimator.explain(frame)[0]

    def _model_version(self, name: str, version: str, engine: Engine) -> RegisteredModel:
        if self.model is not None and (self.model.name, str(self.model.version)) == (name, version):
            return self.model
        key = f"{name}@{version}"
        if key not in self._cache:
            with engine.connect() as conn:
                self._cache[key] = load_model(conn, key)
        return self._cache[key]

    def feature_set_for(self, name: str, version: str, engine: Engine) -> FeatureSet:
        """Feature set of the model ``name@version``, keyed by feature name (stored decisions use names)."""
        fs = (
            self.feature_set
            if name == "rule_fallback"
            else self._model_version(name, version, engine).feature_set
        )
        return fs.model_copy(
            update={"features": [f.model_copy(update={"source": None}) for f in fs.features]}
        )

    # -- deciding

    def decide(
        self,
        leads: Sequence[LeadLike],
        explain: ExplainMode = "all",
        now: datetime | None = None,
        input_hashes: Sequence[str] | None = None,
    ) -> tuple[list[dict[str, Any]], dict[int, Explanation]]:
        """Score and decide ``leads``.

        ``input_hashes`` (one per lead, from ``lead_row``) saves recomputing them.

        Returns:
            ``(rows, explanations)``: one stored-form decision row per lead (the ``decisions`` table
            columns without the chain hashes) and the explanations computed inline, by row position
            (all leads for ``all``, those routed to sales for ``routed``, none for ``none``).
        """
        decided = self.decide_batch(leads, explain, now, input_hashes)
        return decided.rows, decided.explanations

    def decide_batch(
        self,
        leads: Sequence[LeadLike],
        explain: ExplainMode = "all",
        now: datetime | None = None,
        input_hashes: Sequence[str] | None = None,
    ) -> Decided:
        """``decide`` with the out-of-range flags of the batch (see ``ScoredBatch.out_of_range``)."""
        records = [as_record(lead) for lead in leads]
        batch = self.score(records)
        verdicts = decide_many(
            [r["attributes"] for r in records],
            batch.probability,
            batch.confidence,
            batch.fit_score,
            batch.scorer,
            self.policy,
            lead_fields=[_lead_fields(r) for r in records]
            if self.policy.compiled().needs_lead_fields
            else None,
        )
        n = len(records)
        hashes = input_hashes if input_hashes is not None else [input_hash(r) for r in records]
        names = self.feature_set.names
        model_id = (self.model_name, self.model_version, self.model_hash)
        identity = [model_id if k == "model" else self._fallback_id for k in batch.scorer]
        reasons_json: dict[tuple[str, ...], str] = {}  # reasons repeat (two-decimal probabilities)
        reasons = []
        for v in verdicts:
            text = reasons_json.get(v.reasons)
            if text is None:
                text = reasons_json[v.reasons] = orjson.dumps(v.reasons).decode()
            reasons.append(text)
        # Built a column at a time; ``dict(zip(keys, row))`` runs in C. Same keys, order and values as
        # the ``decisions`` table row of each lead.
        columns: dict[str, Iterable[Any]] = {
            "decision_id": store.new_ids(n),
            "lead_id": [r["lead_id"] for r in records],
            "decided_at": itertools.repeat(store.iso(now or store.utcnow()), n),
            "input_hash": hashes,
            "feature_set": itertools.repeat(self.feature_set.ref, n),
            "features": [
                orjson.dumps(dict(zip(names, values, strict=True))).decode()
                for values in zip(*batch.raw, strict=True)
            ],
            "model_name": [m[0] for m in identity],
            "model_version": [m[1] for m in identity],
            "model_hash": [m[2] for m in identity],
            "scorer": batch.scorer,
            "fallback_reason": batch.fallback_reason,
            "probability": batch.probability.tolist(),
            "confidence": batch.confidence.tolist(),
            "fit_score": batch.fit_score.tolist(),
            "policy_version": itertools.repeat(self.policy_ref, n),
            "tier": [v.tier for v in verdicts],
            "action": [v.action for v in verdicts],
            "reasons": reasons,
            "review_required": [bool(v.review_required) for v in verdicts],
            "actor": itertools.repeat(ACTOR, n),
        }
        keys = tuple(columns)
        rows: list[dict[str, Any]] = list(
            map(dict, map(zip, itertools.repeat(keys), zip(*columns.values(), strict=True)))
        )
        if explain == "all":
            wanted = list(range(len(leads)))
        elif explain == "routed":
            wanted = [i for i, r in enumerate(rows) if r["action"] == "route_to_sales"]
        else:
            wanted = []
        oor = batch.out_of_range if batch.out_of_range is not None else np.zeros(n, dtype=bool)
        return Decided(rows, self.explain(batch, wanted) if wanted else {}, oor)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _lead_fields(record: dict[str, Any]) -> dict[str, Any]:
    return {name: record.get(name) for name in _LEAD_FIELDS}


_LEAD_FIELDS = (
    "lead_id",
    "source",
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "country",
    "city",
    "phone",
)
