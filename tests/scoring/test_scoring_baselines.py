import io
import math

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from leadgate.scoring import LogisticBaseline, MauticPointsScorer, OdooNaiveBayesScorer, metrics

BASELINES = [MauticPointsScorer, OdooNaiveBayesScorer, LogisticBaseline]


@pytest.mark.parametrize("cls", BASELINES)
def test_estimator_contract(cls, small_data):
    X, y, fs = small_data
    est = cls(fs.categorical, fs.numeric)
    with pytest.raises(NotFittedError):
        est.predict_proba(X)
    assert est.fit(X, y) is est
    p = est.predict_proba(X)
    assert p.shape == (len(X), 2)
    np.testing.assert_allclose(p.sum(axis=1), 1)
    assert (p >= 0).all() and (p <= 1).all()
    assert metrics.roc_auc(y, p[:, 1]) > 0.75  # learned something
    c = clone(est)
    assert c.get_params() == est.get_params()
    buf = io.BytesIO()
    joblib.dump(est, buf)
    buf.seek(0)
    np.testing.assert_array_equal(joblib.load(buf).predict_proba(X), p)
    assert set(np.unique(est.predict(X))) <= {0, 1}


@pytest.mark.parametrize("cls", BASELINES)
def test_unseen_and_missing_values_are_handled(cls, small_data):
    X, y, fs = small_data
    est = cls(fs.categorical, fs.numeric).fit(X, y)
    odd = X.iloc[:3].assign(lead_source="carrier pigeon", country=None, total_visits=np.nan)
    p = est.predict_proba(odd)
    assert np.isfinite(p).all()


def test_odoo_naive_bayes_by_hand():
    X = pd.DataFrame({"src": ["a", "a", "b", "b", "b", None]})
    y = np.array([1, 0, 1, 1, 0, 0])
    nb = OdooNaiveBayesScorer(["src"], []).fit(X, y)
    # counts start at 0.1; the unset value is not counted; prior from all leads (3 won, 3 lost)
    won_a, won_b, lost_a, lost_b = 1.1, 2.1, 1.1, 1.1
    s_won = 0.5 * won_a / (won_a + won_b)
    s_lost = 0.5 * lost_a / (lost_a + lost_b)
    test = pd.DataFrame({"src": ["a", None, "zzz"]})
    p = nb.predict_proba(test)[:, 1]
    assert p[0] == pytest.approx(s_won / (s_won + s_lost))
    assert p[1] == pytest.approx(0.5)  # unset: only the prior
    assert p[2] == pytest.approx(0.5)  # not in the frequency table: skipped
    assert nb.frequencies_["src"]["b"] == pytest.approx((2.1, 1.1))


def test_odoo_bins_numbers_by_training_quantiles():
    X = pd.DataFrame({"n": np.arange(100, dtype=float)})
    y = (np.arange(100) >= 50).astype(int)
    nb = OdooNaiveBayesScorer([], ["n"], n_bins=4).fit(X, y)
    np.testing.assert_allclose(nb.bin_edges_["n"], np.quantile(np.arange(100.0), [0.25, 0.5, 0.75]))
    p = nb.predict_proba(pd.DataFrame({"n": [10.0, 90.0]}))[:, 1]
    assert p[0] < 0.01 and p[1] > 0.99


def test_mautic_points_table_comes_from_the_training_fold_only():
    rng = np.random.default_rng(0)
    n = 400
    src = np.where(np.arange(n) < 200, rng.choice(["good", "bad"], n), "late")
    y = np.where(src == "good", rng.uniform(size=n) < 0.8, rng.uniform(size=n) < 0.2).astype(int)
    X = pd.DataFrame({"src": src, "minutes": rng.uniform(0, 30, n)})
    train = np.arange(n) < 200
    est = MauticPointsScorer(["src"], ["minutes"]).fit(X[train], y[train])
    table = est.points_table_["src"]
    assert "late" not in table  # never seen in training
    assert table["good"] > 0 > table["bad"]
    assert all(isinstance(v, int) for v in table.values())
    lor = math.log(
        (sum((src[train] == "good") & (y[train] == 1)) + 0.5)
        / (sum((src[train] == "good") & (y[train] == 0)) + 0.5)
    )
    base = math.log((y[train].sum() + 0.5) / ((1 - y[train]).sum() + 0.5))
    assert table["good"] == round(10 * (lor - base))
    late = est.points(X[~train].assign(minutes=np.nan))
    np.testing.assert_array_equal(late, 0)  # no rule fires


def test_mautic_probability_is_monotone_in_points(small_data):
    X, y, fs = small_data
    est = MauticPointsScorer(fs.categorical, fs.numeric).fit(X, y)
    pts = est.points(X)
    p = est.predict_proba(X)[:, 1]
    order = np.argsort(pts, kind="stable")
    assert (np.diff(p[order]) >= -1e-12).all()


def test_logistic_baseline_ignores_rare_and_unseen_levels(small_data):
    X, y, fs = small_data
    est = LogisticBaseline(fs.categorical, fs.numeric).fit(X, y)
    a = est.predict_proba(X.iloc[:5].assign(country="Atlantis"))
    b = est.predict_proba(X.iloc[:5].assign(country="Narnia"))
    np.testing.assert_array_equal(a, b)
