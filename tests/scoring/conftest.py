"""Fixtures for the scoring tests: a small, self-contained loader of the X Education example.

The loader follows ``examples/xeducation/mapping.yaml`` (field names, "" and "Select" are missing,
``transform: lower``, booleans Yes/No -> "true"/"false", numbers -> float) and builds the model input with
``FeatureSet.frame_from_records``. It does not use ``leadgate.ingest`` on purpose: that module is built in
parallel and the scoring tests must not depend on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from leadgate.features import FeatureSet, load_feature_set

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "xeducation"


def load_xeducation(example_dir: Path = EXAMPLE_DIR) -> tuple[pd.DataFrame, np.ndarray, FeatureSet]:
    """Read Leads.csv through mapping.yaml and features.yaml: (X, y, feature_set)."""
    mapping = yaml.safe_load((example_dir / "mapping.yaml").read_text(encoding="utf-8"))
    fs = load_feature_set(example_dir / "features.yaml")
    missing = set(mapping.get("missing_values", ["", "Select"]))
    raw = pd.read_csv(example_dir / "Leads.csv", dtype=str, keep_default_na=False)
    columns: dict[str, list[Any]] = {}
    label: list[Any] = []
    for column, spec in mapping["columns"].items():
        values = raw[column].tolist()
        kind = spec["type"]
        out: list[Any] = []
        for v in values:
            if v in missing:
                out.append(None)
            elif kind == "boolean":
                out.append({"yes": "true", "no": "false", "1": "true", "0": "false"}[v.strip().lower()])
            elif kind in ("number", "integer"):
                out.append(float(v))
            elif spec.get("transform") == "lower":
                out.append(v.lower())
            else:
                out.append(v)
        if spec["stage"] == "label":
            label = out
        else:
            columns[spec["field"]] = out
    n = len(raw)
    records = [{name: col[i] for name, col in columns.items()} for i in range(n)]
    X = fs.frame_from_records(records)
    y = np.array([1 if v == "true" else 0 for v in label], dtype=np.int64)
    return X, y, fs


@pytest.fixture(scope="session")
def xeducation() -> tuple[pd.DataFrame, np.ndarray, FeatureSet]:
    return load_xeducation()


@pytest.fixture(scope="session")
def full_model(xeducation):
    """The default PropensityScorer fitted on all X Education leads (about 1 s)."""
    from leadgate.scoring import PropensityScorer

    X, y, fs = xeducation
    return PropensityScorer.from_feature_set(fs, n_jobs=2).fit(X, y)


@pytest.fixture(scope="session")
def small_data(xeducation):
    """A stratified-enough sample of 2,000 leads for fast contract tests."""
    X, y, fs = xeducation
    idx = np.random.default_rng(0).choice(len(X), size=2000, replace=False)
    return X.iloc[idx].reset_index(drop=True), y[idx], fs


@pytest.fixture(scope="session")
def small_model(small_data):
    from leadgate.scoring import PropensityScorer

    X, y, fs = small_data
    return PropensityScorer.from_feature_set(fs, n_estimators=40, cv=3).fit(X, y)
