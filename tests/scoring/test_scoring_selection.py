import json

import numpy as np
import pandas as pd
import pytest

from leadgate.features import FeatureSet
from leadgate.scoring import EvaluationError, LogisticBaseline, PropensityScorer, Selection, select_model
from leadgate.scoring.selection import (
    CANDIDATE_NAMES,
    candidate_factories,
    choose_champion,
    forward_splits,
    held_out,
    held_out_all,
    kfold_splits,
)

FS = FeatureSet(
    name="synthetic",
    version=1,
    features=[
        {"name": "x", "kind": "numeric", "description": "a score"},
        {"name": "channel", "kind": "categorical", "description": "channel"},
    ],
)


def _linear_data(n, seed=0, slope=2.0):
    """Outcomes drawn from a logistic model in ``x``: logistic regression is the true model."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    channel = rng.choice(["web", "Email", "partner referral"], size=n).astype(object)
    channel[rng.random(n) < 0.1] = None
    y = (rng.random(n) < 1 / (1 + np.exp(-(slope * x - 0.5)))).astype(np.int64)
    return pd.DataFrame({"x": x, "channel": channel}), y


# ------------------------------------------------------------------------------------------------ splits


def test_forward_split_never_trains_on_a_later_row_than_it_tests():
    rng = np.random.default_rng(3)
    n = 1000
    # arrival times in random file order, with many leads arriving on the same day (ties)
    days = rng.integers(0, 120, size=n)
    order = (
        (np.datetime64("2018-01-01") + days.astype("timedelta64[D]"))
        .astype("datetime64[ns]")
        .astype(np.int64)
    )
    splits = forward_splits(order, 4)
    assert len(splits) == 4
    previous_test = None
    for step, (train, test) in enumerate(splits):
        assert order[train].max() < order[test].min(), step  # strictly earlier: no tie is split
        assert not set(train) & set(test)
        assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)  # row indices, sorted
        if previous_test is not None:  # expanding window: the last test block joins the training rows
            assert set(previous_test) <= set(train)
            assert order[previous_test].max() < order[test].min()
        previous_test = test
    tested = np.concatenate([test for _, test in splits])
    assert len(tested) == len(set(tested))  # each row tested at most once
    first_block = np.setdiff1d(np.arange(n), tested)
    assert order[first_block].max() < order[tested].min()  # only the earliest block is never tested
    assert 0.1 * n < len(first_block) < 0.3 * n  # about n / 5


def test_forward_split_blocks_follow_row_order_when_order_is_the_row_index():
    splits = forward_splits(np.arange(12), 3)
    assert [(list(tr), list(te)) for tr, te in splits] == [
        ([0, 1, 2], [3, 4, 5]),
        ([0, 1, 2, 3, 4, 5], [6, 7, 8]),
        ([0, 1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11]),
    ]


def test_forward_split_refuses_too_few_distinct_times():
    with pytest.raises(EvaluationError, match="distinct arrival times"):
        forward_splits(np.array([5] * 50 + [6] * 50), 4)
    with pytest.raises(EvaluationError, match="integers"):
        forward_splits(np.linspace(0, 1, 10), 2)


def test_kfold_splits_test_every_row_once():
    y = np.array([0, 1] * 50)
    splits = kfold_splits(y, 5, 42)
    tested = np.sort(np.concatenate([te for _, te in splits]))
    np.testing.assert_array_equal(tested, np.arange(100))
    for train, test in splits:
        assert y[test].mean() == pytest.approx(0.5)  # stratified
        assert not set(train) & set(test)
    with pytest.raises(EvaluationError, match="fewer than the 5 folds"):
        kfold_splits(np.array([0] * 20 + [1] * 3), 5, 42)


def test_held_out_pools_predictions_of_every_tested_row_only():
    X, y = _linear_data(300)
    splits = forward_splits(np.arange(300), 2)
    run = held_out(lambda: LogisticBaseline(["channel"], ["x"]), X, y, splits, keep_models=True)
    assert run.tested.sum() == 200 and not run.tested[:100].any()
    assert np.isnan(run.proba[:100]).all() and np.isfinite(run.proba[100:]).all()
    assert len(run.models) == 2
    assert run.out_of_range is None and run.out_of_range_share() is None  # the baseline cannot tell
    assert set(run.metrics(y)) >= {"roc_auc", "log_loss", "ece"}


# --------------------------------------------------------------------------------------------- champion


def test_choose_champion_follows_log_loss_and_breaks_ties_by_listing_order():
    figures = {
        "lightgbm": {"log_loss": 0.41, "roc_auc": 0.90},
        "logistic": {"log_loss": 0.40, "roc_auc": 0.80},
        "blend": {"log_loss": 0.40, "roc_auc": 0.85},
    }
    name, reason = choose_champion(figures, "forward")
    assert name == "logistic"  # lower log loss wins over higher AUC; the tie with blend goes to the first
    assert reason.startswith("lowest forward-in-time held-out log loss: logistic 0.4000")
    assert "lightgbm 0.4100" in reason and "blend 0.4000" in reason
    assert "stratified k-fold" in choose_champion(figures, "kfold")[1]
    with pytest.raises(ValueError):
        choose_champion({}, "kfold")


class _Sharpened:
    """Ranks leads exactly like logistic regression but is overconfident: same AUC, worse log loss."""

    def __init__(self, factor):
        self.factor = factor

    def fit(self, X, y):
        self.inner_ = LogisticBaseline(["channel"], ["x"]).fit(X, y)
        return self

    def predict_proba(self, X):
        p = self.inner_.predict_proba(X)[:, 1]
        logit = np.log(p / (1 - p)) * self.factor
        q = 1 / (1 + np.exp(-logit))
        return np.column_stack([1 - q, q])


def test_select_model_picks_logistic_when_it_has_the_lowest_log_loss():
    X, y = _linear_data(600, seed=1)
    order = np.arange(600, dtype=np.int64)
    sel = select_model(
        X,
        y,
        FS,
        order,
        candidates={
            "lightgbm": lambda: _Sharpened(4.0),
            "logistic": lambda: LogisticBaseline(["channel"], ["x"]),
        },
    )
    assert isinstance(sel, Selection)
    assert sel.evaluation == "forward"
    lg, lr = sel.candidates["lightgbm"], sel.candidates["logistic"]
    assert lg["roc_auc"] == pytest.approx(lr["roc_auc"])  # same ranking...
    assert lg["log_loss"] > lr["log_loss"]  # ...but overconfident
    assert sel.name == "logistic" and isinstance(sel.estimator, LogisticBaseline)
    assert sel.reason.startswith("lowest forward-in-time held-out log loss: logistic")
    np.testing.assert_allclose(  # refitted on all rows
        sel.estimator.predict_proba(X), LogisticBaseline(["channel"], ["x"]).fit(X, y).predict_proba(X)
    )


def test_select_model_with_the_real_candidates_on_a_truly_linear_outcome():
    """Outcomes from a logistic model in one number and 500 leads: trees cannot beat the true model."""
    X, y = _linear_data(500, seed=2)
    makers = candidate_factories(FS, seed=42)
    assert list(makers)[:2] == ["lightgbm", "logistic"] and set(makers) <= set(CANDIDATE_NAMES)
    sel = select_model(X, y, FS, None, folds=3, candidates={k: makers[k] for k in ("lightgbm", "logistic")})
    assert sel.evaluation == "kfold"
    assert sel.candidates["logistic"]["log_loss"] < sel.candidates["lightgbm"]["log_loss"]
    assert sel.name == "logistic"
    assert sel.estimator.predict_proba(X).shape == (500, 2)
    assert sel.out_of_range_share["lightgbm"] is not None
    record = json.loads(json.dumps(sel.to_metrics()))
    assert record["champion"] == "logistic" and record["criterion"] == "log_loss"
    assert set(record["candidates"]) == {"lightgbm", "logistic"}


def test_default_candidates_build_unfitted_scorers_with_the_seed():
    makers = candidate_factories(FS, seed=7)
    lgbm = makers["lightgbm"]()
    assert isinstance(lgbm, PropensityScorer) and lgbm.random_state == 7
    assert lgbm.categorical == ["channel"] and lgbm.numeric == ["x"]
    assert not hasattr(lgbm, "booster_")
    assert makers["logistic"]() is not makers["logistic"]()  # fresh each time


def test_select_model_rejects_bad_order():
    X, y = _linear_data(100)
    with pytest.raises(ValueError, match="one per lead"):
        select_model(X, y, FS, np.arange(99))
    with pytest.raises(ValueError, match="integers"):
        select_model(X, y, FS, np.linspace(0, 1, 100))


def test_blend_members_stand_in_for_equal_candidates_with_the_same_predictions():
    X, y = _linear_data(400, seed=5)
    splits = forward_splits(np.arange(400), 2)
    makers = candidate_factories(FS, seed=42)
    together = held_out_all(makers, X, y, splits, keep_models=set(makers))
    for name in ("lightgbm", "logistic"):
        alone = held_out(makers[name], X, y, splits)
        np.testing.assert_array_equal(together[name].proba, alone.proba)
        np.testing.assert_array_equal(together[name].confidence, alone.confidence)
        np.testing.assert_array_equal(together[name].out_of_range, alone.out_of_range)
    blends = together["blend"].models
    assert together["lightgbm"].models == [b.lightgbm_ for b in blends]  # reused, not refitted
    assert together["logistic"].models == [b.logistic_ for b in blends]
    # a candidate with other parameters is fitted on its own
    other = held_out_all(
        {
            "blend": makers["blend"],
            "lightgbm": lambda: PropensityScorer.from_feature_set(FS, n_estimators=30),
        },
        X,
        y,
        splits,
        keep_models={"blend", "lightgbm"},
    )
    assert all(
        m is not b.lightgbm_ for m, b in zip(other["lightgbm"].models, other["blend"].models, strict=True)
    )
    assert other["lightgbm"].models[0].n_estimators == 30
