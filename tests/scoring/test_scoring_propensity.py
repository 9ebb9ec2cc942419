import io

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.isotonic import IsotonicRegression

from leadgate.scoring import Assessment, PropensityScorer
from leadgate.scoring.calibration import IsotonicCalibrator, SigmoidCalibrator, choose_calibrator
from leadgate.scoring.propensity import UNSEEN_CODE


def test_fit_returns_self_and_sets_learned_state(small_data):
    X, y, fs = small_data
    model = PropensityScorer.from_feature_set(fs, n_estimators=20, cv=3)
    assert model.fit(X, y) is model
    assert list(model.classes_) == [0, 1]
    assert model.n_features_in_ == len(fs.names)
    assert list(model.feature_names_in_) == fs.names
    assert len(model.fold_boosters_) == 3
    assert model.booster_.num_trees() == 20


def test_init_only_stores_params(xeducation):
    _, _, fs = xeducation
    model = PropensityScorer(fs.categorical, fs.numeric, calibration="bogus", cv=1)
    assert model.get_params()["calibration"] == "bogus"
    assert not hasattr(model, "booster_")


def test_predict_proba_shape_and_sums(small_model, small_data):
    X, _, _ = small_data
    p = small_model.predict_proba(X)
    assert p.shape == (len(X), 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert (p >= 0).all() and (p <= 1).all()
    assert set(np.unique(small_model.predict(X))) <= {0, 1}


def test_clone_is_unfitted_with_same_params(small_model, small_data):
    X, _, _ = small_data
    c = clone(small_model)
    assert c.get_params() == small_model.get_params()
    assert not hasattr(c, "booster_")
    with pytest.raises(NotFittedError):
        c.predict_proba(X)


def test_joblib_round_trip_gives_equal_outputs(small_model, small_data):
    X, _, _ = small_data
    buf = io.BytesIO()
    joblib.dump(small_model, buf)
    buf.seek(0)
    loaded = joblib.load(buf)
    np.testing.assert_array_equal(loaded.predict_proba(X), small_model.predict_proba(X))
    np.testing.assert_array_equal(loaded.confidence(X), small_model.confidence(X))
    np.testing.assert_array_equal(loaded.contributions(X), small_model.contributions(X))
    assert loaded.explain(X.iloc[:5]) == small_model.explain(X.iloc[:5])


def test_encoded_input_equals_frame_input(small_model, small_data):
    X, _, _ = small_data
    m = small_model.encode(X)
    assert m.dtype == np.float64 and m.shape == (len(X), small_model.n_features_in_)
    np.testing.assert_array_equal(small_model.predict_proba(m), small_model.predict_proba(X))
    np.testing.assert_array_equal(small_model.predict_proba(m[3]), small_model.predict_proba(X.iloc[[3]]))


def test_small_and_large_encoding_paths_agree(small_model, small_data):
    X, _, _ = small_data
    big = small_model.encode(X)  # vectorised path (> 64 rows)
    one_by_one = np.vstack([small_model.encode(X.iloc[[i]]) for i in range(0, len(X), 97)])
    np.testing.assert_array_equal(big[::97], one_by_one)


def test_column_order_and_extra_columns_do_not_matter(small_model, small_data):
    X, _, _ = small_data
    shuffled = X[list(reversed(X.columns))].assign(unrelated="x")
    np.testing.assert_array_equal(small_model.predict_proba(shuffled), small_model.predict_proba(X))


def test_bad_inputs_fail_loudly(small_model, small_data):
    X, y, fs = small_data
    with pytest.raises(ValueError, match="lead_origin"):
        small_model.predict_proba(X.drop(columns=["lead_origin"]))
    with pytest.raises(TypeError):
        PropensityScorer(fs.categorical, fs.numeric).fit(X.to_numpy(), y)
    with pytest.raises(ValueError, match="single class"):
        PropensityScorer(fs.categorical, fs.numeric).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="calibration"):
        PropensityScorer(fs.categorical, fs.numeric, calibration="platt").fit(X, y)
    with pytest.raises(ValueError, match="both categorical and numeric"):
        PropensityScorer(["country"], ["country"]).fit(X, y)
    with pytest.raises(ValueError, match="shape"):
        small_model.predict_proba(np.zeros((2, 3)))
    with pytest.raises(ValueError):
        small_model.predict_proba(X.assign(total_visits="many"))


