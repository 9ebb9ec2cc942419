import io

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from leadgate.scoring.blend import WEIGHT_GRID, BlendScorer
from leadgate.scoring.logistic import LogisticScorer
from leadgate.scoring.propensity import PropensityScorer
from leadgate.scoring.protocol import ModelScorer


@pytest.fixture(scope="module")
def blend(small_data):
    X, y, fs = small_data
    return BlendScorer.from_feature_set(fs, cv=3, lightgbm_params={"n_estimators": 40}).fit(X, y)


def test_members_are_fitted_on_the_same_folds(blend, small_data):
    X, y, fs = small_data
    assert isinstance(blend.lightgbm_, PropensityScorer) and isinstance(blend.logistic_, LogisticScorer)
    assert blend.lightgbm_.n_estimators == 40 and blend.lightgbm_.cv == blend.logistic_.cv == 3
    # each member alone, fitted the same way, gives the same model as inside the blend
    alone = LogisticScorer.from_feature_set(fs, cv=3).fit(X, y)
    np.testing.assert_array_equal(alone.coef_, blend.logistic_.coef_)


def test_weight_is_the_best_point_of_the_grid(blend):
    losses = {float(w): v for w, v in blend.weight_report_["log_loss"].items()}
    assert set(losses) == set(WEIGHT_GRID)
    assert losses[blend.weight_] == min(losses.values())
    assert blend.calibration_report_["weight"] == blend.weight_


def test_probability_is_the_calibrated_blend_of_member_margins(blend, small_data):
    X, _, _ = small_data
    rows = X.iloc[:300]
    w = blend.weight_
    margin = w * blend.lightgbm_.predict_raw(rows) + (1 - w) * blend.logistic_.decision_function(rows)
    np.testing.assert_allclose(blend.decision_function(rows), margin, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        blend.predict_proba(rows)[:, 1], blend.calibrator_.transform(margin), atol=1e-12
    )


def test_fixed_weight(small_data):
    X, y, fs = small_data
    m = BlendScorer.from_feature_set(fs, cv=3, weight=0.5, lightgbm_params={"n_estimators": 20}).fit(X, y)
    assert m.weight_ == 0.5 and list(m.weight_report_["log_loss"]) == ["0.5"]
    with pytest.raises(ValueError, match="weight"):
        BlendScorer.from_feature_set(fs, weight=1.5).fit(X, y)
    with pytest.raises(ValueError, match="on the BlendScorer itself"):
        BlendScorer.from_feature_set(fs, lightgbm_params={"cv": 4}).fit(X, y)


def test_contributions_add_up_to_the_blended_margin(blend, small_data):
    X, _, _ = small_data
    rows = X.iloc[:500]
    c = blend.contributions(rows)
    assert c.shape == (500, blend.n_features_in_ + 1)
    np.testing.assert_allclose(c.sum(axis=1), blend.decision_function(rows), rtol=0, atol=1e-9)
    w = blend.weight_
    expected = w * blend.lightgbm_.contributions(rows) + (1 - w) * blend.logistic_.contributions(rows)
    np.testing.assert_allclose(c, expected, rtol=0, atol=1e-12)
    names = list(blend.feature_names_in_)
    for i, e in enumerate(blend.explain(rows.iloc[:50])):
        assert e.base_value == pytest.approx(c[i, -1], abs=1e-12)
        for f in e.positive + e.negative:
            assert f.contribution == pytest.approx(c[i, names.index(f.feature)], abs=1e-12)
        assert [f.contribution for f in e.positive] == sorted(
            (f.contribution for f in e.positive), reverse=True
        )


def test_assess_matches_the_separate_calls(blend, small_data):
    X, _, _ = small_data
    rows = X.iloc[:80]
    a = blend.assess(rows)
    np.testing.assert_allclose(a.probability, blend.predict_proba(rows)[:, 1], atol=1e-12)
    np.testing.assert_allclose(a.confidence, blend.confidence(rows), atol=1e-12)
    assert a.explanations is not None and len(a.explanations) == 80
    assert [e.base_value for e in a.explanations] == pytest.approx(
        [e.base_value for e in blend.explain(rows)]
    )
    assert ((a.confidence >= 0) & (a.confidence <= 1)).all()
    assert blend.assess(rows, explain=False).explanations is None


def test_out_of_range_is_any_member(blend, small_data):
    X, _, _ = small_data
    rows = X.iloc[:4].copy().reset_index(drop=True)
    assert not blend.out_of_range(rows).any()
    rows.loc[1, "lead_source"] = "tiktok"  # a source that never appears in the export
    rows.loc[2, "total_visits"] = 1e6
    np.testing.assert_array_equal(blend.out_of_range(rows), [False, True, True, False])
    np.testing.assert_array_equal(blend.out_of_range(rows), blend.lightgbm_.out_of_range(rows))


def test_sklearn_conventions_and_pickling(blend, small_data):
    X, _, _ = small_data
    fresh = clone(blend)
    assert fresh.get_params()["lightgbm_params"] == {"n_estimators": 40}
    with pytest.raises(NotFittedError):
        fresh.predict_proba(X.iloc[:3])
    assert isinstance(blend, ModelScorer)
    buf = io.BytesIO()
    joblib.dump(blend, buf)
    buf.seek(0)
    loaded = joblib.load(buf)
    np.testing.assert_array_equal(loaded.predict_proba(X.iloc[:100]), blend.predict_proba(X.iloc[:100]))
    assert loaded.explain(X.iloc[:10]) == blend.explain(X.iloc[:10])


def test_n_jobs_reaches_the_fitted_lightgbm_member(small_data):
    X, y, fs = small_data
    m = BlendScorer.from_feature_set(fs, cv=2, weight=0.5, lightgbm_params={"n_estimators": 10}).fit(X, y)
    assert "n_jobs" in m.get_params()
    m.set_params(n_jobs=-1)  # what the Qualifier does after loading a model
    assert m.n_jobs == -1 and m.lightgbm_.n_jobs == -1
