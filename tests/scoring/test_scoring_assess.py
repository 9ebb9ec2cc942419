"""``assess`` flags out-of-range leads from its one encoding pass, exactly as ``out_of_range`` does."""

from __future__ import annotations

import numpy as np
import pytest

from leadgate.scoring.selection import candidate_factories


@pytest.mark.parametrize("kind", ["lightgbm", "logistic", "blend"])
def test_assess_out_of_range_equals_out_of_range(small_data, kind: str) -> None:
    X, y, fs = small_data
    model = candidate_factories(fs)[kind]().fit(X, y)
    probe = X.iloc[:60].copy()
    numeric = fs.numeric[0]
    probe.loc[probe.index[:20], numeric] = float(X[numeric].max()) * 50  # far above the training range
    probe.loc[probe.index[20:30], fs.categorical[0]] = "a channel nobody has seen"
    assessed = model.assess(probe, explain=False)
    assert assessed.out_of_range is not None
    assert np.array_equal(assessed.out_of_range, model.out_of_range(probe))
    assert assessed.out_of_range[:30].all()
    assert np.array_equal(assessed.probability, model.predict_proba(probe)[:, 1])
