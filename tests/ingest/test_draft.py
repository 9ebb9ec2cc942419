"""``leadgate init``: drafting a project from CSV exports written the way CRMs and spreadsheets write them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer import Typer
from typer.testing import CliRunner

from leadgate.cli_init import init_cmd
from leadgate.features import load_feature_set
from leadgate.ingest import load_mapping, read_csv_chunks
from leadgate.ingest.draft import DraftError, draft_project, draft_tiers, snake_name, write_draft
from leadgate.policy import load_policy
from leadgate.project import read_project

ROOT = Path(__file__).resolve().parents[2]
XEDUCATION = ROOT / "examples" / "xeducation" / "Leads.csv"
OLIST = Path("/work/shared/data/olist_marketing_funnel/olist_marketing_qualified_leads_dataset.csv")

# A German CRM export as Excel writes it: semicolons, Windows-1252, CRLF, decimal commas, dd.mm.yyyy dates,
# "k.A." for an unanswered field, postcodes with leading zeros and a Ja/Nein outcome.
GERMAN = (
    "Kunden-Nr.;Firma;Vorname;Nachname;E-Mail;PLZ;Ort;Branche;Umsatz (Mio. €);Mitarbeiter;Quelle;"
    "Erstellt am;Newsletter;Abschluss\r\n"
    "K-1001;Müller GmbH;Jürgen;Müller;j.mueller@mueller-gmbh.de;80331;München;Maschinenbau;12,5;120;Messe;"
    "03.01.2023;Ja;Ja\r\n"
    "K-1002;Bäckerei Schön;Anna;Schön;anna@baeckerei-schoen.de;50667;Köln;Handel;0,8;14;Webseite;05.01.2023;"
    "Nein;Nein\r\n"
    "K-1003;Weiß & Söhne KG;Peter;Weiß;p.weiss@weiss-soehne.de;01067;Dresden;Handwerk;3,2;35;k.A.;"
    "09.01.2023;Nein;Nein\r\n"
    "K-1004;Stahlbau Nord AG;Klaus;Peters;k.peters@stahlbau-nord.de;20095;Hamburg;Maschinenbau;45,0;410;"
    "Empfehlung;12.01.2023;Ja;Ja\r\n"
    "K-1005;Grün Energie GmbH;Sabine;Grün;s.gruen@gruen-energie.de;70173;Stuttgart;Energie;7,75;60;Webseite;"
    "16.01.2023;Nein;Nein\r\n"
    "K-1006;Zöller IT;Tobias;Zöller;t.zoeller@zoeller-it.de;60311;Frankfurt;IT;2,1;22;Webseite;19.01.2023;"
    "Ja;Nein\r\n"
    "K-1007;Brauerei Fuchs;Maria;Fuchs;m.fuchs@brauerei-fuchs.de;90402;Nürnberg;Lebensmittel;9,4;85;Messe;"
    "23.01.2023;Nein;Ja\r\n"
    "K-1008;Hoffmann Logistik;Jan;Hoffmann;jan.hoffmann@hoffmann-log.de;28195;Bremen;Logistik;18,3;230;"
    "Empfehlung;26.01.2023;Ja;Ja\r\n"
    "K-1009;Kaiser Druck;Eva;Kaiser;eva@kaiser-druck.de;04109;Leipzig;Druck;1,6;18;k.A.;30.01.2023;Nein;Nein\r\n"
    "K-1010;Becker Bau;Tim;Becker;t.becker@becker-bau.de;30159;Hannover;Bau;5,9;48;Messe;02.02.2023;Nein;Nein\r\n"
    "K-1011;Richter Medizintechnik;Lena;Richter;l.richter@richter-med.de;44135;Dortmund;Medizin;22,0;190;"
    "Empfehlung;06.02.2023;Ja;Ja\r\n"
    "K-1012;Wolf Textil;Ute;Wolf;ute.wolf@wolf-textil.de;09111;Chemnitz;Textil;0,9;11;Webseite;09.02.2023;"
    "Nein;Nein\r\n"
    "K-1013;Schäfer Optik;Max;Schäfer;m.schaefer@schaefer-optik.de;86150;Augsburg;Handel;1,2;9;Webseite;"
    "13.02.2023;Nein;Nein\r\n"
    "K-1014;Neumann Elektro;Paul;Neumann;p.neumann@neumann-elektro.de;99084;Erfurt;Elektro;6,6;52;Messe;"
    "16.02.2023;Ja;Ja\r\n"
    "K-1015;Krüger Metall;Sven;Krüger;s.krueger@krueger-metall.de;39104;Magdeburg;Maschinenbau;11,1;97;"
    "Empfehlung;20.02.2023;Nein;Ja\r\n"
    "K-1016;Lange Möbel;Ina;Lange;ina.lange@lange-moebel.de;24103;Kiel;Handel;3,3;27;Webseite;23.02.2023;"
    "Nein;Nein\r\n"
)

# A HubSpot contacts export: UTF-8 with a byte-order mark, quoted headers, a numeric "Record ID",
# ISO date-times, lifecycle stages and no won/lost column.
HUBSPOT = (
    "\ufeff"
    '"Record ID","First Name","Last Name","Email","Company Name","Create Date","Lifecycle Stage",'
    '"Lead Status","Original Source","Number of Employees","Marketing emails opened","Country/Region",'
    '"Became a Customer Date"\n'
    '"51","Ava","Nguyen","ava@northwind.io","Northwind","2023-03-01 09:12","customer","Connected",'
    '"Organic Search","120","14","United States","2023-04-11 10:00"\n'
    '"52","Ben","Ortiz","ben@acme.com","Acme","2023-03-02 11:40","lead","New","Paid Social","15","2",'
    '"United States",""\n'
    '"53","Chloe","Martin","chloe@globex.fr","Globex","2023-03-02 15:03","marketingqualifiedlead",'
    '"Attempted to Contact","Organic Search","300","7","France",""\n'
    '"54","Dev","Patel","dev@initech.in","Initech","2023-03-03 08:55","customer","Connected","Referrals",'
    '"45","22","India","2023-03-29 16:20"\n'
    '"55","Emma","Schulz","emma@umbrella.de","Umbrella","2023-03-04 13:27","lead","Unqualified",'
    '"Paid Search","8","0","Germany",""\n'
    '"56","Finn","Walsh","finn@hooli.ie","Hooli","2023-03-05 10:10","salesqualifiedlead","In Progress",'
    '"Direct Traffic","60","5","Ireland",""\n'
    '"57","Gia","Rossi","gia@vandelay.it","Vandelay","2023-03-06 17:45","customer","Connected",'
    '"Organic Search","900","31","Italy","2023-05-02 09:30"\n'
    '"58","Hugo","Lefevre","hugo@soylent.fr","Soylent","2023-03-07 09:01","lead","Bad Timing","Paid Social",'
    '"","1","France",""\n'
    '"59","Ivy","Chen","ivy@wayne.com","Wayne","2023-03-08 12:12","opportunity","Open Deal",'
    '"Organic Search","2500","9","United States",""\n'
    '"60","Jon","Berg","jon@stark.se","Stark","2023-03-09 14:30","lead","New","Direct Traffic","30","0",'
    '"Sweden",""\n'
    '"61","Kai","Novak","kai@tyrell.cz","Tyrell","2023-03-10 16:05","customer","Connected","Referrals","75",'
    '"18","Czech Republic","2023-04-20 11:15"\n'
    '"62","Lea","Costa","lea@cyberdyne.pt","Cyberdyne","2023-03-11 10:50","lead","Unqualified",'
    '"Paid Search","5","0","Portugal",""\n'
)

# A Salesforce lead report (Export Details, CSV): quoted cells, 18-character ids, M/D/YYYY dates,
# "Lead Status" picklist values with open leads still in progress, a "--None--" picklist gap.
SALESFORCE_ROWS = [
    ("00Q5g00000AbCd1EAB", "Web", "Technology", "250", "1/15/2023", "Closed - Converted"),
    ("00Q5g00000AbCd2EAB", "Phone Inquiry", "Retail", "40", "1/17/2023", "Closed - Not Converted"),
    ("00Q5g00000AbCd3EAB", "Partner Referral", "Technology", "1200", "1/19/2023", "Closed - Converted"),
    ("00Q5g00000AbCd4EAB", "Web", "Healthcare", "85", "1/23/2023", "Working - Contacted"),
    ("00Q5g00000AbCd5EAB", "--None--", "Retail", "12", "1/24/2023", "Closed - Not Converted"),
    ("00Q5g00000AbCd6EAB", "Trade Show", "Manufacturing", "600", "1/26/2023", "Closed - Converted"),
    ("00Q5g00000AbCd7EAB", "Web", "Education", "30", "1/30/2023", "Open - Not Contacted"),
    ("00Q5g00000AbCd8EAB", "Phone Inquiry", "Technology", "75", "2/1/2023", "Closed - Not Converted"),
    ("00Q5g00000AbCd9EAB", "Partner Referral", "Finance", "900", "2/3/2023", "Closed - Converted"),
    ("00Q5g00000AbCe1EAB", "Web", "Retail", "22", "2/6/2023", "Closed - Not Converted"),
    ("00Q5g00000AbCe2EAB", "Trade Show", "Healthcare", "310", "2/8/2023", "Closed - Converted"),
    ("00Q5g00000AbCe3EAB", "--None--", "Education", "18", "2/13/2023", "Closed - Not Converted"),
    ("00Q5g00000AbCe4EAB", "Web", "Technology", "140", "2/15/2023", "Working - Contacted"),
    ("00Q5g00000AbCe5EAB", "Partner Referral", "Manufacturing", "780", "2/17/2023", "Closed - Converted"),
]
SALESFORCE = (
    '"Lead ID","Lead Source","Industry","No. of Employees","Created Date","Lead Status"\r\n'
    + "".join(",".join(f'"{v}"' for v in row) + "\r\n" for row in SALESFORCE_ROWS)
)

# A web-form export with no id at all: tab-separated, day-first timestamps where every day is 12 or less.
WEBFORM = (
    "Timestamp\tCompany size\tBudget\tCountry\tWants a demo\n"
    "01/02/2023 09:14:03\t11-50\t5000\tUK\tYes\n"
    "02/02/2023 10:01:44\t1-10\t\tUK\tNo\n"
    "03/02/2023 12:30:00\t51-200\t20000\tIreland\tYes\n"
    "04/02/2023 08:45:10\t11-50\t7500\tUK\tNo\n"
    "05/02/2023 16:20:31\t201-500\t50000\tUK\tYes\n"
    "06/02/2023 11:11:11\t1-10\t1000\tN/A\tNo\n"
    "07/02/2023 13:05:57\t11-50\t6000\tUK\tNo\n"
    "08/02/2023 09:00:00\t51-200\t15000\tIreland\tYes\n"
    "09/02/2023 10:40:12\t1-10\t500\tUK\tNo\n"
    "10/02/2023 14:22:48\t11-50\t8000\tUK\tYes\n"
    "11/02/2023 15:03:19\t51-200\t12000\tN/A\tNo\n"
    "12/02/2023 17:59:59\t1-10\t900\tUK\tNo\n"
)


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _draft_and_load(csv_path: Path, out: Path, **kwargs: object) -> tuple[object, dict]:
    draft = draft_project(csv_path, **kwargs)  # type: ignore[arg-type]
    write_draft(draft, out)
    raw = yaml.safe_load((out / "mapping.yaml").read_text(encoding="utf-8"))
    return draft, raw


def _check_project(csv_path: Path, out: Path) -> None:
    """The four files load with leadgate's own loaders and every row of the file imports."""
    mapping = load_mapping(out / "mapping.yaml")
    features = load_feature_set(out / "features.yaml")
    features.check_sources(mapping.stages())
    load_policy(out / "policy.yaml")
    project = read_project(out / "leadgate.yaml")
    assert project.mapping_path == (out / "mapping.yaml").resolve()
    rejected = []
    imported = 0
    for chunk in read_csv_chunks(csv_path, mapping):
        imported += len(chunk.records)
        rejected += chunk.rejected
    assert rejected == []
    assert imported > 0


