"""Training refuses feature sets that read columns not known at decision time (leakage guard),
in the library and in ``leadgate train``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from tests.conftest import FEATURES, LEADS_CSV, MAPPING
from typer.testing import CliRunner

from leadgate import cli
from leadgate.db import make_engine, upgrade
from leadgate.features import FeatureSet, LeakageError, load_feature_set
from leadgate.ingest import load_mapping
from leadgate.pipeline import load_training_data
from leadgate.registry.models import MODELS

# (feature name, attribute it reads, the stage mapping.yaml declares for it)
LEAKY = [
    ("tags", "tags", "post_decision"),
    ("last_activity", "last_activity", "post_decision"),
    ("quality_by_rep", "lead_quality", "post_decision"),  # a new name does not hide the source
    ("converted", "converted", "label"),
    ("prospect_id", "prospect_id", "id"),
]


def with_feature(name: str, source: str) -> FeatureSet:
    """The shipped feature set plus one categorical feature ``name`` reading ``source``."""
    raw = yaml.safe_load(FEATURES.read_text(encoding="utf-8"))
    spec = {"name": name, "kind": "categorical", "description": name}
    if source != name:
        spec["source"] = source
    raw["features"].append(spec)
    return FeatureSet.model_validate(raw)


def test_the_shipped_feature_set_reads_pre_decision_columns_only() -> None:
    stages = load_mapping(MAPPING).stages()
    fs = load_feature_set(FEATURES)
    assert {stages[f.source_name] for f in fs.features} == {"pre_decision"}
    for _, source, stage in LEAKY:
        assert stages[source] == stage  # the cases below test what the mapping really declares


@pytest.mark.parametrize(("name", "source", "stage"), LEAKY, ids=[c[0] for c in LEAKY])
def test_training_refuses_a_feature_reading_a_leaky_column(
    name: str, source: str, stage: str, tmp_path: Path
) -> None:
    fs = with_feature(name, source)
    with pytest.raises(LeakageError) as caught:
        load_training_data(LEADS_CSV, load_mapping(MAPPING), fs)
    message = str(caught.value)
    assert f"feature {name!r} reads {source!r}, declared {stage}" in message
    assert fs.ref in message
    # The check runs before any row is read: a missing data file does not get that far.
    with pytest.raises(LeakageError):
        load_training_data(tmp_path / "does-not-exist.csv", load_mapping(MAPPING), fs)


def test_training_refuses_every_leaky_feature_at_once() -> None:
    raw = yaml.safe_load(FEATURES.read_text(encoding="utf-8"))
    raw["features"] += [
        {"name": "tags", "kind": "categorical", "description": "tags"},
        {"name": "converted", "kind": "categorical", "description": "label"},
    ]
    with pytest.raises(LeakageError) as caught:
        load_training_data(LEADS_CSV, load_mapping(MAPPING), FeatureSet.model_validate(raw))
    assert "'tags'" in str(caught.value) and "'converted'" in str(caught.value)


def test_training_refuses_an_undeclared_column() -> None:
    with pytest.raises(LeakageError, match="'gut_feeling', which the mapping does not declare"):
        load_training_data(LEADS_CSV, load_mapping(MAPPING), with_feature("gut_feeling", "gut_feeling"))


@pytest.mark.parametrize(("name", "source", "stage"), [LEAKY[0], LEAKY[3]], ids=["post_decision", "label"])
def test_leadgate_train_exits_non_zero_naming_the_column(
    name: str, source: str, stage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.err_console, "width", 400)
    features = tmp_path / "features.yaml"
    features.write_text(
        yaml.safe_dump(with_feature(name, source).model_dump(exclude_none=True)), encoding="utf-8"
    )
    url = f"sqlite:///{tmp_path / 'leadgate.db'}"
    upgrade(url)
    args = ["train", "--data", str(LEADS_CSV), "--mapping", str(MAPPING), "--features", str(features)]
    result = CliRunner().invoke(cli.app, [*args, "--database-url", url])
    assert result.exit_code == 1, result.output
    assert f"feature {name!r} reads {source!r}, declared {stage}" in result.output
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(MODELS)).scalar_one() == 0
    engine.dispose()
