import io

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from leadgate.contracts.decision import Explanation
from leadgate.scoring.calibration import IdentityCalibrator, choose_calibrator
from leadgate.scoring.logistic import MISSING_LEVEL, LogisticScorer, signed_log1p
from leadgate.scoring.protocol import ModelScorer


@pytest.fixture(scope="module")
def lr_model(small_data):
    X, y, fs = small_data
    return LogisticScorer.from_feature_set(fs, cv=3).fit(X, y)


def test_contributions_add_up_to_the_logit_exactly(lr_model, xeducation):
    X, _, _ = xeducation
    rows = X.iloc[:3000]
    c = lr_model.contributions(rows)
    assert c.shape == (3000, lr_model.n_features_in_ + 1)
    logit = lr_model.decision_function(rows)
    np.testing.assert_allclose(c.sum(axis=1), logit, rtol=0, atol=1e-12)
    assert np.ptp(c[:, -1]) == 0 and c[0, -1] == lr_model.base_value_
    # the logit is the fitted scikit-learn model's: intercept + coef . z
    z = lr_model.encode(rows)
    np.testing.assert_allclose(logit, z @ lr_model.coef_ + lr_model.intercept_, rtol=0, atol=1e-12)


def test_contribution_is_the_sum_over_a_features_encoded_columns(lr_model, small_data):
    X, _, _ = small_data
    row = X.iloc[[5]]
    z = lr_model.encode(row)[0]
    c = lr_model.contributions(row)[0]
    for j, name in enumerate(lr_model.feature_names_in_):
        sl = lr_model.feature_slices_[j]
        expected = sum(
            lr_model.coef_[k] * (z[k] - lr_model.column_mean_[k]) for k in range(sl.start, sl.stop)
        )
        assert c[j] == pytest.approx(expected, abs=1e-12), name
    # a lead at the training mean of every encoded column has contributions 0 and logit = base value
    assert lr_model.base_value_ == pytest.approx(
        lr_model.intercept_ + float(lr_model.coef_ @ lr_model.column_mean_), abs=1e-12
    )


def test_explanations_are_the_top_contributions_in_plain_words(lr_model, small_data):
    X, _, _ = small_data
    rows = X.iloc[:200]
    contrib = lr_model.contributions(rows)
    names = list(lr_model.feature_names_in_)
    for i, e in enumerate(lr_model.explain(rows)):
        assert isinstance(e, Explanation)
        assert e.base_value == lr_model.base_value_
        phi = contrib[i, :-1]
        assert [f.contribution for f in e.positive] == sorted((v for v in phi if v > 0), reverse=True)[:3]
        assert [f.contribution for f in e.negative] == sorted(v for v in phi if v < 0)[:3]
        for f in e.positive + e.negative:
            raw = rows.iloc[i][f.feature]
            assert f.contribution == phi[names.index(f.feature)]
            if raw is None or (isinstance(raw, float) and np.isnan(raw)):
                assert f.value is None and "not given" in f.text
            else:
                assert f.value == raw
        assert all(f.text.endswith("(raises the score)") for f in e.positive)
    assert (
        lr_model.explain(rows.iloc[:5], top_k=1)[0].positive[:1]
        == lr_model.explain(rows.iloc[:5])[0].positive[:1]
    )
    with pytest.raises(ValueError, match="top_k"):
        lr_model.explain(rows.iloc[:2], top_k=4)


def test_unseen_category_and_missing_values(lr_model, small_data):
    X, _, _ = small_data
    base = X.iloc[[0, 1, 2]].copy().reset_index(drop=True)
    assert not lr_model.out_of_range(base).any()
    unseen = base.copy()
    unseen["lead_origin"] = ["Partner Portal", "Partner Portal", "Partner Portal"]  # never in the export
    p = lr_model.predict_proba(unseen)[:, 1]
    assert np.isfinite(p).all() and ((p > 0) & (p < 1)).all()
    assert lr_model.out_of_range(unseen).all()
    # confidence = agreement of the fold models x coverage (1 of the 20 features unsupported)
    np.testing.assert_array_equal(lr_model.unsupported(unseen).sum(axis=1), [1, 1, 1])
    folds = np.stack([lr_model.calibrator_.transform(r) for r in lr_model.fold_margins(unseen)])
    agreement = 1 - np.minimum(1, 2 * 1.96 * folds.std(axis=0, ddof=1))
    coverage = 1 - 1 / lr_model.n_features_in_
    np.testing.assert_allclose(lr_model.confidence(unseen), agreement * coverage, rtol=1e-12)
    e = lr_model.explain(unseen)
    factors = [f for x in e for f in x.positive + x.negative if f.feature == "lead_origin"]
    assert all(f.value == "Partner Portal" for f in factors)
    # lead_origin is never missing in the export; country often is
    assert not lr_model.missing_seen_[list(lr_model.feature_names_in_).index("lead_origin")]
    no_origin = base.copy()
    no_origin["lead_origin"] = None
    assert lr_model.out_of_range(no_origin).all()
    no_country = base.copy()
    no_country["country"] = None
    assert not lr_model.out_of_range(no_country).any()
    no_visits = base.copy()
    no_visits["total_visits"] = np.nan
    assert np.isfinite(lr_model.predict_proba(no_visits)).all()


