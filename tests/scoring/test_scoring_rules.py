import io

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from leadgate.contracts.errors import ContractError
from leadgate.scoring import FitRuleSet, FitScorer, PropensityScorer, RuleFallbackScorer, load_fit_rules

RULES = {
    "name": "test_rules",
    "version": 1,
    "base_points": 10,
    "rules": [
        {
            "feature": "occupation",
            "op": "eq",
            "value": "Working Professional",
            "points": 40,
            "text": "Working pro",
        },
        {"feature": "occupation", "op": "missing", "points": -20, "text": "No occupation"},
        {
            "feature": "source",
            "op": "in",
            "value": ["reference", "partner"],
            "points": 30,
            "text": "Referred",
        },
        {"feature": "minutes", "op": "gte", "value": 10, "points": 25, "text": "Engaged"},
        {"feature": "minutes", "op": "lte", "value": 1, "points": -15, "text": "Bounced"},
        {"feature": "minutes", "op": "eq", "value": 5, "points": 1, "text": "Exactly five"},
        {"feature": "do_not_email", "op": "eq", "value": True, "points": -5, "text": "No email"},
        {"feature": "source", "op": "present", "points": 2, "text": "Source known"},
    ],
    "probability_bands": [
        {"min_points": 0, "probability": 0.1},
        {"min_points": 40, "probability": 0.5},
        {"min_points": 80, "probability": 0.9},
    ],
}

LEADS = pd.DataFrame(
    {
        "occupation": ["Working Professional", None, "Student", "Working Professional"],
        "source": ["reference", None, "google", "partner"],
        "minutes": [12.0, float("nan"), 5.0, 0.5],
        "do_not_email": ["false", "true", "false", "false"],
    }
)
# points by hand: 10 + 40 + 30 + 25 + 2 = 107 -> 100 | 10 - 20 - 5 = -15 -> 0 | 10 + 1 + 2 = 13
# | 10 + 40 + 30 - 15 + 2 = 67
EXPECTED = [100.0, 0.0, 13.0, 67.0]


def test_fit_scorer_points_by_hand():
    scorer = FitScorer(RULES)
    assert scorer.fit() is scorer
    np.testing.assert_array_equal(scorer.score(LEADS), EXPECTED)


def test_fit_scorer_requires_fit_and_columns():
    with pytest.raises(NotFittedError):
        FitScorer(RULES).score(LEADS)
    with pytest.raises(ValueError, match="minutes"):
        FitScorer(RULES).fit().score(LEADS.drop(columns=["minutes"]))
    bad = {**RULES, "rules": [{"feature": "occupation", "op": "gte", "value": 3, "points": 1, "text": "x"}]}
    with pytest.raises(ValueError, match="numeric"):
        FitScorer(bad).fit().score(LEADS)


def test_yaml_booleans_become_strings():
    rule_set = load_fit_rules(RULES)
    assert rule_set.rules[6].value == "true"


@pytest.mark.parametrize(
    "rule",
    [
        {"feature": "a", "op": "in", "value": "x", "points": 1, "text": "t"},
        {"feature": "a", "op": "in", "value": [], "points": 1, "text": "t"},
        {"feature": "a", "op": "gte", "value": "ten", "points": 1, "text": "t"},
        {"feature": "a", "op": "missing", "value": 1, "points": 1, "text": "t"},
        {"feature": "a", "op": "eq", "points": 1, "text": "t"},
        {"feature": "a", "op": "like", "value": "x", "points": 1, "text": "t"},
        {"feature": "a", "op": "eq", "value": "x", "points": 1, "text": "t", "weight": 2},
    ],
)
def test_invalid_rules_are_refused(rule):
    with pytest.raises(ContractError) as info:
        load_fit_rules({**RULES, "rules": [rule]})
    assert info.value.errors and info.value.errors[0].path.startswith("rules.0")


