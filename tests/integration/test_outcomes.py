"""Outcomes stored apart from leads (SQLite and PostgreSQL): idempotent, dead-lettered, known at a cut-off."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from leadgate.audit.outcomes import (
    OUTCOMES,
    OutcomesError,
    labels_at,
    load_outcomes_mapping,
    read_outcomes,
    write_outcomes,
)
from leadgate.yamlcheck import YamlError

# A Salesforce opportunity report, exported from a German org: semicolons, Windows-1252, day-first dates
# would need a format, so this export uses ISO dates with a local time, the way the report API writes them.
SALESFORCE = (
    "Opportunity ID;Lead ID;Stage;Close Date;Amount\r\n"
    "006A1;00QA1;Closed Won;2024-03-31 01:30:00;12.500,00\r\n"
    "006A2;00QA2;Closed Lost;2024-04-02 17:05:00;0,00\r\n"
    "006A3;00QA3;Qualification;2024-04-03 09:00:00;3.000,00\r\n"
    "006A4;00QA4;Négociation;2024-04-04 09:00:00;1.000,00\r\n"
    "006A5;;Closed Won;2024-04-05 10:00:00;900,00\r\n"
    "006A6;00QA6;Closed Won;not a date;900,00\r\n"
)
MAPPING = """\
outcomes_version: 1
name: sf_opportunities
source: csv:salesforce_opps
delimiter: ";"
encoding: cp1252
lead_id_column: Lead ID
outcome_column: Stage
values: {Closed Won: won, Closed Lost: lost, Qualification: opportunity_created}
occurred_at_column: Close Date
timezone: Europe/Berlin
positive: [won]
"""


def _files(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "opps.csv"
    data.write_bytes(SALESFORCE.encode("cp1252"))
    mapping = tmp_path / "outcomes.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return data, mapping


def test_import_is_idempotent_and_rejects_with_reasons(engine: Engine, tmp_path: Path) -> None:
    data, mapping_path = _files(tmp_path)
    mapping = load_outcomes_mapping(mapping_path)
    records = read_outcomes(data, mapping)
    assert [(r["lead_id"], r["outcome"]) for r in records.rows] == [
        ("00QA1", "won"),
        ("00QA2", "lost"),
        ("00QA3", "opportunity_created"),
    ]
    # 01:30 in Berlin on 31 March 2024 is CET+1 (the clocks go forward at 02:00): 00:30 UTC.
    assert records.rows[0]["occurred_at"] == datetime(2024, 3, 31, 0, 30, tzinfo=UTC)
    reasons = {n: why for n, _, why in records.rejected}
    assert set(reasons) == {4, 5, 6}
    assert "'Négociation' is not one of the declared values" in reasons[4]
    assert "a lead id is required" in reasons[5]
    assert "expected an ISO-8601 date or time, got 'not a date'" in reasons[6]
    with engine.begin() as conn:
        assert write_outcomes(conn, records.rows) == 3
    with engine.begin() as conn:
        assert write_outcomes(conn, read_outcomes(data, mapping).rows) == 0  # a re-import stores nothing
        assert conn.execute(select(func.count()).select_from(OUTCOMES)).scalar_one() == 3


def test_labels_use_only_outcomes_known_at_the_cutoff(engine: Engine, tmp_path: Path) -> None:
    data, mapping_path = _files(tmp_path)
    mapping = load_outcomes_mapping(mapping_path)
    with engine.begin() as conn:
        write_outcomes(conn, read_outcomes(data, mapping).rows)
    leads = ["00QA1", "00QA2", "00QA3", "someone-else"]
    with engine.connect() as conn:
        before = labels_at(conn, leads, datetime(2024, 3, 30, tzinfo=UTC), mapping.positive)
        after = labels_at(conn, leads, datetime(2024, 12, 31, tzinfo=UTC), mapping.positive)
    assert before == {}  # lost and opportunity_created are not conversions
    assert after == {"00QA1": datetime(2024, 3, 31, 0, 30, tzinfo=UTC)}  # when the win happened


def test_bad_mappings_and_files_are_one_clear_error(tmp_path: Path) -> None:
    data, _ = _files(tmp_path)
    broken = tmp_path / "dup.yaml"
    broken.write_text(MAPPING + "positive: [won]\n", encoding="utf-8")
    with pytest.raises(YamlError, match=r"dup.yaml:12:1: positive: duplicate key 'positive'"):
        load_outcomes_mapping(broken)
    both = tmp_path / "both.yaml"
    both.write_text(
        MAPPING.replace("outcome_column: Stage", "outcome: won\noutcome_column: Stage"), encoding="utf-8"
    )
    with pytest.raises(YamlError, match="exactly one of 'outcome'"):
        load_outcomes_mapping(both)
    utf8 = tmp_path / "utf8.yaml"
    utf8.write_text(MAPPING.replace("encoding: cp1252", "encoding: utf-8"), encoding="utf-8")
    with pytest.raises(OutcomesError, match=r"not readable as utf-8.*set 'encoding'"):
        read_outcomes(data, load_outcomes_mapping(utf8))
    comma = tmp_path / "comma.yaml"
    comma.write_text(MAPPING.replace('delimiter: ";"', 'delimiter: ","'), encoding="utf-8")
    with pytest.raises(OutcomesError, match="is the delimiter right"):
        read_outcomes(data, load_outcomes_mapping(comma))


LEADS = """\
Lead ID,Created,Channel
00QA1,2024-01-05 09:00,webinar
00QA2,2024-01-10 09:00,webinar
00QA3,2024-02-01 09:00,paid
00QA4,2024-03-01 09:00,paid
00QA5,2024-06-20 09:00,webinar
00QA6,2024-06-25 09:00,paid
"""
LEADS_MAPPING = """\
mapping_version: 1
name: sf_leads
source: csv:salesforce_leads
id_column: Lead ID
time_column: Created
columns:
  Lead ID: {field: lead_id_sf, stage: id}
  Created: {field: created, stage: pre_decision, type: datetime, timezone: Europe/Berlin}
  Channel: {field: channel, stage: pre_decision, type: category}