def test_numbers_outside_the_training_range(lr_model, small_data):
    X, _, _ = small_data
    rows = X.iloc[[0, 1]].copy().reset_index(drop=True)
    j = list(lr_model.feature_names_in_).index("total_time_on_site")
    rows["total_time_on_site"] = [lr_model.support_high_[j] + 1.0, lr_model.support_low_[j]]
    np.testing.assert_array_equal(lr_model.out_of_range(rows), [True, False])
    assert lr_model.unsupported(rows)[0, j] and not lr_model.unsupported(rows)[1, j]


def test_pickles_with_joblib(lr_model, small_data):
    X, _, _ = small_data
    buf = io.BytesIO()
    joblib.dump(lr_model, buf)
    buf.seek(0)
    loaded = joblib.load(buf)
    rows = X.iloc[:100]
    np.testing.assert_array_equal(loaded.predict_proba(rows), lr_model.predict_proba(rows))
    assert loaded.explain(rows) == lr_model.explain(rows)


def test_sklearn_conventions(lr_model, small_data):
    X, _, _ = small_data
    fresh = clone(lr_model)
    assert fresh.get_params() == lr_model.get_params() and not hasattr(fresh, "coef_")
    with pytest.raises(NotFittedError):
        fresh.predict_proba(X)
    assert isinstance(lr_model, ModelScorer)
    proba = lr_model.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(lr_model.predict(X)) <= {0, 1}
    a = lr_model.assess(X.iloc[:50])
    np.testing.assert_array_equal(a.probability, proba[:50, 1])
    np.testing.assert_array_equal(a.confidence, lr_model.confidence(X.iloc[:50]))
    assert a.explanations == lr_model.explain(X.iloc[:50])
    assert lr_model.assess(X.iloc[:5], explain=False).explanations is None
    # columns in another order and extra columns give the same scores
    shuffled = X.iloc[:50][list(reversed(X.columns))].assign(extra="x")
    np.testing.assert_array_equal(lr_model.predict_proba(shuffled), proba[:50])


def test_c_is_chosen_on_the_grid_by_held_out_log_loss(lr_model):
    assert lr_model.C_ in lr_model.Cs
    assert len(lr_model.cv_log_loss_) == len(lr_model.Cs)
    assert lr_model.cv_log_loss_[sorted(lr_model.Cs).index(lr_model.C_)] == lr_model.cv_log_loss_.min()
    assert lr_model.fold_coef_.shape == (3, len(lr_model.coef_))
    report = lr_model.calibration_report_
    assert report["chosen"] == lr_model.calibration_
    assert {"none", "sigmoid"} <= set(report) and "isotonic" not in report  # isotonic only when forced
    best = min(("none", "sigmoid"), key=lambda k: report[k]["log_loss"])
    assert report[best]["log_loss"] == report[lr_model.calibration_]["log_loss"]


