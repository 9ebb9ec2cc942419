"""Read leadgate's NLU training data: Rasa-like YAML with intents, examples and a role lexicon.

The file format (``src/leadgate/chat/data/nlu.yml``)::

    version: "3.1"
    nlu:
    - intent: greet
      examples: |
        - hey there
        - good morning
    roles:
      seniority: {c_level: [ceo, ...], vp: [...], ...}     # regular expressions, case-insensitive
      authority: {c_level: decision_maker, ...}
      departments: {engineering: [cto, engineer, ...], ...}

Every intent in :data:`INTENTS` must have examples and no other intent may appear, so a typo in the
file fails loudly at load time instead of training a classifier with a stray class.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from leadgate.contracts.vocabulary import AUTHORITIES, SENIORITIES

INTENTS: tuple[str, ...] = (
    "greet",
    "goodbye",
    "affirm",
    "deny",
    "inform",
    "demo_request",
    "pricing",
    "product_question",
    "support",
    "job_seeker",
    "spam",
    "human_handoff",
    "out_of_scope",
)
"""The intents leadgate's chat front door knows (issue 3, acceptance item 3)."""

DEFAULT_DATA_RESOURCE = "data/nlu.yml"
"""The training data shipped in the package, relative to ``leadgate.chat``."""

PUBLIC_DATA_DIR = "data/nlu_public"
"""Extra training examples mapped from public corpora (``*.yml``, see its ``PROVENANCE.md``), relative to
``leadgate.chat``."""

