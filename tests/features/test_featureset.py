from __future__ import annotations

import math

import pytest
from tests.conftest import FEATURES

from leadgate.contracts import ContractError
from leadgate.features import load_feature_set


def test_frame_types_and_missing_values() -> None:
    fs = load_feature_set(FEATURES)
    frame = fs.frame_from_records(
        [
            {"lead_origin": "API", "total_visits": "3", "do_not_email": True, "total_time_on_site": 7},
            {"total_visits": "inf", "page_views_per_visit": "12abc"},
        ]
    )
    assert list(frame.columns) == fs.names
    assert frame.at[0, "total_visits"] == 3.0 and frame.at[0, "total_time_on_site"] == 7.0
    assert frame.at[0, "do_not_email"] == "true"  # booleans are categories "true"/"false"
    assert frame.at[1, "lead_origin"] is None
    assert math.isnan(frame.at[1, "total_visits"]) and math.isnan(frame.at[1, "page_views_per_visit"])
    assert fs.missing_required(frame).tolist() == [False, True]  # lead_origin is required


def test_type_errors_name_the_attribute_and_accept_numeric_strings() -> None:
    fs = load_feature_set(FEATURES)
    assert (
        fs.type_errors({"total_visits": "12", "total_time_on_site": 3, "occupation": 5, "city": None}) == []
    )
    errors = fs.type_errors(
        {"total_visits": "twelve", "page_views_per_visit": True, "total_time_on_site": "nan"}
    )
    assert [e.path for e in errors] == [
        "attributes.total_visits",
        "attributes.total_time_on_site",
        "attributes.page_views_per_visit",
    ]
    assert "needs a finite number, got 'twelve'" in errors[0].reason


def test_duplicate_feature_names_are_refused(tmp_path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(
        "name: x\nversion: 1\nfeatures:\n  - {name: a, kind: numeric, description: a}\n"
        "  - {name: a, kind: categorical, description: b}\n",
        encoding="utf-8",
    )
    with pytest.raises(ContractError, match="duplicate feature names: a"):
        load_feature_set(path)


def test_booleans_and_numbers_stay_distinct_categories() -> None:
    fs = load_feature_set(FEATURES)
    frame = fs.frame_from_records([{"do_not_email": True}, {"do_not_email": 1}, {"do_not_email": 1.0}])
    assert frame["do_not_email"].tolist() == ["true", "1", "1.0"]
    # the result for one lead does not depend on the other leads of the batch
    assert fs.frame_from_records([{"do_not_email": 1}])["do_not_email"].tolist() == ["1"]
