r"""Map HWU64 (xliuhw/NLU-Evaluation-Data, CC BY 4.0) into leadgate training examples.

Regenerates ``src/leadgate/chat/data/nlu_public/hwu64.yml`` from a local copy of the repository (a git
directory: the file is read with ``git show COMMIT:PATH``, so no work tree is needed)::

    python scripts/map_public_intents.py --repo /path/to/NLU-Evaluation-Data/.git \\
        [--eval ../shared/eval/intent_eval.jsonl] [--per-intent 15] [--check]

What it does, in order (see ``src/leadgate/chat/data/nlu_public/PROVENANCE.md``):

1. reads every utterance of the 64 intents from the ``KFold_1`` split of the repository's
   cross-validation folder (its train CSV files plus its annotated test JSON files, which together
   are the whole annotated set used there);
2. maps the source intents by :data:`MAPPING` (``general_affirm`` -> affirm, ``general_negate`` -> deny,
   the other-domain commands and small talk -> out_of_scope); intents in :data:`SKIPPED` are left out
   because their meaning does not match one leadgate intent;
3. drops every utterance whose ``dedupe_key`` equals one of the shared eval file's rows (only the keys
   are computed; no row is printed), one of leadgate's own ``nlu.yml`` rows (whatever their label), or an
   utterance already kept, and any text the mapping would give two labels;
4. keeps at most ``--per-intent`` utterances per source intent, chosen by a fixed hash of the text (so
   the choice is reproducible and independent of file order);
5. writes the YAML (``nlu:`` blocks) and prints the counts.

``--check`` regenerates in memory and exits 1 if the committed file differs.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from leadgate.chat.nlu.data import dedupe_key, load_nlu_data  # noqa: E402

REPO = "xliuhw/NLU-Evaluation-Data"
COMMIT = "f6071b496b17d71e6eb43f543af0707f4ff30557"
FOLD = "CrossValidation/autoGeneFromRealAnno/autoGene_2018_03_22-13_01_25_169/CrossValidation/KFold_1"
OUT = ROOT / "src" / "leadgate" / "chat" / "data" / "nlu_public" / "hwu64.yml"
DEFAULT_EVAL = ROOT.parent / "shared" / "eval" / "intent_eval.jsonl"

SKIPPED: dict[str, str] = {
    "general_confirm": "asks the assistant to confirm its own action ('did you set it?'): no leadgate intent",
    "general_dontcare": "'whatever', 'any is fine': an answer, affirm or inform depending on the question",
    "general_explain": "'what do you mean?': a clarification request, no leadgate intent",
    "general_repeat": "'say that again': no leadgate intent",
    "general_commandstop": "'stop', 'cancel': no leadgate intent",
    "calendar_set": "'schedule a meeting with Al on Tuesday' is close to booking a demo (demo_request)",
    "email_addcontact": "adds an e-mail address to contacts: reads like a visitor giving data (inform)",
}
"""Source intents left out, with the reason."""

OUT_OF_SCOPE_SCENARIOS = (
    "alarm",
    "audio",
    "calendar",
    "cooking",
    "datetime",
    "email",
    "iot",
    "lists",
    "music",
    "news",
    "play",
    "qa",
    "recommendation",
    "social",
    "takeaway",
    "transport",
    "weather",
)
"""Home-assistant domains: a request of any of them is unrelated to a B2B product (out_of_scope)."""

MAPPING: dict[str, str] = {
    "general_affirm": "affirm",
    "general_negate": "deny",
    "general_praise": "out_of_scope",
    "general_joke": "out_of_scope",
    "general_quirky": "out_of_scope",
}
"""Source intent -> leadgate intent for the ``general`` scenario; other scenarios map by
:data:`OUT_OF_SCOPE_SCENARIOS` (minus :data:`SKIPPED`)."""


def target(source_intent: str) -> str | None:
    """The leadgate intent of a HWU64 intent (``scenario_intent``), or None when skipped."""
    if source_intent in SKIPPED:
        return None
    if source_intent in MAPPING:
        return MAPPING[source_intent]
    if source_intent.split("_", 1)[0] in OUT_OF_SCOPE_SCENARIOS:
        return "out_of_scope"
    return None


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def read_hwu(repo: Path) -> list[tuple[str, str]]:
    """``(text, scenario_intent)`` of every utterance in the fold's train CSVs and annotated test JSONs."""
    rows: list[tuple[str, str]] = []
    for path in _git(repo, "ls-tree", "-r", "--name-only", COMMIT, FOLD).splitlines():
        content = _git(repo, "show", f"{COMMIT}:{path}")
        if path.endswith(".csv") and "/trainset/" in path:
            for rec in csv.DictReader(io.StringIO(content), delimiter=";"):
                rows.append((rec["answer_from_anno"].strip(), f"{rec['scenario']}_{rec['intent']}"))
        elif path.endswith(".json") and "/testset/annotated/" in path:
            for rec in json.loads(content)["test_data_annotation"]:
                rows.append((rec["text"].strip(), rec["intent"]))
    return rows


