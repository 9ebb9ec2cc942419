"""Fixtures for the API tests, and the one trained model shared by the API, pipeline and CLI tests.

``trained_model()`` trains a small ``PropensityScorer`` on the bundled X Education leads once per process
(about 3 s); tests register that estimator into their own database with ``register``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.exceptions import StarletteDeprecationWarning
from tests.conftest import FEATURES, LEADS_CSV, MAPPING

from leadgate.api import create_app
from leadgate.api.state import AppState
from leadgate.config import Settings
from leadgate.defaults import default_path
from leadgate.features import FeatureSet, load_feature_set
from leadgate.governance.api_keys import create_key
from leadgate.ingest import load_mapping
from leadgate.pipeline import Qualifier, TrainingData, load_training_data
from leadgate.policy import load_policy
from leadgate.registry import RegisteredModel, register_model
from leadgate.scoring import PropensityScorer

with warnings.catch_warnings():
    # starlette warns that it prefers httpx2 over httpx; the test client works with either.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@dataclass(frozen=True)
class Trained:
    """A fitted estimator, the feature set it was trained on and its training data."""

    estimator: PropensityScorer
    feature_set: FeatureSet
    n_train: int
    data: TrainingData


@functools.cache
def trained_model() -> Trained:
    """Fit a small PropensityScorer (60 trees) on every labelled X Education lead, once per process."""
    data = load_training_data(LEADS_CSV, load_mapping(MAPPING), load_feature_set(FEATURES))
    estimator = PropensityScorer.from_feature_set(data.feature_set, n_estimators=60, n_jobs=1)
    return Trained(estimator.fit(data.frame, data.labels), data.feature_set, len(data.labels), data)


def register(engine: Engine, trained: Trained, name: str = "propensity") -> RegisteredModel:
    """Register the shared estimator as ``name@champion`` in this test's database."""
    with engine.begin() as conn:
        return register_model(
            conn, name, trained.estimator, trained.feature_set, {"n_train": trained.n_train}
        )


def shipped_policy() -> Any:
    return load_policy(default_path("policy.yaml"))


def shipped_qualifier(engine: Engine, model_ref: str = "propensity@champion") -> Qualifier:
    """The shipped example's qualifier (X Education policy, feature set and fit rules), as ``serve`` loads it."""
    from leadgate.features import load_feature_set
    from leadgate.scoring import load_fit_rules

    return Qualifier.load(
        engine,
        shipped_policy(),
        model_ref=model_ref,
        feature_set=load_feature_set(default_path("features.yaml")),
        fit_rules=load_fit_rules(),
    )


@pytest.fixture(scope="session")
def trained() -> Trained:
    return trained_model()


def create_test_key(engine: Engine, role: str = "admin", name: str = "tests", **kwargs: Any) -> str:
    """A new API key with ``role`` in this test's database (``kwargs``: ``expires_in``, ``now``)."""
    with engine.begin() as conn:
        key, _ = create_key(conn, name=name, role=role, created_by="tests", **kwargs)
    return key


def bearer(key: str) -> dict[str, str]:
    """The ``Authorization`` header of an API key."""
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Api:
    """A running test client and what it runs on; the client sends ``key`` (an ``admin`` API key)."""

    client: TestClient
    engine: Engine
    model: RegisteredModel | None
    settings: Settings
    key: str


@pytest.fixture
def make_api(db_url: str, engine: Engine, trained: Trained) -> Iterator[Callable[..., Api]]:
    """``make_api(model=True, **settings)``: a TestClient on this test's database, with or without a model.

    The client sends a fresh ``admin`` API key of this database with every request.
    """
    clients: list[TestClient] = []

    def make(model: bool = True, **settings: Any) -> Api:
        registered = register(engine, trained) if model else None
        cfg = Settings(database_url=db_url, **settings)
        state = AppState(cfg, engine, shipped_qualifier(engine))
        key = create_test_key(engine)
        client = TestClient(create_app(cfg, state=state), headers=bearer(key))
        client.__enter__()
        clients.append(client)
        return Api(client, engine, registered, cfg, key)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """The API with the shared model registered as ``propensity@champion``."""
    return make_api()
