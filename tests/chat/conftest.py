"""Fixtures of the chat NLU tests: one trained NLU per session and a fixed reference time."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from leadgate.chat.nlu import NLU, default_nlu

ROOT = Path(__file__).resolve().parents[2]
EVAL_FILE = Path(
    os.environ.get("LEADGATE_INTENT_EVAL", ROOT.parent / "shared" / "eval" / "intent_eval.jsonl")
)
"""The shared evaluation set (measurement only; never training data). CI has ``shared/`` beside the repo."""

NOW = datetime(2026, 5, 14, 10, 0)
"""Fixed reference time of the entity tests: Thursday 14 May 2026, 10:00 (Q2)."""


@pytest.fixture(scope="session")
def nlu() -> NLU:
    return default_nlu()
