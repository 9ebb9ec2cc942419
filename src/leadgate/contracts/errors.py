"""Errors raised when input breaks a contract: each names the field path and the reason."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from leadgate.errors import LeadgateError

_SCALAR_UNION_TAGS = frozenset({"bool", "int", "float", "str", "constrained-str", "constrained-int", "none"})
_SCALAR_REASON = "must be a string of at most 10000 characters, a finite number, a boolean or null"


@dataclass(frozen=True)
class FieldError:
    """One broken rule: ``path`` is dotted (``attributes.TotalVisits``), ``reason`` is plain words."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class ContractError(LeadgateError, ValueError):
    """Input does not satisfy a contract.

    Attributes:
        errors: one ``FieldError`` per broken rule, in the order pydantic reported them.
    """

    def __init__(self, contract: str, errors: list[FieldError]):
        self.contract = contract
        self.errors = errors
        super().__init__(f"invalid {contract}: " + "; ".join(str(e) for e in errors))

    @classmethod
    def from_validation_error(cls, contract: str, exc: ValidationError) -> ContractError:
        """Turn a pydantic ``ValidationError`` into field paths and reasons."""
        errors: list[FieldError] = []
        seen_union_paths: set[str] = set()
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            if loc and loc[-1] in _SCALAR_UNION_TAGS:
                # One error per scalar-union member is noise: report the path once, in words.
                path = ".".join(loc[:-1])
                if path not in seen_union_paths:
                    seen_union_paths.add(path)
                    errors.append(FieldError(path, _SCALAR_REASON))
                continue
            errors.append(FieldError(".".join(loc) or "<root>", err["msg"]))
        return cls(contract, errors)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form: ``{"contract": str, "errors": [{"path": str, "reason": str}]}``."""
        return {
            "contract": self.contract,
            "errors": [{"path": e.path, "reason": e.reason} for e in self.errors],
        }
