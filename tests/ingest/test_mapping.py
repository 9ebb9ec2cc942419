from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import LEADS_CSV, MAPPING

from leadgate.contracts import ContractError
from leadgate.ingest import FileFormatError, MappingError, load_mapping, read_csv_chunks


def test_xeducation_mapping_declares_every_column_and_stage() -> None:
    mapping = load_mapping(MAPPING)
    header = LEADS_CSV.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert sorted(mapping.columns) == sorted(header)
    stages = mapping.stages()
    post = {f for f, s in stages.items() if s == "post_decision"}
    assert post == {
        "tags",
        "lead_quality",
        "lead_profile",
        "asymmetrique_activity_index",
        "asymmetrique_profile_index",
        "asymmetrique_activity_score",
        "asymmetrique_profile_score",
        "last_activity",
        "last_notable_activity",
    }
    assert stages["converted"] == "label"


def test_all_real_rows_map_to_leads_with_select_as_missing() -> None:
    mapping = load_mapping(MAPPING)
    leads = [
        lead for chunk in read_csv_chunks(LEADS_CSV, mapping, chunk_size=1000) for _, lead in chunk.leads
    ]
    assert len(leads) == 9240
    assert sum(1 for lead in leads if lead.outcome and lead.outcome.converted) == 3561
    values = {lead.attributes["specialization"] for lead in leads}
    assert "Select" not in values and None in values
    assert all(
        lead.attributes["lead_source"] is None or lead.attributes["lead_source"].islower() for lead in leads
    )
    assert "tags" not in leads[0].attributes and "tags" in leads[0].post_decision


def _write(tmp_path: Path, rows: list[str]) -> Path:
    header = LEADS_CSV.read_text(encoding="utf-8").splitlines()[0]
    path = tmp_path / "leads.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _real_rows(n: int) -> list[str]:
    return LEADS_CSV.read_text(encoding="utf-8").splitlines()[1 : n + 1]


def test_bad_cells_are_rejected_with_column_path_and_reason(tmp_path: Path) -> None:
    good = _real_rows(3)
    bad_number = good[1].split(",")
    bad_number[7] = "lots"  # TotalVisits
    bad_bool = good[2].split(",")
    bad_bool[4] = "maybe"  # Do Not Email
    path = _write(tmp_path, [good[0], ",".join(bad_number), ",".join(bad_bool), "only,three,cells"])
    chunks = list(read_csv_chunks(path, load_mapping(MAPPING)))
    rejected = [r for c in chunks for r in c.rejected]
    assert [r.row_number for r in rejected] == [2, 3, 4]
    assert rejected[0].errors[0].path == "columns.TotalVisits"
    assert "expected a number, got 'lots'" in rejected[0].reason
    assert rejected[1].errors[0].path == "columns.Do Not Email"
    assert "has 3 fields, the header has 37" in rejected[2].reason
    assert rejected[2].record["Prospect ID"] == "only"
    assert sum(len(c.leads) for c in chunks) == 1


def test_negative_time_and_bad_lead_id_rejected(tmp_path: Path) -> None:
    row = _real_rows(1)[0].split(",")
    row[8] = "-5"
    row2 = _real_rows(2)[1].split(",")
    row2[0] = "has space"
    path = _write(tmp_path, [",".join(row), ",".join(row2)])
    rejected = [r for c in read_csv_chunks(path, load_mapping(MAPPING)) for r in c.rejected]
    assert rejected[0].errors[0].path == "columns.Total Time Spent on Website"
    assert "must be >= 0" in rejected[0].reason
    assert rejected[1].errors[0].path == "columns.Prospect ID"
    assert rejected[1].reason.startswith("columns.Prospect ID: lead_id: String should match pattern")


def test_undeclared_column_refuses_the_file(tmp_path: Path) -> None:
    header = LEADS_CSV.read_text(encoding="utf-8").splitlines()[0] + ",Secret Column"
    path = tmp_path / "x.csv"
    path.write_text(header + "\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match="Secret Column"):
        list(read_csv_chunks(path, load_mapping(MAPPING)))


def test_invalid_mapping_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "name: x\nsource: csv:x\nid_column: id\ncolumns:\n  id: {field: id, stage: id}\n"
        "  a: {field: a, stage: sometime}\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingError, match=r"columns\.a\.stage"):
        load_mapping(path)


def test_single_row_mapping_raises_contract_error() -> None:
    mapping = load_mapping(MAPPING)
    mapper = mapping.compile()
    row = dict(zip(list(mapping.columns), _real_rows(1)[0].split(","), strict=True))
    assert mapper.to_lead(row).lead_id == row["Prospect ID"]
    row["Page Views Per Visit"] = "nan"
    with pytest.raises(ContractError) as info:
        mapper.to_lead(row)
    assert info.value.errors[0].path == "columns.Page Views Per Visit"


def test_batch_records_equal_validated_leads_on_every_real_row() -> None:
    """The batch path's records are exactly what full pydantic validation of the contract gives."""
    from leadgate.contracts import Lead
    from leadgate.contracts.lead import lead_document

    mapping = load_mapping(MAPPING)
    n = 0
    for chunk in read_csv_chunks(LEADS_CSV, mapping, chunk_size=3000):
        for _, record in chunk.records:
            assert lead_document(Lead.model_validate(record)) == record
            n += 1
    assert n == 9240


def test_batch_path_rejects_what_the_contract_rejects(tmp_path: Path) -> None:
    from leadgate.contracts import Lead

    rows = [r.split(",") for r in _real_rows(3)]
    rows[0][29] = "x" * 101  # City is copied to Lead.city (at most 100 characters)
    rows[1][11] = "y" * 10_001  # Country: longer than any attribute string may be
    rows[2][12] = "  Finance Management  "  # surrounding spaces are stripped, as the contract does
    path = _write(tmp_path, [",".join(r) for r in rows])
    chunks = list(read_csv_chunks(path, load_mapping(MAPPING)))
    rejected = {r.row_number: r for c in chunks for r in c.rejected}
    assert rejected[1].errors[0].path == "columns.City"
    assert "city: String should have at most 100 characters" in rejected[1].reason
    assert rejected[2].errors[0].path == "columns.Country"
    assert "at most 10000 characters" in rejected[2].reason
    ((number, record),) = [x for c in chunks for x in c.records]
    assert number == 3 and record["attributes"]["specialization"] == "Finance Management"
    assert Lead.model_validate(record).attributes["specialization"] == "Finance Management"
    # the same values through full validation fail the same way
    for bad in ({"city": "x" * 101}, {"attributes": {"country": "y" * 10_001}}):
        try:
            Lead.model_validate({"lead_id": "a", **bad})
        except ValueError as exc:  # pydantic.ValidationError is a ValueError
            assert "at most" in str(exc)
        else:
            raise AssertionError(f"{bad} should be rejected by the contract")