def test_unseen_category_is_coded_apart_from_missing_and_predicts_like_missing(small_model, small_data):
    X, _, _ = small_data
    j = list(small_model.feature_names_in_).index("lead_source")
    row = X.iloc[[0]].copy()
    unseen = row.assign(lead_source="carrier pigeon")
    missing = row.assign(lead_source=None)
    assert small_model.encode(unseen)[0, j] == UNSEEN_CODE
    assert np.isnan(small_model.encode(missing)[0, j])
    # LightGBM routes negative codes and NaN the same way at every categorical split
    np.testing.assert_array_equal(small_model.predict_raw(unseen), small_model.predict_raw(missing))
    assert small_model.unsupported(unseen)[0, j]
    assert not small_model.unsupported(missing)[0, j]  # lead_source was missing in some training leads


def test_confidence_range_and_coverage_penalty(small_model, small_data):
    X, _, _ = small_data
    conf = small_model.confidence(X)
    assert conf.shape == (len(X),)
    assert (conf >= 0).all() and (conf <= 1).all()
    assert conf.std() > 0  # it discriminates between leads
    row = X.iloc[[0]]
    # The training maximum and 1e12 fall on the same side of every split, so the fold models agree the
    # same way on both rows: only coverage differs (an unseen category and an out-of-range number).
    top = float(X["total_time_on_site"].max())
    base = small_model.confidence(row.assign(lead_source=None, total_time_on_site=top))[0]
    unseen = small_model.confidence(row.assign(lead_source="carrier pigeon", total_time_on_site=1e12))[0]
    f = small_model.n_features_in_
    assert unseen == pytest.approx(base * (1 - 2 / f))


def test_confidence_is_agreement_of_fold_models(small_model, small_data):
    X, _, _ = small_data
    m = small_model.encode(X.iloc[:50])
    probs = np.stack(
        [small_model.calibrator_.transform(b.predict(m, raw_score=True)) for b in small_model.fold_boosters_]
    )
    expected = 1 - np.minimum(1, 2 * 1.96 * probs.std(axis=0, ddof=1))
    coverage = 1 - small_model.unsupported(m).sum(axis=1) / small_model.n_features_in_
    np.testing.assert_allclose(small_model.confidence(m), expected * coverage)


def test_calibration_chosen_by_measured_log_loss(small_model):
    report = small_model.calibration_report_
    assert report["criterion"] == "log_loss"
    for method in ("isotonic", "sigmoid"):
        assert set(report[method]) == {"log_loss", "brier", "ece"}
        assert all(np.isfinite(v) for v in report[method].values())
    lower = min(("isotonic", "sigmoid"), key=lambda k: report[k]["log_loss"])
    assert report["chosen"] == small_model.calibration_ == lower


def test_choose_calibrator_picks_the_lower_log_loss():
    rng = np.random.default_rng(0)
    # a step-shaped truth that a sigmoid cannot follow: isotonic must win
    margins = rng.uniform(-3, 3, 4000)
    y = (rng.uniform(size=4000) < np.where(margins > 0, 0.9, 0.1)).astype(np.int64)
    chosen, report = choose_calibrator(margins, y)
    assert chosen == "isotonic"
    assert report["isotonic"]["log_loss"] < report["sigmoid"]["log_loss"]
    # a logistic truth: the sigmoid wins
    y2 = (rng.uniform(size=4000) < 1 / (1 + np.exp(-0.8 * margins))).astype(np.int64)
    chosen2, report2 = choose_calibrator(margins, y2)
    assert chosen2 == "sigmoid"
    assert report2["sigmoid"]["log_loss"] <= report2["isotonic"]["log_loss"]


def test_forced_calibration(small_data):
    X, y, fs = small_data
    model = PropensityScorer.from_feature_set(fs, n_estimators=20, cv=3, calibration="isotonic").fit(X, y)
    assert model.calibration_ == "isotonic"
    assert model.calibration_report_["forced"] is True
    assert isinstance(model.calibrator_, IsotonicCalibrator)


