"""The training YAML: it loads, covers every intent, has no internal contradictions, and shares no row
with the shared evaluation set (dedupe guard)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from tests.chat.conftest import EVAL_FILE

from leadgate.chat.nlu import INTENTS, NLUDataError, dedupe_key, load_nlu_data, load_training_examples
from leadgate.chat.nlu.data import parse_nlu_data, split_examples

MIN_EXAMPLES_PER_INTENT = 100


def test_every_intent_has_enough_examples() -> None:
    counts = {name: len(texts) for name, texts in load_nlu_data().by_intent().items()}
    assert set(counts) == set(INTENTS)
    too_few = {name: n for name, n in counts.items() if n < MIN_EXAMPLES_PER_INTENT}
    assert not too_few, f"intents with fewer than {MIN_EXAMPLES_PER_INTENT} examples: {too_few}"


def test_no_text_is_labelled_with_two_intents() -> None:
    labels: dict[str, set[str]] = defaultdict(set)
    for example in load_training_examples():  # nlu.yml and the public-corpus files together
        labels[dedupe_key(example.text)].add(example.intent)
    conflicts = {key: sorted(v) for key, v in labels.items() if len(v) > 1}
    assert not conflicts


def test_role_lexicon_maps_every_seniority_to_an_authority() -> None:
    roles = load_nlu_data().roles
    assert set(roles.seniority) <= set(roles.authority)
    assert roles.authority["c_level"] == "decision_maker"
    assert roles.authority["student"] == "none"
    assert "engineering" in roles.departments


def test_dedupe_key_ignores_case_spacing_and_punctuation() -> None:
    assert dedupe_key("  Hi   THERE!! ") == dedupe_key("hi there")
    assert dedupe_key("what's up?") == dedupe_key("What s up")
    assert dedupe_key("👋") == "👋"
    assert dedupe_key("hi there") != dedupe_key("hi their")


def _eval_keys() -> set[str]:
    if not EVAL_FILE.is_file():
        pytest.fail(
            f"the shared evaluation file {EVAL_FILE} is missing: the dedupe guard needs it "
            "(set LEADGATE_INTENT_EVAL to its path)"
        )
    keys = set()
    with open(EVAL_FILE, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                keys.add(dedupe_key(json.loads(line)["text"]))
    assert len(keys) > 1000, "the evaluation file looks truncated"
    return keys


def test_training_data_shares_no_row_with_the_eval_set() -> None:
    eval_keys = _eval_keys()
    shared = [e.text for e in load_training_examples() if dedupe_key(e.text) in eval_keys]
    assert not shared, f"{len(shared)} training rows also occur in {EVAL_FILE.name}: {shared[:20]}"


def test_held_out_test_utterances_share_no_row_with_the_eval_set() -> None:
    from tests.chat.test_intents import HARD_NEGATIVES, HELD_OUT

    eval_keys = _eval_keys()
    shared = [text for text, _ in HELD_OUT + HARD_NEGATIVES if dedupe_key(text) in eval_keys]
    assert not shared


def test_unknown_intent_is_rejected(tmp_path: Path) -> None:
    bad = "nlu:\n- intent: greeting\n  examples: |\n    - hi\n"
    with pytest.raises(NLUDataError, match="unknown intent 'greeting'"):
        parse_nlu_data(bad)


def test_missing_intents_and_roles_are_rejected() -> None:
    only_greet = "nlu:\n- intent: greet\n  examples: |\n    - hey there\n"
    with pytest.raises(NLUDataError, match="no examples for intents"):
        parse_nlu_data(only_greet)
    full = "nlu:\n" + "".join(f"- intent: {i}\n  examples: |\n    - example {i}\n" for i in INTENTS)
    with pytest.raises(NLUDataError, match="missing 'roles'"):
        parse_nlu_data(full)


def test_bad_example_line_and_duplicate_block_are_rejected() -> None:
    with pytest.raises(NLUDataError, match="expected '- TEXT'"):
        parse_nlu_data("nlu:\n- intent: greet\n  examples: |\n    hi there\n")
    twice = "nlu:\n- intent: greet\n  examples: |\n    - a\n- intent: greet\n  examples: |\n    - b\n"
    with pytest.raises(NLUDataError, match="appears twice"):
        parse_nlu_data(twice)


def test_load_from_a_file_path(tmp_path: Path) -> None:
    shipped = load_nlu_data()
    path = tmp_path / "nlu.yml"
    from importlib import resources

    path.write_text(resources.files("leadgate.chat").joinpath("data/nlu.yml").read_text("utf-8"), "utf-8")
    copy = load_nlu_data(path)
    assert copy.examples == shipped.examples
    assert copy.digest == shipped.digest


def test_split_is_stratified_and_deterministic() -> None:
    examples = load_nlu_data().examples
    train, held = split_examples(examples, test_fraction=0.2, seed=3)
    assert len(train) + len(held) == len(examples)
    assert {e.intent for e in held} == set(INTENTS)
    assert (train, held) == split_examples(examples, test_fraction=0.2, seed=3)
    with pytest.raises(ValueError):
        split_examples(examples, test_fraction=1.0)


def test_public_corpus_files_are_shipped_with_their_provenance() -> None:
    from importlib import resources

    from leadgate.chat.nlu.data import PUBLIC_DATA_DIR, parse_example_file, public_data_files

    files = public_data_files()
    assert files == [f"{PUBLIC_DATA_DIR}/hwu64.yml"]
    root = resources.files("leadgate.chat")
    examples = parse_example_file(root.joinpath(files[0]).read_text(encoding="utf-8"), source=files[0])
    counts = Counter(e.intent for e in examples)
    assert counts == {"out_of_scope": 825, "affirm": 15, "deny": 15}  # PROVENANCE.md's table
    provenance = root.joinpath(f"{PUBLIC_DATA_DIR}/PROVENANCE.md").read_text(encoding="utf-8")
    assert "f6071b496b17d71e6eb43f543af0707f4ff30557" in provenance and "CC BY 4.0" in provenance
    all_examples = load_training_examples()
    assert len(all_examples) == len(load_nlu_data().examples) + len(examples)
    assert all_examples[-len(examples) :] == examples


def test_extra_example_files_reject_unknown_intents_and_bad_lines() -> None:
    from leadgate.chat.nlu.data import parse_example_file

    ok = parse_example_file("nlu:\n- intent: greet\n  examples: |\n    - howdy y'all\n")
    assert [(e.text, e.intent) for e in ok] == [("howdy y'all", "greet")]
    with pytest.raises(NLUDataError, match="unknown intent 'weather'"):
        parse_example_file("nlu:\n- intent: weather\n  examples: |\n    - rain?\n", source="x.yml")
    with pytest.raises(NLUDataError, match="expected '- TEXT'"):
        parse_example_file("nlu:\n- intent: greet\n  examples: |\n    hello\n")
    with pytest.raises(NLUDataError, match="appears twice"):
        parse_example_file(
            "nlu:\n- intent: greet\n  examples: |\n    - hi\n- intent: greet\n  examples: |\n    - yo\n"
        )