"""
WON = """\
Lead ID,Stage,Close Date
00QA1,Closed Won,2024-01-20 10:00:00
00QA3,Closed Won,2024-05-15 10:00:00
00QA5,Closed Won,2024-06-28 10:00:00
00QA4,Closed Lost,2024-03-10 10:00:00
"""


def test_a_label_window_leaves_young_leads_out_and_late_wins_negative(engine: Engine, tmp_path: Path) -> None:
    from leadgate.features import FeatureSet
    from leadgate.ingest import load_mapping
    from leadgate.training import load_training_data

    (tmp_path / "leads.csv").write_text(LEADS, encoding="utf-8")
    (tmp_path / "leads.yaml").write_text(LEADS_MAPPING, encoding="utf-8")
    (tmp_path / "won.csv").write_text(WON, encoding="utf-8")
    (tmp_path / "won.yaml").write_text(
        MAPPING.replace('delimiter: ";"\nencoding: cp1252\n', "") + "label_window_days: 30\n",
        encoding="utf-8",
    )
    outcomes = load_outcomes_mapping(tmp_path / "won.yaml")
    with engine.begin() as conn:
        write_outcomes(conn, read_outcomes(tmp_path / "won.csv", outcomes).rows)
    fs = FeatureSet.model_validate(
        {
            "name": "sf",
            "version": 1,
            "features": [{"name": "channel", "kind": "categorical", "description": "channel"}],
        }
    )
    td = load_training_data(
        tmp_path / "leads.csv",
        load_mapping(tmp_path / "leads.yaml"),
        fs,
        engine=engine,
        positive_outcomes=outcomes.positive,
        label_window_days=outcomes.label_window_days,
        cutoff=datetime(2024, 7, 1, tzinfo=UTC),
    )
    # 00QA5 and 00QA6 arrived less than 30 days before the cut-off: not mature, left out (00QA5 even won).
    # 00QA1 won 15 days after arriving: converted. 00QA3 won 104 days after: outside the window, negative.
    assert td.lead_ids == ["00QA1", "00QA2", "00QA3", "00QA4"]
    assert td.labels.tolist() == [1, 0, 0, 0]
    assert "2 younger leads left out" in td.label_source
    assert td.order is not None and list(td.order) == sorted(td.order)
