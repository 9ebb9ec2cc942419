"""Validators of who the visitor is: name, work e-mail, company and role (see ``chat.flows.validators``)."""

from __future__ import annotations

from typing import Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, Field

from leadgate.chat.flows.verdicts import (
    _LETTER,
    _MODEL,
    _NAME_WORD,
    ValidationContext,
    Verdict,
    _refuse,
)
from leadgate.contracts.vocabulary import AUTHORITIES, NAME_PARTICLES, SENIORITIES, is_free_provider


class PersonNameValidator(BaseModel):
    """A person's name: 1 to ``max_words`` words made of letters (hyphens, apostrophes and dots inside).

    Accepts an NLU ``person`` value (``{"full", "first", "last"}``) or a string.
    """

    model_config = _MODEL
    type: Literal["person_name"] = "person_name"
    max_words: int = Field(default=4, ge=1, le=10)
    max_chars: int = Field(default=80, ge=2, le=200)

    def check(self, value: Any, ctx: ValidationContext) -> Verdict:
        """Validate a name; see the class docstring. Never raises."""
        full = value.get("full") if isinstance(value, dict) else value
        if not isinstance(full, str) or not full.strip():
            return _refuse("I need a name made of letters")
        words = full.split()
        if len(full) > self.max_chars or len(words) > self.max_words:
            return _refuse(f"a name has at most {self.max_words} words")
        if not all(_NAME_WORD.match(w) for w in words):
            return _refuse("a name is made of letters only")
        words = [
            w if (i > 0 and w in NAME_PARTICLES) or not w.islower() else w[:1].upper() + w[1:]
            for i, w in enumerate(words)
        ]
        return Verdict(
            ok=True,
            value={"full": " ".join(words), "first": words[0], "last": words[-1] if len(words) > 1 else None},
        )

    def describe(self, value: Any) -> str:
        """Return the name as shown to the visitor."""
        return str(value["full"]) if isinstance(value, dict) else str(value)


class WorkEmailValidator(BaseModel):
    """A work e-mail address, checked by email-validator (syntax only, no DNS lookup).

    ``free_mail`` decides what happens to an address at a free provider (``chat.nlu.contact``'s list):
    ``ask_once`` refuses it once (``Verdict.hold``) and accepts the next free address with the flag
    ``free_mail``; ``accept`` takes it at once with the flag; ``reject`` always refuses it.
    Accepts an NLU ``email`` value or a string.
    """

    model_config = _MODEL
    type: Literal["work_email"] = "work_email"
    free_mail: Literal["ask_once", "accept", "reject"] = "ask_once"

    def check(self, value: Any, ctx: ValidationContext) -> Verdict:
        """Validate an address; see the class docstring. Never raises."""
        if isinstance(value, dict):
            if value.get("valid") is False:
                return _refuse(f"that e-mail address is not valid ({value.get('error') or 'syntax'})")
            value = value.get("email")
        if not isinstance(value, str) or "@" not in value:
            return _refuse("that is not an e-mail address")
        try:
            checked = validate_email(value.strip(), check_deliverability=False)
        except EmailNotValidError as exc:
            return _refuse(f"that e-mail address is not valid ({exc})")
        address = checked.normalized
        if not is_free_provider(checked.domain):
            return Verdict(ok=True, value=address)
        if self.free_mail == "reject":
            return _refuse(f"{checked.domain} is a personal mailbox; I need your work address")
        if self.free_mail == "ask_once" and not ctx.free_mail_asked:
            return Verdict(ok=False, value=address, hold=True, reason="free_mail")
        return Verdict(ok=True, value=address, flags=("free_mail",))

    def describe(self, value: Any) -> str:
        """Return the address."""
        return str(value)


class CompanyNameValidator(BaseModel):
    """A company name: 1 to ``max_chars`` characters with at least one letter.

    Accepts an NLU ``company`` value (``{"name", "legal_suffix"}``) or a string.
    """

    model_config = _MODEL
    type: Literal["company_name"] = "company_name"
    max_chars: int = Field(default=100, ge=2, le=300)
    max_words: int = Field(default=8, ge=1, le=20)

    def check(self, value: Any, ctx: ValidationContext) -> Verdict:
        """Validate a company name; see the class docstring. Never raises."""
        name = value.get("name") if isinstance(value, dict) else value
        if not isinstance(name, str) or not _LETTER.search(name):
            return _refuse("a company name has at least one letter")
        name = " ".join(name.split())
        if len(name) > self.max_chars or len(name.split()) > self.max_words:
            return _refuse(f"a company name is at most {self.max_words} words")
        return Verdict(ok=True, value=name)

    def describe(self, value: Any) -> str:
        """Return the name."""
        return str(value)


_ROLE_KEYS = ("title", "seniority", "department", "authority")


class RoleValidator(BaseModel):
    """A job role: the NLU's ``role`` value or ``authority`` statement, or an unrecognized title.

    Seniority and authority must be values of the shared vocabulary (``contracts.vocabulary``); other
    values are dropped. When ``accept_unrecognized``, a short title the role lexicon does not know (a string) is stored as the
    title with the flag ``unrecognized_title``.
    """

    model_config = _MODEL
    type: Literal["role"] = "role"
    accept_unrecognized: bool = True
    max_words: int = Field(default=6, ge=1, le=12)

    def check(self, value: Any, ctx: ValidationContext) -> Verdict:
        """Validate a role; see the class docstring. Never raises."""
        if isinstance(value, dict):
            role = {k: value.get(k) if isinstance(value.get(k), str) else None for k in _ROLE_KEYS}
            if role["seniority"] not in (None, *SENIORITIES):
                role["seniority"] = None  # outside the shared vocabulary (a language model's guess)
            if role["authority"] not in (None, *AUTHORITIES):
                role["authority"] = None
            if not any(role.values()):
                return _refuse("I couldn't tell your role from that")
            return Verdict(ok=True, value=role)
        if isinstance(value, str) and self.accept_unrecognized and _LETTER.search(value):
            title = " ".join(value.split())
            if len(title.split()) > self.max_words:
                return _refuse(f"a job title is at most {self.max_words} words")
            return Verdict(
                ok=True,
                value={"title": title, "seniority": None, "department": None, "authority": None},
                flags=("unrecognized_title",),
            )
        return _refuse("I couldn't tell your role from that")

    def describe(self, value: Any) -> str:
        """Return the title, else the seniority and department."""
        if not isinstance(value, dict):
            return str(value)
        if value.get("title"):
            return str(value["title"])
        parts = [str(value[k]).replace("_", " ") for k in ("seniority", "department") if value.get(k)]
        if parts:
            return " ".join(parts)
        return str(value.get("authority", "")).replace("_", " ")
