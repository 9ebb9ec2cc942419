"""Scoring: conversion propensity, ICP fit, rule fallback, baselines, explanations and evaluation.

Public interface:

* ``PropensityScorer`` (LightGBM, calibrated, with ``confidence``, ``contributions`` and ``explain``) and
  its ``Assessment``;
* ``FitScorer``, ``RuleFallbackScorer``, ``FitRuleSet``, ``FitRule``, ``load_fit_rules``;
* baselines ``MauticPointsScorer``, ``OdooNaiveBayesScorer``, ``LogisticBaseline``;
* ``evaluate`` (stratified k-fold and forward-in-time report of every candidate and baseline, with the
  leak audit: report.json, report.md, calibration.png) and ``metrics``;
* ``select_model`` (the champion among the candidates by held-out log loss) and its ``Selection``.

All scorers follow the scikit-learn estimator contract (``fit`` returns self, learned state ends in ``_``,
``predict_proba`` returns (n, 2)) and pickle with joblib.
"""

from leadgate.scoring import metrics
from leadgate.scoring.baselines import LogisticBaseline, MauticPointsScorer, OdooNaiveBayesScorer
from leadgate.scoring.evaluate import BASELINES, evaluate
from leadgate.scoring.propensity import Assessment, PropensityScorer
from leadgate.scoring.rules import FitRule, FitRuleSet, FitScorer, RuleFallbackScorer, load_fit_rules
from leadgate.scoring.selection import EvaluationError, Selection, select_model

__all__ = [
    "BASELINES",
    "Assessment",
    "EvaluationError",
    "FitRule",
    "FitRuleSet",
    "FitScorer",
    "LogisticBaseline",
    "MauticPointsScorer",
    "OdooNaiveBayesScorer",
    "PropensityScorer",
    "RuleFallbackScorer",
    "Selection",
    "evaluate",
    "load_fit_rules",
    "metrics",
    "select_model",
]