def test_isotonic_calibrator_matches_sklearn():
    rng = np.random.default_rng(2)
    m = rng.normal(size=500)
    y = (rng.uniform(size=500) < 1 / (1 + np.exp(-m))).astype(np.int64)
    cal = IsotonicCalibrator.fit(m, y)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(m, y.astype(float))
    grid = np.linspace(-4, 4, 101)
    np.testing.assert_allclose(cal.transform(grid), np.clip(iso.predict(grid), 1e-3, 1 - 1e-3))


def test_sigmoid_calibrator_is_at_the_platt_optimum():
    rng = np.random.default_rng(4)
    m = rng.normal(size=800)
    y = (rng.uniform(size=800) < 1 / (1 + np.exp(-(2 * m - 0.5)))).astype(np.int64)
    cal = SigmoidCalibrator.fit(m, y)
    n_pos, n_neg = y.sum(), len(y) - y.sum()
    t = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    r = 1 / (1 + np.exp(-(cal.a * m + cal.b))) - t
    assert abs(np.sum(r * m)) < 1e-3 and abs(np.sum(r)) < 1e-3  # gradient of the log loss is zero
    assert cal.a == pytest.approx(2, abs=0.4)


def test_assess_matches_separate_calls(full_model, xeducation):
    X, _, _ = xeducation
    rows = X.iloc[:20]
    a = full_model.assess(rows)
    assert isinstance(a, Assessment)
    np.testing.assert_array_equal(a.probability, full_model.predict_proba(rows)[:, 1])
    np.testing.assert_array_equal(a.confidence, full_model.confidence(rows))
    assert a.explanations == full_model.explain(rows)
    assert full_model.assess(rows, explain=False).explanations is None


def test_model_is_not_a_constant(full_model, xeducation):
    X, y, _ = xeducation
    p = full_model.predict_proba(X)[:, 1]
    assert p[y == 1].mean() > p[y == 0].mean() + 0.3


def test_empty_input(small_model, small_data):
    X, _, _ = small_data
    none = X.iloc[:0]
    assert small_model.predict_proba(none).shape == (0, 2)
    assert small_model.confidence(none).shape == (0,)
    assert small_model.contributions(none).shape == (0, small_model.n_features_in_ + 1)
    assert small_model.explain(none) == []


def test_pandas_extension_dtypes_encode_like_object_columns(small_model, small_data):
    X, _, fs = small_data
    ext = X.copy()
    for c in fs.categorical:
        ext[c] = ext[c].astype("string")  # missing becomes pd.NA
    for c in fs.numeric:
        ext[c] = ext[c].astype("Float64")
    np.testing.assert_array_equal(small_model.encode(ext), small_model.encode(X))
    np.testing.assert_array_equal(small_model.encode(ext.iloc[:3]), small_model.encode(X.iloc[:3]))
    assert small_model.explain(ext.iloc[:3]) == small_model.explain(X.iloc[:3])


def test_out_of_range_flags_values_outside_training_support(small_model, small_data):
    X, _, _ = small_data
    rows = X.iloc[:5].copy().reset_index(drop=True)
    assert not small_model.out_of_range(rows).any()
    names = list(small_model.feature_names_in_)
    j = names.index("total_time_on_site")
    rows.loc[0, "lead_source"] = "tiktok"  # never seen in training
    rows.loc[1, "total_time_on_site"] = small_model.support_high_[j] + 1.0
    rows.loc[2, "lead_origin"] = None  # lead_origin is never missing in the export
    rows.loc[3, "country"] = None  # country often is: inside support
    rows.loc[4, "total_time_on_site"] = small_model.support_low_[j]  # the training minimum is inside
    np.testing.assert_array_equal(small_model.out_of_range(rows), [True, True, True, False, False])
    np.testing.assert_array_equal(
        small_model.out_of_range(small_model.encode(rows)), small_model.out_of_range(rows)
    )
    assert small_model.out_of_range(rows).dtype == bool


