"""Issue 7's ingest bugs, on files written the way CRM exports look.

Each test failed on the code before the new mapping format (6270715): no delimiter or encoding option,
an id column required, a yes/no label declared as category became all positive, one list of missing
values for every column, duplicate YAML keys accepted, no datetime type, no per-label spellings.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from leadgate.ingest import FileFormatError, MappingError, load_mapping, read_csv_chunks
from leadgate.ingest.mapping import ColumnMapping
from leadgate.pipeline import import_file


def _mapping(tmp_path: Path, text: str) -> ColumnMapping:
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    return load_mapping(path)


def _records(path: Path, mapping: ColumnMapping, **kw: int) -> list[tuple[int, dict]]:
    return [x for chunk in read_csv_chunks(path, mapping, **kw) for x in chunk.records]


def _rejected(path: Path, mapping: ColumnMapping) -> dict[int, str]:
    return {r.row_number: r.reason for chunk in read_csv_chunks(path, mapping) for r in chunk.rejected}


# A HubSpot "Contacts" export saved by a German Excel: semicolons, decimal commas, Windows-1252.
HUBSPOT_DE = (
    "Record ID;First Name;Last Name;Company Name;Country/Region;Annual Revenue;Number of Employees;"
    "Lead Status;Create Date;Became a Customer\r\n"
    "5101;Jürgen;Müller;Müller & Söhne GmbH;Deutschland;1234567,50;45;Open;15.03.2024 09:12;Nein\r\n"
    '5102;Zoë;Lefèvre;"Société Générale; Paris";France;;1200;Unqualified;31.03.2024 02:30;Nein\r\n'
    "5103;Ana;Conceição;Café São Paulo Ltda;Brasil;98000,0;12;Connected;27.10.2024 02:30;Ja\r\n"
)

HUBSPOT_MAPPING = """\
mapping_version: 1
name: hubspot_de
version: 3
source: csv:hubspot
delimiter: ";"
encoding: cp1252
decimal: ","
id_column: Record ID
time_column: Create Date
true_values: [ja]
false_values: [nein]
columns:
  Record ID: {field: record_id, stage: id}
  First Name: {field: first_name, stage: pre_decision, lead_field: first_name}
  Last Name: {field: last_name, stage: pre_decision, lead_field: last_name}
  Company Name: {field: company, stage: pre_decision, lead_field: company}
  Country/Region: {field: country, stage: pre_decision, type: category}
  Annual Revenue: {field: annual_revenue, stage: pre_decision, type: number, min: 0}
  Number of Employees: {field: employees, stage: pre_decision, type: integer}
  Lead Status: {field: lead_status, stage: post_decision, type: category}
  Create Date: {field: created_at, stage: pre_decision, type: datetime, format: "%d.%m.%Y %H:%M",
                timezone: Europe/Berlin}
  Became a Customer: {field: customer, stage: label, type: boolean}
