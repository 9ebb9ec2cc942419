"""The entity type every extractor returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Entity:
    """One piece of information found in a message.

    Attributes:
        entity: the entity type: ``money``, ``timeline``, ``company_size``, ``role``, ``authority``,
            ``email``, ``phone``, ``person`` or ``company``.
        value: the text as the visitor wrote it (``text[start:end]``).
        start: offset of the first character in the message (Python string index).
        end: offset one past the last character.
        normalized: type-specific normalized fields (see docs/nlu.md); JSON-serializable values only.
        confidence: how sure the extractor is, in (0, 1]: 1.0 for pattern matches validated by a
            library (email, phone) or anchored on explicit cues, lower for heuristics such as a bare
            capitalized name.
        extractor: which extractor produced it.

    """

    entity: str
    value: str
    start: int
    end: int
    normalized: Mapping[str, Any] = field(default_factory=dict)
    confidence: float = 1.0
    extractor: str = ""

    def overlaps(self, other: Entity) -> bool:
        """Whether the two spans share at least one character."""
        return self.start < other.end and other.start < self.end

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict: ``entity``, ``value``, ``start``, ``end``, ``normalized``, ``confidence``, ``extractor``."""
        return {
            "entity": self.entity,
            "value": self.value,
            "start": self.start,
            "end": self.end,
            "normalized": dict(self.normalized),
            "confidence": self.confidence,
            "extractor": self.extractor,
        }