def test_rare_categories_share_the_infrequent_column():
    # a CRM export: one frequent source, a long tail of partners seen once or twice
    rng = np.random.default_rng(3)
    n = 600
    source = np.where(rng.random(n) < 0.7, "Website", [f"Partner {i % 150}" for i in range(n)]).astype(object)
    visits = rng.poisson(3.0, n).astype(float)
    visits[::17] = np.nan
    y = (rng.random(n) < np.where(source == "Website", 0.5, 0.2)).astype(int)
    X = pd.DataFrame({"source": source, "visits": visits})
    m = LogisticScorer(["source"], ["visits"], min_frequency=10, cv=3, calibration="none").fit(X, y)
    enc = m.encoder_.named_transformers_["source"]
    assert enc.infrequent_categories_[0] is not None and len(enc.infrequent_categories_[0]) > 100
    # a partner never seen scores like the infrequent ones, and is flagged out of range
    new = pd.DataFrame({"source": ["Partner 999", "Partner 3"], "visits": [2.0, 2.0]})
    p = m.predict_proba(new)[:, 1]
    assert p[0] == pytest.approx(p[1], abs=1e-12)
    np.testing.assert_array_equal(m.out_of_range(new), [True, False])
    # missing visits were seen in training: imputed, with an indicator column, not out of range
    assert not m.out_of_range(pd.DataFrame({"source": ["Website"], "visits": [np.nan]})).any()
    assert isinstance(m.calibrator_, IdentityCalibrator)
    np.testing.assert_allclose(m.predict_proba(new)[:, 1], 1 / (1 + np.exp(-m.decision_function(new))))


def test_missing_category_level_and_numeric_transform():
    assert MISSING_LEVEL == "(missing)"
    np.testing.assert_allclose(signed_log1p(np.array([-3.0, 0.0, np.e - 1])), [-np.log(4.0), 0.0, 1.0])
    assert np.isnan(signed_log1p(np.array([np.nan]))).all()


def test_bad_parameters_and_input(small_data):
    X, y, fs = small_data
    with pytest.raises(ValueError, match="calibration"):
        LogisticScorer.from_feature_set(fs, calibration="platt").fit(X, y)
    with pytest.raises(ValueError, match="Cs"):
        LogisticScorer.from_feature_set(fs, Cs=()).fit(X, y)
    with pytest.raises(ValueError, match="numeric_transform"):
        LogisticScorer.from_feature_set(fs, numeric_transform="sqrt").fit(X, y)
    with pytest.raises(ValueError, match="lacks feature column"):
        LogisticScorer.from_feature_set(fs).fit(X.drop(columns=["country"]), y)
    with pytest.raises(TypeError, match="DataFrame"):
        LogisticScorer.from_feature_set(fs).fit(X.to_numpy(), y)
    with pytest.raises(ValueError, match="single class"):
        LogisticScorer.from_feature_set(fs).fit(X, np.zeros(len(X), dtype=int))


def test_choose_calibrator_can_keep_no_calibration():
    rng = np.random.default_rng(0)
    margins = rng.normal(0.0, 2.0, 3000)
    y = (rng.random(3000) < 1 / (1 + np.exp(-margins))).astype(np.int64)  # margins are true log-odds
    chosen, report = choose_calibrator(margins, y, methods=("none", "sigmoid", "isotonic"))
    assert chosen == min(("none", "sigmoid", "isotonic"), key=lambda k: report[k]["log_loss"])
    assert report["none"]["log_loss"] < report["isotonic"]["log_loss"]
    with pytest.raises(ValueError, match="at least one"):
        choose_calibrator(margins, y, methods=())


def test_small_batch_encoding_equals_the_column_transformer(lr_model, small_data):
    X, _, _ = small_data
    rows = X.iloc[:60].copy().reset_index(drop=True)
    rows.loc[0, "lead_source"] = "tiktok"  # unseen category
    rows.loc[1, "lead_origin"] = None  # missing where training had none
    rows.loc[2, "total_time_on_site"] = 1e9  # beyond the training range
    rows.loc[3, "total_visits"] = np.nan
    rows.loc[4, "page_views_per_visit"] = -3.0
    slow = np.asarray(lr_model.encoder_.transform(lr_model._prepare(rows, frame=True)), dtype=np.float64)
    fast = lr_model._encode_small(lr_model._prepare(rows))  # the arrays alone, no DataFrame
    np.testing.assert_allclose(fast, slow, rtol=1e-15, atol=1e-15)
    big = pd.concat([rows] * 2, ignore_index=True)  # 120 rows: the ColumnTransformer path
    # support: set lookups for a few leads, an index for many; the same flags
    np.testing.assert_array_equal(lr_model.unsupported(rows), lr_model.unsupported(big)[:60])
    assert lr_model.unsupported(rows)[:3].any(axis=1).all()
    np.testing.assert_allclose(
        lr_model.predict_proba(big)[:60], lr_model.predict_proba(rows), rtol=0, atol=1e-14
    )