def test_fit_oof_returns_the_out_of_fold_margins(small_data):
    from sklearn.model_selection import StratifiedKFold

    X, y, fs = small_data
    model = PropensityScorer.from_feature_set(fs, n_estimators=20, cv=3)
    oof = model.fit_oof(X, y)
    assert oof.shape == (len(X),)
    folds = model.fold_margins(X)
    assert folds.shape == (3, len(X))
    for k, (_, test) in enumerate(StratifiedKFold(3, shuffle=True, random_state=42).split(X, y)):
        np.testing.assert_allclose(oof[test], folds[k, test], rtol=0, atol=1e-12)
    assert model.calibration_report_["oof_roc_auc"] > 0.75


def test_categorical_regularisation_reaches_lightgbm(small_data):
    _, _, fs = small_data
    model = PropensityScorer.from_feature_set(fs, n_estimators=5, cv=2, cat_smooth=55.0, cat_l2=3.0)
    params = model._lgb_params()
    assert params["cat_smooth"] == 55.0 and params["cat_l2"] == 3.0
    assert params["min_data_per_group"] == 100 and params["max_cat_threshold"] == 32


def test_rare_categories_share_one_code_and_unseen_ones_join_it():
    import pandas as pd

    from leadgate.scoring.propensity import INFREQUENT_LABEL

    # a marketing export: a few busy landing pages and a long tail seen once or twice
    rng = np.random.default_rng(5)
    n = 1500
    busy = rng.choice(["lp-home", "lp-pricing", "lp-demo"], size=n)
    tail = np.array([f"lp-{i:04d}" for i in rng.integers(0, 3000, size=n)], dtype=object)
    page = np.where(rng.random(n) < 0.6, busy, tail).astype(object)
    y = (rng.random(n) < np.where(page == "lp-demo", 0.6, 0.2)).astype(int)
    X = pd.DataFrame({"page": page, "visits": rng.poisson(2, n).astype(float)})
    model = PropensityScorer(["page"], ["visits"], n_estimators=30, cv=3, min_category_count=5).fit(X, y)
    vocab = model.categories_["page"]
    code = model.infrequent_code_[0]
    assert code == 3.0 and vocab["lp-demo"] < 3
    counts = X["page"].value_counts()
    assert all(vocab[v] == code for v in counts[counts < 5].index)
    new = pd.DataFrame({"page": ["lp-9999", counts[counts < 5].index[0]], "visits": [2.0, 2.0]})
    p = model.predict_proba(new)[:, 1]
    assert p[0] == p[1]  # a page never seen scores like the rare ones
    np.testing.assert_array_equal(model.out_of_range(new), [True, False])  # but is outside support
    assert model.encode(new)[0, 0] == UNSEEN_CODE
    assert model._decode(np.array([[code, 2.0]]))[0, 0] == INFREQUENT_LABEL
    np.testing.assert_allclose(model.contributions(new).sum(axis=1), model.predict_raw(new), atol=1e-9)
    with pytest.raises(ValueError, match="min_category_count"):
        PropensityScorer(["page"], ["visits"], min_category_count=0).fit(X, y)


def test_models_pickled_before_issue_7_still_load_and_predict_the_same(small_model, small_data):
    import copy
    import pickle

    X, _, _ = small_data
    old = copy.deepcopy(small_model)
    for key in ("cat_smooth", "cat_l2", "min_data_per_group", "max_cat_threshold", "min_category_count"):
        del old.__dict__[key]
    old.infrequent_code_ = np.full(old.n_features_in_, np.nan)
    del old.__dict__["infrequent_code_"]
    loaded = pickle.loads(pickle.dumps(old))
    params = loaded.get_params()  # the Qualifier reads n_jobs this way
    assert params["min_category_count"] == 1 and params["cat_smooth"] == 10.0
    rows = X.iloc[:200]
    np.testing.assert_array_equal(loaded.predict_proba(rows), small_model.predict_proba(rows))
    assert loaded.explain(loaded.encode(rows.iloc[:5])) == small_model.explain(
        small_model.encode(rows.iloc[:5])
    )


def test_propensity_scorer_is_a_model_scorer(small_model):
    from leadgate.scoring.protocol import ModelScorer

    assert isinstance(small_model, ModelScorer)
    assert not isinstance(object(), ModelScorer)
