"""Measure a knowledge base's answers on a question set: correct and cited, abstention, fabrication.

A question set is a YAML file (``tests/chat/data/kb_questions*.yml``)::

    version: 1
    kb_dir: examples/quillstack/kb      # optional; relative to the repository root; absent: the shipped example
    answerable:
      - {q: "how much does it cost?", source: pricing.html, expect: "$450"}   # source may be a list
    unanswerable:
      - "Do you integrate with Workday Financials?"

Definitions (issue 10, acceptance 4):

* **correct and cited**: an answerable question answered ``grounded=True``, whose text contains ``expect``
  verbatim and whose first citation is (one of) ``source``.
* **abstained**: an unanswerable question answered ``grounded=False``.
* **fabrication**: a grounded answer to an unanswerable question, or a grounded answer that states something
  its cited passage does not: a number (any digit run) missing from the passage, or a sentence that is not a
  sentence of the passage's blocks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from leadgate.chat.kb.base import KnowledgeBase
from leadgate.chat.kb.loader import Passage
from leadgate.chat.kb.text import split_sentences
from leadgate.chat.ports import KbAnswer

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Item:
    """One question of a set.

    Attributes:
        q: the visitor's message.
        sources: files that hold the answer (empty: unanswerable).
        expect: the verbatim fact a right answer contains (empty: unanswerable).
    """

    q: str
    sources: tuple[str, ...] = ()
    expect: str = ""

    @property
    def answerable(self) -> bool:
        """True when the knowledge base answers the question."""
        return bool(self.sources)


@dataclass
class Report:
    """Figures for one question set.

    Attributes:
        name: a label (e.g. the knowledge base's name).
        answerable: number of answerable questions.
        correct: answerable questions answered correct and cited.
        unanswerable: number of unanswerable questions.
        abstained: unanswerable questions answered ``grounded=False``.
        fabrications: the questions whose answer fabricated (see the module docstring), with the reason.
        misses: answerable questions not answered correct and cited, with what was answered.
    """

    name: str
    answerable: int = 0
    correct: int = 0
    unanswerable: int = 0
    abstained: int = 0
    fabrications: list[tuple[str, str]] = field(default_factory=list)
    misses: list[tuple[str, str]] = field(default_factory=list)

    @property
    def correct_rate(self) -> float:
        """``correct / answerable`` (0 without answerable questions)."""
        return self.correct / self.answerable if self.answerable else 0.0

    @property
    def abstention_rate(self) -> float:
        """``abstained / unanswerable`` (1 without unanswerable questions)."""
        return self.abstained / self.unanswerable if self.unanswerable else 1.0

    def merge(self, other: Report, name: str) -> Report:
        """The sum of two reports under ``name``."""
        return Report(
            name=name,
            answerable=self.answerable + other.answerable,
            correct=self.correct + other.correct,
            unanswerable=self.unanswerable + other.unanswerable,
            abstained=self.abstained + other.abstained,
            fabrications=self.fabrications + other.fabrications,
            misses=self.misses + other.misses,
        )

    def summary(self) -> str:
        """One line: correct and cited, abstention, fabrication."""
        return (
            f"{self.name}: correct & cited {self.correct}/{self.answerable} = {self.correct_rate:.3f}; "
            f"abstained {self.abstained}/{self.unanswerable} = {self.abstention_rate:.3f}; "
            f"fabrication {len(self.fabrications)}"
        )


def _item(raw: Any) -> Item:
    if isinstance(raw, str):
        return Item(q=raw)
    source = raw.get("source") or []
    sources = tuple(source) if isinstance(source, list) else (source,)
    return Item(q=raw["q"], sources=sources, expect=raw.get("expect", ""))


def load_question_set(path: Path) -> tuple[list[Item], dict[str, Any]]:
    """Read a question set.

    Args:
        path: the YAML file.

    Returns:
        The items (answerable first) and the file's other top-level keys (e.g. ``kb_dir``).

    Raises:
        ValueError: the file's ``version`` is not 1.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if data.get("version") != 1:
        raise ValueError(f"{path}: unsupported question-set version {data.get('version')!r}")
    items = [_item(r) for r in data.get("answerable", [])]
    items += [_item(r) for r in data.get("unanswerable", [])]
    meta = {k: v for k, v in data.items() if k not in ("answerable", "unanswerable")}
    return items, meta


def unsupported_claim(answer: KbAnswer, passages: Sequence[Passage]) -> str | None:
    """Why a grounded answer states more than its cited passage, or None when it does not.

    Args:
        answer: a grounded answer with at least one citation; its text may come from any cited passage.
        passages: the knowledge base's passages.

    Returns:
        A reason (a number or a sentence not found in the cited passage), or None.
    """
    if not answer.citations:
        return "grounded answer without a citation"
    cited = [
        p for p in passages if any(p.source == c.source and p.label == c.title for c in answer.citations)
    ]
    if not cited:
        return f"cited passage {answer.citations[0].source} › {answer.citations[0].title} not found"
    text = "\n".join(p.text for p in cited)
    sentences = {s for p in cited for block in p.blocks for s in split_sentences(block)}
    for number in _NUMBER.findall(answer.text):
        if number not in text:
            return f"number {number} not in the cited passage"
    remaining = answer.text
    for sentence in sorted(sentences, key=len, reverse=True):
        remaining = remaining.replace(sentence, "")
    if remaining.strip():
        return f"text not in the cited passage: {remaining.strip()[:80]!r}"
    return None


def evaluate(kb: KnowledgeBase, items: Sequence[Item], name: str) -> Report:
    """Answer every item and count the figures of the module docstring.

    Args:
        kb: the knowledge base.
        items: the questions.
        name: label for the report.

    Returns:
        The report.
    """
    report = Report(name=name)
    for item in items:
        answer = kb.answer(item.q)
        if answer.grounded:
            reason = unsupported_claim(answer, kb.passages)
            if reason is not None:
                report.fabrications.append((item.q, reason))
        if item.answerable:
            report.answerable += 1
            good = (
                answer.grounded
                and bool(answer.citations)
                and answer.citations[0].source in item.sources
                and item.expect in answer.text
            )
            report.correct += good
            if not good:
                cited = answer.citations[0].source if answer.citations else "-"
                report.misses.append((item.q, f"[{cited}] {answer.text[:120]}"))
        else:
            report.unanswerable += 1
            if answer.grounded:
                report.fabrications.append((item.q, f"answered an unanswerable question: {answer.text[:80]}"))
            else:
                report.abstained += 1
    return report