"""


def _hubspot(tmp_path: Path) -> Path:
    path = tmp_path / "hubspot-contacts.csv"
    path.write_bytes(HUBSPOT_DE.encode("cp1252"))
    return path


def test_semicolon_cp1252_export_with_decimal_commas_imports(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path, HUBSPOT_MAPPING)
    records = dict(_records(_hubspot(tmp_path), mapping))
    assert set(records) == {1, 3}  # 31.03.2024 02:30 does not exist in Berlin (clocks go forward)
    first, third = records[1], records[3]
    assert first["lead_id"] == "5101"
    assert first["first_name"] == "Jürgen" and first["company"] == "Müller & Söhne GmbH"
    assert first["attributes"]["annual_revenue"] == 1234567.5
    assert first["attributes"]["employees"] == 45
    assert first["attributes"]["created_at"] == "2024-03-15T08:12:00Z"  # CET, UTC+1
    assert first["outcome"] == {"converted": False, "recorded_at": None}
    assert third["company"] == "Café São Paulo Ltda"
    assert third["attributes"]["created_at"] == "2024-10-27T00:30:00Z"  # 02:30 CEST, the first of two
    assert third["outcome"]["converted"] is True
    reasons = _rejected(_hubspot(tmp_path), mapping)
    assert "does not exist in time zone Europe/Berlin" in reasons[2]
    assert mapping.time_field == "created_at" and mapping.label_field == "customer"
    assert mapping.id_field == "record_id" and mapping.label_column == "Became a Customer"


def test_semicolon_file_with_the_default_delimiter_names_the_delimiter(tmp_path: Path) -> None:
    text = HUBSPOT_MAPPING.replace('delimiter: ";"\n', "")
    mapping = _mapping(tmp_path, text)
    with pytest.raises(FileFormatError) as info:
        list(read_csv_chunks(_hubspot(tmp_path), mapping))
    message = str(info.value)
    assert "delimiter: ';'" in message and "semicolon" in message
    assert "not declared" not in message


def test_windows_1252_file_without_encoding_is_a_clear_error(tmp_path: Path) -> None:
    text = HUBSPOT_MAPPING.replace("encoding: cp1252\n", "")
    mapping = _mapping(tmp_path, text)
    with pytest.raises(FileFormatError) as info:
        list(read_csv_chunks(_hubspot(tmp_path), mapping))
    message = str(info.value)
    assert "not valid utf-8" in message and "line 2" in message
    assert "encoding:" in message and "cp1252" in message


def test_latin1_accents_in_the_header_need_the_encoding(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes("Prospect,Société,Converti\r\np1,Crédit Agricole,oui\r\n".encode("latin-1"))
    body = (
        "name: fr\nsource: csv:fr\nid_column: Prospect\ntrue_values: [oui]\nfalse_values: [non]\n{enc}"
        "columns:\n  Prospect: {{field: prospect, stage: id}}\n"
        "  Société: {{field: societe, stage: pre_decision}}\n"
        "  Converti: {{field: converti, stage: label, type: boolean}}\n"
    )
    with pytest.raises(FileFormatError, match="encoding"):
        list(read_csv_chunks(path, _mapping(tmp_path, body.format(enc=""))))
    ((_, record),) = _records(path, _mapping(tmp_path, body.format(enc="encoding: latin-1\n")))
    assert record["attributes"]["societe"] == "Crédit Agricole" and record["outcome"]["converted"] is True


# A Salesforce "Leads" report exported as CSV: quoted commas, no id column kept by the user.
SALESFORCE = (
    '"First Name","Last Name","Company / Account","Lead Source","Annual Revenue","Industry","Converted"\n'
    '"Maria","Garcia","Acme, Inc.","Web","2500000","Manufacturing","yes"\n'
    '"John","Smith","Globex Corporation","Trade Show","","unknown","no"\n'
    '"Maria","Garcia","Acme, Inc.","Web","2500000","Manufacturing","no"\n'
    '"Wei","Chen","Initech","unknown","120000","Software","no"\n'
)

SALESFORCE_MAPPING = """\
name: salesforce
source: csv:salesforce
columns:
  First Name: {field: first_name, stage: pre_decision}
  Last Name: {field: last_name, stage: pre_decision}
  Company / Account: {field: company, stage: pre_decision, lead_field: company}
  Lead Source: {field: lead_source, stage: pre_decision, type: category}
  Annual Revenue: {field: annual_revenue, stage: pre_decision, type: number}
  Industry: {field: industry, stage: pre_decision, type: category, missing_values: ["", unknown]}
  Converted: {field: converted, stage: label, type: boolean}