def test_german_crm_export_semicolons_cp1252_decimal_commas(tmp_path: Path) -> None:
    path = _write(tmp_path, "Kontakte_Export.csv", GERMAN, "cp1252")
    draft, raw = _draft_and_load(path, tmp_path / "kontakte")
    assert (draft.encoding, draft.delimiter, draft.decimal) == ("cp1252", ";", ",")
    assert (raw["delimiter"], raw["encoding"], raw["decimal"]) == (";", "cp1252", ",")
    assert draft.id_column == "Kunden-Nr." and raw["id_column"] == "Kunden-Nr."
    assert draft.label_column == "Abschluss"
    cols = raw["columns"]
    assert cols["Abschluss"] == {
        "field": "abschluss",
        "stage": "label",
        "type": "boolean",
        "true_values": ["Ja"],
        "false_values": ["Nein"],
    }
    assert cols["Umsatz (Mio. €)"]["type"] == "number"
    assert cols["Mitarbeiter"]["type"] == "integer"
    assert cols["PLZ"]["type"] in ("category", "string")  # leading zeros: not a number
    assert cols["Erstellt am"] == {
        "field": "erstellt_am",
        "stage": "pre_decision",
        "type": "datetime",
        "format": "%d.%m.%Y",
        "timezone": "UTC",
    }
    assert raw["time_column"] == "Erstellt am"
    assert cols["Quelle"]["missing_values"] == ["", "k.A."]
    assert cols["E-Mail"]["lead_field"] == "email"
    assert cols["Ort"]["lead_field"] == "city"
    assert draft.n_positive == 7 and draft.n_negative == 9
    _check_project(path, tmp_path / "kontakte")


