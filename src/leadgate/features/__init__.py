"""Declared, versioned feature sets computed only from what was known at decision time.

Public interface: ``FeatureSet``, ``FeatureSpec``, ``load_feature_set``, ``LeakageError``.
"""

from leadgate.features.featureset import FeatureSet, FeatureSpec, LeakageError, load_feature_set

__all__ = ["FeatureSet", "FeatureSpec", "LeakageError", "load_feature_set"]