"""


def test_without_id_column_ids_come_from_content_and_reimport_is_stable(tmp_path: Path) -> None:
    path = tmp_path / "salesforce-leads.csv"
    path.write_text(SALESFORCE, encoding="utf-8")
    mapping = _mapping(tmp_path, SALESFORCE_MAPPING)
    ids = [r["lead_id"] for _, r in _records(path, mapping)]
    assert len(ids) == 4 and len(set(ids)) == 4  # rows 1 and 3 share every pre-decision cell
    assert all(i.startswith("row-") and len(i) == 36 for i in ids)
    assert [r["lead_id"] for _, r in _records(path, mapping, chunk_size=1)] == ids
    assert [r["lead_id"] for _, r in _records(path, mapping, start_row=2)] == ids[2:]
    # a later export of the same leads with outcomes filled in keeps the ids
    later = tmp_path / "salesforce-leads-later.csv"
    later.write_text(
        SALESFORCE.replace(
            '"Initech","unknown","120000","Software","no"', '"Initech","unknown","120000","Software","yes"'
        ),
        encoding="utf-8",
    )
    assert [r["lead_id"] for _, r in _records(later, mapping)] == ids
    assert mapping.id_field is None


def test_reimport_without_id_column_is_idempotent_in_the_store(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "salesforce-leads.csv"
    path.write_text(SALESFORCE, encoding="utf-8")
    mapping = _mapping(tmp_path, SALESFORCE_MAPPING)
    first = import_file(engine, path, mapping)
    second = import_file(engine, path, mapping)
    assert (first.imported, first.unchanged) == (4, 0)
    assert (second.imported, second.unchanged) == (0, 4)


def test_missing_values_per_column(tmp_path: Path) -> None:
    path = tmp_path / "salesforce-leads.csv"
    path.write_text(SALESFORCE, encoding="utf-8")
    records = [r for _, r in _records(path, _mapping(tmp_path, SALESFORCE_MAPPING))]
    assert records[1]["attributes"]["industry"] is None  # "unknown" is missing in Industry only
    assert records[3]["attributes"]["lead_source"] == "unknown"
    assert records[1]["attributes"]["annual_revenue"] is None


def test_yes_no_label_is_false_for_no(tmp_path: Path) -> None:
    path = tmp_path / "salesforce-leads.csv"
    path.write_text(SALESFORCE, encoding="utf-8")
    labels = [r["outcome"]["converted"] for _, r in _records(path, _mapping(tmp_path, SALESFORCE_MAPPING))]
    assert labels == [True, False, False, False]


@pytest.mark.parametrize("declared", ["category", "string", "number"])
def test_label_declared_other_than_boolean_is_refused(tmp_path: Path, declared: str) -> None:
    text = SALESFORCE_MAPPING.replace("stage: label, type: boolean", f"stage: label, type: {declared}")
    with pytest.raises(MappingError) as info:
        _mapping(tmp_path, text)
    message = str(info.value)
    assert "mapping.yaml:10:" in message and "columns.Converted" in message
    assert "must have type: boolean" in message


def test_duplicate_yaml_keys_are_refused_with_line_numbers(tmp_path: Path) -> None:
    text = SALESFORCE_MAPPING + "  Lead Source: {field: lead_source, stage: post_decision, type: category}\n"
    with pytest.raises(MappingError) as info:
        _mapping(tmp_path, text)
    assert (
        "mapping.yaml:11:3: columns.Lead Source: duplicate key 'Lead Source' (first given on line 7)"
        in str(info.value)
    )
    assert isinstance(info.value, ValueError)


# A pipeline export: a free-text stage as the label, with explicit spellings.
PIPELINE = (
    "Deal ID,Created (UTC offset),Created (New York),Stage\n"
    "D-1,2024-07-01T09:00:00+02:00,2024-03-10 01:30,Won\n"
    "D-2,2024-07-01T09:00:00Z,2024-03-10 03:30,lost\n"
    "D-3,2024-07-01,2024-11-03 01:30,Open\n"
    "D-4,01/07/2024,2024-03-10 02:30,WON\n"
    "D-5,2024-12-31 23:59:59.750,2024-11-03 00:59,\n"
)

PIPELINE_MAPPING = """\
name: deals
source: csv:deals
id_column: Deal ID
columns:
  Deal ID: {field: deal_id, stage: id}
  Created (UTC offset): {field: created, stage: pre_decision, type: datetime}
  Created (New York): {field: created_ny, stage: pre_decision, type: datetime, timezone: America/New_York}
  Stage: {field: won, stage: label, type: boolean, true_values: [won], false_values: [lost]}