def test_hubspot_contacts_export_has_no_label_until_one_is_chosen(tmp_path: Path) -> None:
    path = _write(tmp_path, "hubspot-crm-exports-all-contacts-2023-05-31.csv", HUBSPOT)
    draft, raw = _draft_and_load(path, tmp_path / "hubspot")
    assert draft.bom and draft.encoding == "utf-8"
    assert draft.id_column == "Record ID"
    assert draft.time_column == "Create Date"
    assert draft.label_column is None
    assert any("leadgate outcomes import" in w for w in draft.warnings)
    assert "# outcomes: outcomes.yaml" in (tmp_path / "hubspot" / "leadgate.yaml").read_text()
    cols = raw["columns"]
    assert all(c["stage"] != "label" for c in cols.values())
    assert cols["Became a Customer Date"]["type"] == "datetime"
    assert "later event" in (tmp_path / "hubspot" / "mapping.yaml").read_text()
    assert cols["Email"]["lead_field"] == "email"
    features = load_feature_set(tmp_path / "hubspot" / "features.yaml").names
    assert "email" not in features and "first_name" not in features and "record_id" not in features
    assert "original_source" in features and "number_of_employees" in features
    _check_project(path, tmp_path / "hubspot")

    chosen = draft_project(path, label="Lifecycle Stage", positive=["customer"])
    assert chosen.label_column == "Lifecycle Stage"
    assert (chosen.n_positive, chosen.n_negative) == (4, 8)
    with pytest.raises(DraftError, match="cannot tell which values of 'Lifecycle Stage'"):
        draft_project(path, label="Lifecycle Stage")
    with pytest.raises(DraftError, match="not a column"):
        draft_project(path, label="Deal Stage")


