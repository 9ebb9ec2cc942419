import math

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from leadgate.scoring import metrics


@pytest.fixture
def random_case():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, 500), 0, 1)
    p[::7] = np.round(p[::7], 1)  # some ties
    return y, p


def test_roc_auc_hand_case():
    # 4 pos/neg pairs: (0.35 vs 0.1) win, (0.35 vs 0.4) loss, (0.8 vs both) win -> 3/4
    assert metrics.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)


def test_roc_auc_ties_count_half():
    assert metrics.roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert metrics.roc_auc([0, 1, 1], [0.2, 0.2, 0.9]) == pytest.approx(0.75)


def test_average_precision_hand_case():
    # ranked 0.8(+) 0.4(-) 0.35(+) 0.1(-): AP = 0.5 * 1 + 0.5 * 2/3
    assert metrics.average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.5 + 1 / 3)


def test_average_precision_constant_score_is_base_rate():
    assert metrics.average_precision([1, 0, 0, 0], [0.3] * 4) == pytest.approx(0.25)


def test_brier_and_log_loss_hand_cases():
    assert metrics.brier_score([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3]) == pytest.approx(0.0375)
    assert metrics.log_loss([1, 0], [0.9, 0.2]) == pytest.approx(-(math.log(0.9) + math.log(0.8)) / 2)


def test_log_loss_clips_certain_misses():
    assert math.isfinite(metrics.log_loss([1, 0], [0.0, 1.0]))


def test_ece_hand_case():
    # bins: [0,.1): p=.05 y=0 -> .05; [.1,.2): p=.15 y=0 -> .15; [.9,1]: p=.95,.92 y=1,0 -> |.5-.935|
    ece = metrics.expected_calibration_error([0, 0, 1, 0], [0.05, 0.15, 0.95, 0.92])
    assert ece == pytest.approx((0.05 + 0.15 + 2 * 0.435) / 4)


def test_ece_perfect_and_edges():
    assert metrics.expected_calibration_error([0, 1], [0.0, 1.0]) == pytest.approx(0.0)
    mean_p, rate, count = metrics.reliability_curve([1, 0, 1], [1.0, 0.1, 0.1])
    assert count[9] == 1 and count[1] == 2 and count.sum() == 3
    assert np.isnan(mean_p[0]) and rate[1] == pytest.approx(0.5)


def test_lift_and_precision_hand_case():
    y = [1, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
    assert metrics.precision_at(y, s, 0.1) == 1.0  # top ceil(1.0) = 1 lead
    assert metrics.lift_at(y, s, 0.1) == pytest.approx(5.0)
    assert metrics.precision_at(y, s, 0.2) == 0.5


def test_against_sklearn(random_case):
    y, p = random_case
    assert metrics.roc_auc(y, p) == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert metrics.average_precision(y, p) == pytest.approx(skm.average_precision_score(y, p), abs=1e-12)
    assert metrics.brier_score(y, p) == pytest.approx(skm.brier_score_loss(y, p), abs=1e-12)
    assert metrics.log_loss(y, p) == pytest.approx(skm.log_loss(y, p), abs=1e-9)


def test_reliability_matches_sklearn_calibration_curve():
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 1, 2000)
    y = (rng.uniform(0, 1, 2000) < p).astype(int)
    mean_p, rate, count = metrics.reliability_curve(y, p, 10)
    sk_rate, sk_mean = calibration_curve(y, p, n_bins=10, strategy="uniform")
    filled = count > 0
    np.testing.assert_allclose(mean_p[filled], sk_mean)
    np.testing.assert_allclose(rate[filled], sk_rate)


@pytest.mark.parametrize(
    ("fn", "y", "p"),
    [
        (metrics.roc_auc, [1, 1], [0.2, 0.3]),
        (metrics.average_precision, [0, 0], [0.2, 0.3]),
        (metrics.brier_score, [0, 1], [0.2, 1.3]),
        (metrics.log_loss, [0, 1, 1], [0.2, 0.3]),
        (metrics.expected_calibration_error, [0, 2], [0.2, 0.3]),
        (metrics.lift_at, [0, 0], [0.2, 0.3]),
        (metrics.roc_auc, [0, 1], [0.2, float("nan")]),
    ],
)
def test_bad_input_raises(fn, y, p):
    with pytest.raises(ValueError):
        fn(y, p)


def test_summary_holds_every_report_metric(random_case):
    y, p = random_case
    out = metrics.summary(y, p)
    assert tuple(out) == metrics.METRIC_NAMES
    assert out["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert out["pr_auc"] == pytest.approx(skm.average_precision_score(y, p))
    assert out["brier"] == pytest.approx(skm.brier_score_loss(y, p))
    assert out["log_loss"] == pytest.approx(skm.log_loss(y, p))
    assert out["ece"] == metrics.expected_calibration_error(y, p, metrics.N_BINS)
    assert out["lift_at_10"] == pytest.approx(out["precision_at_10"] / y.mean())
    with pytest.raises(ValueError, match="only one class"):
        metrics.summary([1, 1, 1], [0.2, 0.5, 0.9])