def _eval_keys(path: Path) -> set[str]:
    with open(path, encoding="utf-8") as fh:
        return {dedupe_key(json.loads(line)["text"]) for line in fh if line.strip()}


def build(repo: Path, eval_file: Path, per_intent: int) -> tuple[str, dict[str, object]]:
    """The YAML text and the counts."""
    rows = read_hwu(repo)
    eval_keys = _eval_keys(eval_file)
    own_keys = {dedupe_key(e.text) for e in load_nlu_data().examples}
    labels: dict[str, set[str]] = defaultdict(set)
    for text, source in rows:
        mapped = target(source)
        if mapped is not None:
            labels[dedupe_key(text)].add(mapped)
    counts: Counter[str] = Counter()
    by_source: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for text, source in rows:
        mapped = target(source)
        counts["read"] += 1
        if mapped is None:
            counts["skipped_intent"] += 1
            continue
        key = dedupe_key(text)
        if not text or not key:
            counts["empty"] += 1
        elif key in eval_keys:
            counts["dropped_eval_duplicate"] += 1
        elif key in own_keys:
            counts["dropped_own_duplicate"] += 1
        elif len(labels[key]) > 1:
            counts["dropped_label_conflict"] += 1
        elif key in seen:
            counts["dropped_internal_duplicate"] += 1
        else:
            seen.add(key)
            by_source[source].append(text)
    kept: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for source in sorted(by_source):
        texts = sorted(by_source[source], key=lambda t: hashlib.sha256(t.encode()).hexdigest())[:per_intent]
        counts["dropped_over_cap"] += len(by_source[source]) - len(texts)
        for text in texts:
            kept[target(source) or ""].append((text, source))
    lines = [
        f"# Mapped from HWU64 ({REPO}@{COMMIT[:12]}, {FOLD}/...), CC BY 4.0:",
        "# Liu, Eshghi, Swietojanski, Rieser, 'Benchmarking Natural Language Understanding Services for",
        "# building Conversational Agents', IWSDS 2019. Generated by scripts/map_public_intents.py; do not edit.",
        "# Provenance, mapping and counts: PROVENANCE.md in this folder.",
        'version: "3.1"',
        "nlu:",
    ]
    for intent in sorted(kept):
        lines.append(f"- intent: {intent}")
        lines.append("  examples: |")
        lines.extend(f"    - {text}" for text, _ in sorted(kept[intent]))
    summary = {
        "counts": dict(counts),
        "kept": {intent: len(v) for intent, v in sorted(kept.items())},
        "kept_by_source": dict(sorted(Counter(s for v in kept.values() for _, s in v).items())),
    }
    return "\n".join(lines) + "\n", summary


def main() -> None:
    """Parse the command line, build the file (or check it) and print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repo", type=Path, required=True, help="git directory of xliuhw/NLU-Evaluation-Data"
    )
    parser.add_argument("--eval", type=Path, default=DEFAULT_EVAL, help="the shared eval JSONL (dedup only)")
    parser.add_argument("--per-intent", type=int, default=15, help="most utterances kept per source intent")
    parser.add_argument("--check", action="store_true", help="fail if the committed file differs")
    args = parser.parse_args()
    text, summary = build(args.repo, args.eval, args.per_intent)
    print(json.dumps(summary, indent=2))
    if args.check:
        if OUT.read_text(encoding="utf-8") != text:
            sys.exit(f"{OUT} is not what the script generates")
        return
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