_WORD = re.compile(r"\w+")
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it (parses ``nlu.yml`` about ten times faster)."""


class NLUDataError(ValueError):
    """The NLU training-data file is malformed (unknown intent, missing section, bad regex...)."""


def dedupe_key(text: str) -> str:
    """Return the key under which two utterances count as the same row.

    Lowercased word characters joined by single spaces, so case, spacing and punctuation are ignored
    (``"Hi there!"`` and ``"hi  there"`` share a key). Text with no word character (emoji, ``"???"``)
    falls back to its lowercased, whitespace-collapsed form. Stricter than the shared eval set's own
    dedup key (lowercase, collapsed whitespace, trailing ``.!?`` stripped; see
    ``shared/eval/SOURCES.md``), so a row that passes this check also passes that one.

    Args:
        text: an utterance.

    Returns:
        The normalized key.

    """
    key = " ".join(_WORD.findall(text.lower()))
    return key or " ".join(text.lower().split())


@dataclass(frozen=True)
class TrainingExample:
    """One labelled utterance.

    Attributes:
        text: the utterance as a visitor would type it.
        intent: one of :data:`INTENTS`.

    """

    text: str
    intent: str


@dataclass(frozen=True)
class RoleLexicon:
    """Job-title lookup table.

    Attributes:
        seniority: seniority level -> regular expressions (case-insensitive, matched on whole words)
            of titles at that level, e.g. ``{"vp": ("vp", "vice president")}``.
        authority: seniority level -> authority (one of :data:`AUTHORITIES`).
        departments: department -> regular expressions of words that name it.

    """

    seniority: Mapping[str, tuple[str, ...]]
    authority: Mapping[str, str]
    departments: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class NLUData:
    """The parsed training-data file.

    Attributes:
        examples: all labelled utterances in file order.
        roles: the job-title lexicon.
        version: the file's ``version`` field.
        digest: SHA-256 of the file's bytes (hex), to tie a trained model to its data.

    """

    examples: tuple[TrainingExample, ...]
    roles: RoleLexicon
    version: str
    digest: str

    def by_intent(self) -> dict[str, list[str]]:
        """Return the example texts grouped by intent, in :data:`INTENTS` order."""
        grouped: dict[str, list[str]] = {name: [] for name in INTENTS}
        for example in self.examples:
            grouped[example.intent].append(example.text)
        return grouped


def _examples_block(block: Mapping[str, Any], index: int) -> list[str]:
    raw = block.get("examples")
    if not isinstance(raw, str):
        raise NLUDataError(
            f"nlu[{index}] ({block.get('intent')!r}): 'examples' must be a '|' block of '- ' lines"
        )
    texts = []
    for line_no, line in enumerate(raw.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("- "):
            raise NLUDataError(f"nlu[{index}] example line {line_no}: expected '- TEXT', got {stripped!r}")
        text = stripped[2:].strip()
        if text:
            texts.append(text)
    return texts


def _pattern_map(raw: Any, section: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        raise NLUDataError(f"roles.{section} must be a mapping of name -> list of patterns")
    out: dict[str, tuple[str, ...]] = {}
    for name, patterns in raw.items():
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise NLUDataError(f"roles.{section}.{name} must be a list of strings")
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise NLUDataError(
                    f"roles.{section}.{name}: bad regular expression {pattern!r}: {exc}"
                ) from exc
        out[str(name)] = tuple(patterns)
    return out


def _parse_roles(raw: Any) -> RoleLexicon:
    if not isinstance(raw, Mapping):
        raise NLUDataError("missing 'roles' section (seniority, authority, departments)")
    seniority = _pattern_map(raw.get("seniority"), "seniority")
    unknown = sorted(set(seniority) - set(SENIORITIES))
    if unknown:
        raise NLUDataError(f"roles.seniority: unknown levels {unknown}; expected {list(SENIORITIES)}")
    authority_raw = raw.get("authority")
    if not isinstance(authority_raw, Mapping):
        raise NLUDataError("roles.authority must map each seniority level to an authority")
    authority = {str(k): str(v) for k, v in authority_raw.items()}
    missing = sorted(set(seniority) - set(authority))
    if missing:
        raise NLUDataError(f"roles.authority: no authority for {missing}")
    bad = sorted(v for v in authority.values() if v not in AUTHORITIES)
    if bad:
        raise NLUDataError(f"roles.authority: unknown values {bad}; expected {list(AUTHORITIES)}")
    departments = _pattern_map(raw.get("departments"), "departments")
    return RoleLexicon(seniority=seniority, authority=authority, departments=departments)


def parse_nlu_data(text: str, source: str = "<string>") -> NLUData:
    """Parse training-data YAML.

    Args:
        text: the YAML document.
        source: a label for error messages (usually the file name).

    Returns:
        The examples and the role lexicon.

    Raises:
        NLUDataError: on malformed YAML, an unknown or duplicated intent block, an intent of
            :data:`INTENTS` without examples, or a bad ``roles`` section.

    """
    doc = _load_nlu_doc(text, source)
    examples = _examples_from_doc(doc, source)
    seen = {example.intent for example in examples}
    empty = [name for name in INTENTS if name not in seen]
    if empty:
        raise NLUDataError(f"{source}: no examples for intents {empty}")
    return NLUData(
        examples=tuple(examples),
        roles=_parse_roles(doc.get("roles")),
        version=str(doc.get("version", "")),
        digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def load_nlu_data(path: Path | str | None = None) -> NLUData:
    """Load training data from a file, or the data shipped with leadgate when ``path`` is None.

    Args:
        path: a YAML file in the format of :mod:`leadgate.chat.nlu.data`, or None.

    Returns:
        The parsed data.

    Raises:
        NLUDataError: see :func:`parse_nlu_data`.
        OSError: if the file cannot be read.

    """
    if path is None:
        ref = resources.files("leadgate.chat").joinpath(DEFAULT_DATA_RESOURCE)
        return parse_nlu_data(ref.read_text(encoding="utf-8"), source=DEFAULT_DATA_RESOURCE)
    p = Path(path)
    return parse_nlu_data(p.read_text(encoding="utf-8"), source=str(p))


def split_examples(
    examples: Sequence[TrainingExample], test_fraction: float = 0.2, seed: int = 0
) -> tuple[list[TrainingExample], list[TrainingExample]]:
    """Split examples into train and held-out parts, stratified by intent and deterministic.

    Used to tune the classifier on leadgate's own data (never on the shared eval set).

    Args:
        examples: labelled utterances.
        test_fraction: share of each intent's examples that goes to the held-out part, in (0, 1).
        seed: seed of the shuffle.

    Returns:
        ``(train, held_out)``.

    Raises:
        ValueError: if ``test_fraction`` is not in (0, 1).

    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    import random

    rng = random.Random(seed)
    by_intent: dict[str, list[TrainingExample]] = {}
    for example in examples:
        by_intent.setdefault(example.intent, []).append(example)
    train: list[TrainingExample] = []
    held_out: list[TrainingExample] = []
    for intent in sorted(by_intent):
        group = list(by_intent[intent])
        rng.shuffle(group)
        n_test = max(1, round(len(group) * test_fraction))
        held_out.extend(group[:n_test])
        train.extend(group[n_test:])
    return train, held_out