def test_salesforce_lead_report_lead_status_splits_into_outcomes(tmp_path: Path) -> None:
    path = _write(tmp_path, "report1674041234567.csv", SALESFORCE)
    draft, raw = _draft_and_load(path, tmp_path / "sf")
    assert draft.id_column == "Lead ID"
    assert draft.label_column == "Lead Status"
    status = raw["columns"]["Lead Status"]
    assert status["type"] == "boolean"
    assert status["true_values"] == ["Closed - Converted"]
    assert status["false_values"] == ["Closed - Not Converted"]
    assert set(status["missing_values"]) == {"", "Open - Not Contacted", "Working - Contacted"}
    assert (draft.n_positive, draft.n_negative) == (6, 5)
    created = raw["columns"]["Created Date"]
    assert (created["type"], created["format"]) == ("datetime", "%m/%d/%Y")
    assert raw["columns"]["Lead Source"]["missing_values"] == ["", "--None--"]
    assert raw["columns"]["No. of Employees"]["type"] == "integer"
    _check_project(path, tmp_path / "sf")


def test_file_without_id_column_gets_content_ids_and_ambiguous_dates_are_flagged(tmp_path: Path) -> None:
    path = _write(tmp_path, "Demo requests.tsv", WEBFORM)
    draft, raw = _draft_and_load(path, tmp_path / "demo")
    assert draft.delimiter == "\t"
    assert draft.id_column is None and "id_column" not in raw
    text = (tmp_path / "demo" / "mapping.yaml").read_text()
    assert "No id column" in text
    assert "day and month are both 12 or less" in text
    assert raw["columns"]["Country"]["missing_values"] == ["", "N/A"]
    assert raw["columns"]["Wants a demo"]["type"] == "boolean"
    assert draft.label_column is None
    _check_project(path, tmp_path / "demo")


