import math

import numpy as np
import pytest

from leadgate.contracts.decision import Explanation
from leadgate.scoring.explain import UNSEEN, FeatureText, build_explanation


def test_optimized_contributions_equal_plain_pred_contrib_on_all_leads(full_model, xeducation):
    X, _, _ = xeducation
    m = full_model.encode(X)
    np.testing.assert_array_equal(full_model.contributions(m), full_model.contributions(m, optimized=False))


def _boundary_rows(model, base):
    """Rows whose values sit exactly on, just above and just below every split threshold.

    For each feature, every variant starts from the same few base rows, so two variants share a cell
    only if the cell keys cannot tell their values apart: a wrong key merges rows LightGBM separates.
    """
    rows = []
    for j in range(model.n_features_in_):
        if model.cells_.categorical[j]:
            n_codes = len(model.categories_[model.feature_names_in_[j]])
            values = [np.nan, -1.0, *range(n_codes), n_codes + 3.0]
        else:
            thr = model.cells_.thresholds[j]
            values = [np.nan, 0.0, -0.0, 1e-40, -1e300, 1e300]
            for t in thr:
                values += [t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf)]
        for b in base[:3]:
            for v in values:
                row = b.copy()
                row[j] = v
                rows.append(row)
    return np.array(rows)


def test_optimized_contributions_exact_on_split_boundaries(full_model, xeducation):
    X, _, _ = xeducation
    m = _boundary_rows(full_model, full_model.encode(X.iloc[:500]))
    m = np.vstack([m, m[::-1]])  # duplicates across cells
    assert len(m) > 1000
    np.testing.assert_array_equal(full_model.contributions(m), full_model.contributions(m, optimized=False))


def test_contributions_sum_to_raw_margin(full_model, xeducation):
    X, _, _ = xeducation
    c = full_model.contributions(X.iloc[:2000])
    assert c.shape == (2000, full_model.n_features_in_ + 1)
    np.testing.assert_allclose(c.sum(axis=1), full_model.predict_raw(X.iloc[:2000]), atol=1e-9)
    assert np.ptp(c[:, -1]) == 0  # one base value


def test_explanations_are_the_top_contributions(full_model, xeducation):
    X, _, _ = xeducation
    rows = X.iloc[:300]
    contrib = full_model.contributions(rows)
    names = list(full_model.feature_names_in_)
    for i, e in enumerate(full_model.explain(rows)):
        assert isinstance(e, Explanation) and e.method == "treeshap"
        assert e.base_value == contrib[i, -1]
        phi = contrib[i, :-1]
        pos = sorted((v for v in phi if v > 0), reverse=True)[:3]
        neg = sorted(v for v in phi if v < 0)[:3]
        assert [f.contribution for f in e.positive] == pos
        assert [f.contribution for f in e.negative] == neg
        for f in e.positive + e.negative:
            j = names.index(f.feature)
            assert f.contribution == phi[j] != 0
            raw = rows.iloc[i][f.feature]
            if raw is None or (isinstance(raw, float) and math.isnan(raw)):
                assert f.value is None and "not given" in f.text
            else:
                assert f.value == raw
        assert all(f.text.endswith("(raises the score)") for f in e.positive)
        assert all(f.text.endswith("(lowers the score)") for f in e.negative)


def test_optimized_explanations_equal_unoptimized(full_model, xeducation):
    X, _, _ = xeducation
    rows = X.sample(500, random_state=1)
    assert full_model.explain(rows) == full_model.explain(rows, optimized=False)


def test_explain_encoded_input_decodes_values(full_model, xeducation):
    X, _, _ = xeducation
    rows = X.iloc[:50]
    assert full_model.explain(full_model.encode(rows)) == full_model.explain(rows)
    m = full_model.encode(rows)
    j = list(full_model.feature_names_in_).index("lead_origin")
    m[:, j] = -1.0
    assert all(v is UNSEEN for v in full_model._decode(m)[:, j])


def test_top_k(full_model, xeducation):
    X, _, _ = xeducation
    e = full_model.explain(X.iloc[:20], top_k=1)
    assert all(len(x.positive) <= 1 and len(x.negative) <= 1 for x in e)
    with pytest.raises(ValueError):
        full_model.explain(X.iloc[:2], top_k=4)


def test_zero_contributions_are_not_factors():
    texts = [FeatureText.build(n, None, None, numeric=True) for n in ("a", "b", "c")]
    e = build_explanation(np.array([0.0, 0.5, 0.0, -1.0]), [1.0, 2.0, 3.0], texts)
    assert [f.feature for f in e.positive] == ["b"] and e.negative == []
    assert e.base_value == -1.0


def test_feature_text_wording():
    time_on_site = FeatureText.build("total_time_on_site", "time spent on the website", "seconds", True)
    assert time_on_site.sentence(1500.0, 0.4) == "Time spent on the website: 25 min (raises the score)"
    assert time_on_site.format_value(45.0) == "45 s"
    assert time_on_site.format_value(90.0) == "1.5 min"
    assert time_on_site.format_value(9000.0) == "2.5 h"
    origin = FeatureText.build("lead_origin", "how the lead was created (lead origin)", None, False)
    assert origin.sentence("Landing Page Submission", -0.2) == (
        "Lead origin: Landing Page Submission (lowers the score)"
    )
    occupation = FeatureText.build("occupation", "current occupation", None, False)
    assert occupation.sentence(None, -0.3) == "Current occupation not given (lowers the score)"
    assert occupation.sentence(float("nan"), -0.3) == "Current occupation not given (lowers the score)"
    assert (
        occupation.sentence(UNSEEN, -0.3)
        == "Current occupation: a value not seen in training (lowers the score)"
    )
    email = FeatureText.build("do_not_email", "asked not to be emailed", None, False)
    assert email.sentence("true", -0.5) == "Asked not to be emailed: yes (lowers the score)"
    visits = FeatureText.build("total_visits", "visits to the website", "visits", True)
    assert visits.sentence(5.0, 0.1) == "Visits to the website: 5 (raises the score)"
    pages = FeatureText.build("page_views_per_visit", "pages per visit", "views", True)
    assert pages.sentence(2.5, 0.1) == "Pages per visit: 2.5 views (raises the score)"
    spent = FeatureText.build("total_time_on_site", "Spent {value} on the website", "seconds", True)
    assert spent.sentence(1500.0, 0.4) == "Spent 25 min on the website (raises the score)"
    bare = FeatureText.build("lead_score_x", None, None, True)
    assert bare.sentence(3.0, 0.1) == "Lead score x: 3 (raises the score)"


def test_label_is_a_trailing_parenthesis_only_when_it_names_the_feature():
    # issue 7: "number of employees (thousands)" was labelled "Thousands: 5228"
    employees = FeatureText.build("employees", "number of employees (thousands)", None, True)
    assert employees.label == "Number of employees (thousands)"
    assert employees.sentence(5228.0, 0.2) == "Number of employees (thousands): 5228 (raises the score)"
    revenue = FeatureText.build("revenue", "declared monthly revenue (BRL)", None, True)
    assert revenue.sentence(900.0, -0.1) == "Declared monthly revenue (BRL): 900 (lowers the score)"
    number = FeatureText.build("lead_number", "arrival order (lead number)", "lead number", True)
    assert number.label == "Lead number"
    source = FeatureText.build("lead_source", "where the lead came from (Lead Source)", None, False)
    assert source.sentence("Google", 0.3) == "Lead Source: Google (raises the score)"