def _load_nlu_doc(text: str, source: str) -> Mapping[str, Any]:
    """The YAML document of an NLU file; a mapping with an ``nlu`` list, else ``NLUDataError``."""
    try:
        doc = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise NLUDataError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, Mapping) or not isinstance(doc.get("nlu"), list):
        raise NLUDataError(f"{source}: expected a mapping with an 'nlu' list")
    return doc


def _examples_from_doc(doc: Mapping[str, Any], source: str) -> list[TrainingExample]:
    """The examples of an NLU document's ``nlu`` blocks: known intents only, each at most once."""
    examples: list[TrainingExample] = []
    seen: set[str] = set()
    for index, block in enumerate(doc["nlu"]):
        if not isinstance(block, Mapping) or "intent" not in block:
            raise NLUDataError(f"{source}: nlu[{index}] must be a mapping with 'intent' and 'examples'")
        intent = str(block["intent"])
        if intent not in INTENTS:
            raise NLUDataError(
                f"{source}: nlu[{index}]: unknown intent {intent!r}; expected one of {INTENTS}"
            )
        if intent in seen:
            raise NLUDataError(f"{source}: nlu[{index}]: intent {intent!r} appears twice")
        seen.add(intent)
        examples.extend(TrainingExample(t, intent) for t in _examples_block(block, index))
    return examples


def parse_example_file(text: str, source: str = "<string>") -> list[TrainingExample]:
    """Parse an extra example file: an ``nlu:`` list of ``intent`` / ``examples`` blocks, nothing else required.

    Unlike :func:`parse_nlu_data`, not every intent needs examples and there is no ``roles`` section;
    the other rules hold (known intents only, each at most once, ``- TEXT`` lines).

    Args:
        text: the YAML document.
        source: a label for error messages.

    Returns:
        The examples in file order.

    Raises:
        NLUDataError: on malformed YAML, an unknown or duplicated intent, or a bad examples block.

    """
    return _examples_from_doc(_load_nlu_doc(text, source), source)


def public_data_files() -> list[str]:
    """Resource names (relative to ``leadgate.chat``) of the shipped public-corpus example files, sorted."""
    folder = resources.files("leadgate.chat").joinpath(PUBLIC_DATA_DIR)
    if not folder.is_dir():
        return []
    return sorted(
        f"{PUBLIC_DATA_DIR}/{entry.name}" for entry in folder.iterdir() if entry.name.endswith(".yml")
    )


def load_training_examples() -> list[TrainingExample]:
    """Every shipped training example: ``nlu.yml``, then each ``nlu_public/*.yml`` file.

    Returns:
        The examples the default intent model is trained on.

    Raises:
        NLUDataError: if a file is malformed.

    """
    root = resources.files("leadgate.chat")
    examples = list(load_nlu_data().examples)
    for name in public_data_files():
        examples.extend(parse_example_file(root.joinpath(name).read_text(encoding="utf-8"), source=name))
    return examples
