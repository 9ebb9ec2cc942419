"""Print the knowledge-base answer quality on the question sets (issue 10, acceptance 4).

Usage (from the repository root)::

    PYTHONPATH=src python bench/kb_quality.py             # Lumenly, Quillstack and Fernhollow sets, overall
    PYTHONPATH=src python bench/kb_quality.py --heldout   # also the held-out set (run it only at the end)
    PYTHONPATH=src python bench/kb_quality.py -v          # also list misses and fabrications

Figures: correct and cited, abstention on unanswerable questions, fabrication (see
``leadgate.chat.kb.evaluate``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from leadgate.chat.kb import KnowledgeBase
from leadgate.chat.kb.evaluate import Item, Report, evaluate, load_question_set

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "chat" / "data"
KB_DIRS = {
    "lumenly": None,
    "quillstack": ROOT / "examples" / "quillstack" / "kb",
    "fernhollow": DATA / "kb_fernhollow",
}
SETS = {
    "lumenly": "kb_questions.yml",
    "quillstack": "kb_questions_quillstack.yml",
    "fernhollow": "kb_questions_fernhollow.yml",
}


def _print(report: Report, verbose: bool) -> None:
    print(report.summary())
    if verbose:
        for q, why in report.misses:
            print(f"    miss: {q!r} -> {why}")
        for q, why in report.fabrications:
            print(f"    FABRICATION: {q!r} -> {why}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--heldout", action="store_true", help="also run tests/chat/data/kb_questions_heldout.yml"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="list misses and fabrications")
    args = parser.parse_args()
    kbs = {name: KnowledgeBase.load(path) for name, path in KB_DIRS.items()}
    started = time.perf_counter()
    reports = []
    for name, file in SETS.items():
        items, _meta = load_question_set(DATA / file)
        reports.append(evaluate(kbs[name], items, name))
    overall = reports[0]
    for report in reports[1:]:
        overall = overall.merge(report, "overall")
    for report in [*reports, overall]:
        _print(report, args.verbose)
    n = overall.answerable + overall.unanswerable
    print(f"{n} questions in {time.perf_counter() - started:.2f} s")
    if args.heldout:
        import yaml

        data = yaml.safe_load((DATA / "kb_questions_heldout.yml").read_text(encoding="utf-8"))
        held: Report | None = None
        for name, kb in kbs.items():
            if not any(r["kb"] == name for r in data["answerable"] + data["unanswerable"]):
                continue
            items = [
                Item(
                    q=r["q"],
                    sources=tuple(r["source"]) if isinstance(r["source"], list) else (r["source"],),
                    expect=r["expect"],
                )
                for r in data["answerable"]
                if r["kb"] == name
            ] + [Item(q=r["q"]) for r in data["unanswerable"] if r["kb"] == name]
            report = evaluate(kb, items, f"held-out {name}")
            held = report if held is None else held.merge(report, "held-out overall")
            _print(report, args.verbose)
        assert held is not None
        _print(held, args.verbose)


if __name__ == "__main__":
    main()