"""


def test_datetimes_with_offsets_zones_and_daylight_saving(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_text(PIPELINE, encoding="utf-8")
    mapping = _mapping(tmp_path, PIPELINE_MAPPING)
    records = dict(_records(path, mapping))
    assert records[1]["attributes"] == {
        "created": "2024-07-01T07:00:00Z",
        "created_ny": "2024-03-10T06:30:00Z",
    }
    assert records[2]["attributes"] == {
        "created": "2024-07-01T09:00:00Z",
        "created_ny": "2024-03-10T07:30:00Z",
    }
    assert records[5]["attributes"] == {
        "created": "2024-12-31T23:59:59Z",
        "created_ny": "2024-11-03T04:59:00Z",
    }
    reasons = _rejected(path, mapping)
    assert "columns.Created (UTC offset): expected a date/time" in reasons[4]
    assert "'2024-03-10 02:30' does not exist in time zone America/New_York" in reasons[4]


def test_label_values_are_strict(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_text(PIPELINE, encoding="utf-8")
    mapping = _mapping(tmp_path, PIPELINE_MAPPING)
    records = dict(_records(path, mapping))
    assert records[1]["outcome"]["converted"] is True and records[2]["outcome"]["converted"] is False
    assert records[5]["outcome"] is None  # no value: not known yet
    reasons = _rejected(path, mapping)
    assert reasons[3] == "columns.Stage: expected a boolean (true: won; false: lost), got 'Open'"
    assert 1 in records and 4 not in records  # 'WON' matches case-insensitively but row 4 has bad dates


def test_ambiguous_local_time_is_the_first_occurrence(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text("Call ID,Call Start\nC1,2024-11-03 01:30\nC2,2024-11-03 02:00\n", encoding="utf-8")
    text = (
        "name: calls\nsource: csv:calls\nid_column: Call ID\ncolumns:\n  Call ID: {field: call_id, stage: id}\n"
        "  Call Start: {field: start, stage: pre_decision, type: datetime, timezone: America/New_York}\n"
    )
    records = dict(_records(path, _mapping(tmp_path, text)))
    assert records[1]["attributes"]["start"] == "2024-11-03T05:30:00Z"  # 01:30 EDT (the first), not EST
    assert records[2]["attributes"]["start"] == "2024-11-03T07:00:00Z"  # 02:00 EST


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("timezone: America/New_York", "timezone: Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("id_column: Deal ID\n", "id_column: Deal ID\ntime_column: Stage\n", "must have type datetime"),
        ("id_column: Deal ID\n", "id_column: Deal ID\ndelimiter: ';;'\n", "delimiter"),
        ("id_column: Deal ID\n", "id_column: Deal ID\nencoding: klingon\n", "unknown encoding 'klingon'"),
        ("id_column: Deal ID\n", "", "has stage 'id' but is not the id_column"),
        (
            "stage: pre_decision, type: datetime}",
            "stage: pre_decision, type: category, true_values: [x]}",
            "true_values/false_values apply only to boolean columns",
        ),
    ],
)
def test_mapping_rules_are_one_clear_error(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = PIPELINE_MAPPING.replace(old, new, 1)
    assert text != PIPELINE_MAPPING
    with pytest.raises(MappingError, match=r"mapping\.yaml:[0-9]+:[0-9]+: ") as info:
        _mapping(tmp_path, text)
    assert message in str(info.value)