def test_invalid_bands_are_refused():
    for bands in (
        [{"min_points": 10, "probability": 0.1}],
        [{"min_points": 0, "probability": 0.5}, {"min_points": 40, "probability": 0.2}],
        [{"min_points": 0, "probability": 0.1}, {"min_points": 0, "probability": 0.2}],
    ):
        with pytest.raises(ContractError):
            load_fit_rules({**RULES, "probability_bands": bands})


def test_explain_one_lists_matched_rules():
    scorer = FitScorer(RULES).fit()
    e = scorer.explain_one(LEADS.iloc[3])
    assert e.method == "rules" and e.base_value == 10
    assert [(f.feature, f.contribution) for f in e.positive] == [
        ("occupation", 40),
        ("source", 30),
        ("source", 2),
    ]
    assert [(f.feature, f.contribution, f.value) for f in e.negative] == [("minutes", -15, 0.5)]
    assert e.positive[0].text == "Working pro (+40 points)"
    assert e.negative[0].text == "Bounced (-15 points)"
    assert scorer.explain(LEADS)[3] == e
    assert scorer.explain_one(LEADS.iloc[1].to_dict()).negative[0].value is None


def test_vector_and_scalar_rule_matching_agree(xeducation):
    X, _, _ = xeducation
    rule_set = load_fit_rules()
    hits = rule_set.matches(X)
    rows = X[rule_set.features].to_dict("records")
    for k, rule in enumerate(rule_set.rules):
        assert hits[:, k].tolist() == [rule.matches_value(r[rule.feature]) for r in rows], rule.text


def test_default_xeducation_rules(xeducation):
    X, y, _ = xeducation
    rule_set = load_fit_rules()
    assert isinstance(rule_set, FitRuleSet) and rule_set.ref == "xeducation_fit@1"
    assert set(rule_set.features) <= set(X.columns)
    points = FitScorer().fit().score(X)
    assert points.min() >= 0 and points.max() <= 100
    assert points[y == 1].mean() > points[y == 0].mean() + 15  # the ICP rules point the right way


def test_fallback_scorer_contract_and_bands():
    fb = RuleFallbackScorer(RULES)
    with pytest.raises(NotFittedError):
        fb.predict_proba(LEADS)
    assert fb.fit() is fb and hasattr(fb, "rule_set_")
    p = fb.predict_proba(LEADS)
    assert p.shape == (4, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1)
    # points 100, 0, 13, 67 -> bands 0.9, 0.1, 0.1, 0.5
    np.testing.assert_allclose(p[:, 1], [0.9, 0.1, 0.1, 0.5])
    np.testing.assert_array_equal(fb.predict(LEADS), [1, 0, 0, 1])
    np.testing.assert_array_equal(fb.confidence(LEADS), [0.2] * 4)
    assert fb.explain(LEADS)[0].method == "rules"
    c = clone(fb)
    assert c.get_params()["constant_confidence"] == 0.2 and not hasattr(c, "rule_set_")
    buf = io.BytesIO()
    joblib.dump(fb, buf)
    buf.seek(0)
    np.testing.assert_array_equal(joblib.load(buf).predict_proba(LEADS), p)


def test_fallback_needs_bands_and_valid_confidence():
    with pytest.raises(ValueError, match="probability_bands"):
        RuleFallbackScorer({**RULES, "probability_bands": []}).fit()
    with pytest.raises(ValueError, match="constant_confidence"):
        RuleFallbackScorer(RULES, constant_confidence=1.5).fit()


def test_fallback_confidence_is_below_the_model(xeducation, full_model):
    X, _, _ = xeducation
    fallback = RuleFallbackScorer().fit()
    assert isinstance(full_model, PropensityScorer)
    assert fallback.confidence(X).max() < np.quantile(full_model.confidence(X), 0.05)
    p = fallback.predict_proba(X)[:, 1]
    assert set(np.unique(p)) <= {b.probability for b in fallback.rule_set_.probability_bands}