def test_xeducation_names_tags_as_a_likely_leak(tmp_path: Path) -> None:
    draft, raw = _draft_and_load(XEDUCATION, tmp_path / "xed")
    assert draft.label_column == "Converted" and draft.id_column == "Prospect ID"
    assert draft.leaks == ["Tags"]
    assert draft.column("Tags").auc > 0.9  # type: ignore[attr-defined]
    assert draft.column("Lead Origin").auc < 0.7  # type: ignore[attr-defined]
    assert raw["columns"]["Tags"]["stage"] == "pre_decision"  # the user decides
    mapping_text = (tmp_path / "xed" / "mapping.yaml").read_text()
    assert "LIKELY LEAK" in mapping_text and "set stage: post_decision if so" in mapping_text
    features = load_feature_set(tmp_path / "xed" / "features.yaml").names
    assert "tags" not in features and "lead_number" not in features and "magazine" not in features
    assert {"lead_origin", "lead_source", "total_time_spent_on_website"} <= set(features)
    assert raw["columns"]["Specialization"]["missing_values"] == ["", "Select"]
    assert raw["columns"]["Converted"]["true_values"] == ["1"]
    assert abs(draft.base_rate - 3561 / 9240) < 1e-12  # type: ignore[attr-defined]
    policy = load_policy(tmp_path / "xed" / "policy.yaml")
    assert (policy.tiers.hot, policy.tiers.warm, policy.tiers.nurture) == (0.693, 0.385, 0.0963)
    assert policy.disqualification == [] and policy.overrides == []
    _check_project(XEDUCATION, tmp_path / "xed")


@pytest.mark.skipif(not OLIST.is_file(), reason="the shared Olist data is not on this machine")
def test_olist_mql_file_has_no_label_and_a_first_contact_time(tmp_path: Path) -> None:
    draft, raw = _draft_and_load(OLIST, tmp_path / "olist")
    assert draft.label_column is None and draft.leaks == []
    assert raw["time_column"] == "first_contact_date" and raw["id_column"] == "mql_id"
    assert raw["columns"]["first_contact_date"]["type"] == "datetime"
    assert raw["columns"]["origin"]["missing_values"] == ["", "unknown"]
    policy_text = (tmp_path / "olist" / "policy.yaml").read_text()
    assert "base rate is unknown" in policy_text
    _check_project(OLIST, tmp_path / "olist")


def test_tiers_follow_the_base_rate() -> None:
    assert draft_tiers(0.1053) == (0.211, 0.105, 0.0263)
    assert draft_tiers(0.6) == (0.8, 0.6, 0.15)
    assert draft_tiers(None) == (0.5, 0.2, 0.05)


def test_snake_names() -> None:
    assert snake_name("Umsatz (Mio. €)") == "umsatz_mio"
    assert snake_name("Größe") == "grosse"
    assert snake_name("2nd Touch") == "c_2nd_touch"
    assert snake_name("Country/Region") == "country_region"


def test_unreadable_files_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DraftError, match="empty"):
        draft_project(_write(tmp_path, "empty.csv", "\n"))
    with pytest.raises(DraftError, match="no data rows"):
        draft_project(_write(tmp_path, "header.csv", "a,b,c\n"))
    with pytest.raises(DraftError, match="duplicate column headers: 'Email'"):
        draft_project(_write(tmp_path, "dupes.csv", "Email,Name,Email\na@b.c,A,a@b.c\n"))
    with pytest.raises(DraftError, match="--positive needs --label"):
        draft_project(_write(tmp_path, "x.csv", "a,b\n1,2\n"), positive=["1"])


def _cli() -> Typer:
    app = Typer()
    app.command("init")(init_cmd)
    app.command("other")(lambda: None)  # a second command keeps "init" a subcommand, as in leadgate.cli
    return app


def test_cli_writes_a_folder_named_after_the_file_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = _write(tmp_path, "report1674041234567.csv", SALESFORCE)
    runner = CliRunner()
    first = runner.invoke(_cli(), ["init", str(path)])
    assert first.exit_code == 0, first.output
    folder = tmp_path / "report1674041234567"
    assert sorted(p.name for p in folder.iterdir()) == [
        "features.yaml",
        "leadgate.yaml",
        "mapping.yaml",
        "policy.yaml",
    ]
    assert "Lead Status" in first.output and "leadgate evaluate --project" in first.output
    again = runner.invoke(_cli(), ["init", str(path)])
    assert again.exit_code == 1
    assert "refusing to overwrite" in again.output and "--force" in again.output
    forced = runner.invoke(_cli(), ["init", str(path), "--force", "--out", str(folder)])
    assert forced.exit_code == 0, forced.output
    bad = runner.invoke(_cli(), ["init", str(path), "--out", str(tmp_path / "o2"), "--label", "Stage"])
    assert bad.exit_code == 1 and "'Stage' is not a column" in bad.output
    assert not (tmp_path / "o2").exists()
