"""Synonyms and abbreviations of B2B SaaS vocabulary, folded to one token before the tokenizer (issue 10).

Visitors and documents name the same thing differently: "yearly" / "annually", "SSO" / "single sign-on" /
"SAML", "breach" / "security incident", "rate limit" / "600 requests per minute", "cancel" / "termination",
"money back" / "refund". BM25 and the coverage measure only see shared tokens, so the answerer said "I don't
know" to such paraphrases (docs/kb.md, held-out set). :func:`fold` rewrites every phrase of :data:`SYNONYMS`
to its group's *concept token*, in documents and questions alike (it runs inside
:func:`leadgate.chat.kb.text.tokenize`), so both sides meet on one token. Quoted sentences are never changed:
only the tokens used for ranking and coverage are.

The table is deliberately small and general: each group is a set of words a B2B software vendor's pages and
its visitors use for one concept, written from common SaaS pricing, security and contract vocabulary, not
from the questions of any test set. A group joins words only when any of them answers a question asked with
another; words that are merely related stay apart ("user" is not "seat": "the users you invite" is no
licence count; "cost" is not folded into "price": price questions are read by
:func:`leadgate.chat.kb.query.question_type`). Folding never adds knowledge: a question about something the
documents do not name ("SSO with OneLogin", "a data center in Australia") keeps its unknown word, which keeps
the largest idf and makes the answerer abstain.
"""

from __future__ import annotations

import re

SYNONYMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # billing period
    ("annual", ("yearly", "annually", "annual", "per year", "per annum")),
    # ending a subscription
    (
        "cancel",
        (
            "cancel",
            "cancels",
            "cancelled",
            "canceled",
            "cancelling",
            "canceling",
            "cancellation",
            "cancellations",
            "terminate",
            "terminates",
            "terminated",
            "terminating",
            "termination",
            "unsubscribe",
            "end my subscription",
            "end our subscription",
            "end the subscription",
            "end a subscription",
        ),
    ),
    # identity
    (
        "sso",
        ("sso", "single sign-on", "single sign on", "single-sign-on", "singlesignon", "saml", "saml2"),
    ),
    # security incidents
    (
        "breach",
        (
            "data breach",
            "data breaches",
            "security breach",
            "security breaches",
            "security incident",
            "security incidents",
            "breach",
            "breaches",
            "breached",
        ),
    ),
    # licences
    ("seat", ("seat", "seats", "licence", "licences", "license", "licenses", "licensed users")),
    # refunds
    (
        "refund",
        (
            "refund",
            "refunds",
            "refunded",
            "refundable",
            "money back",
            "money-back",
            "reimburse",
            "reimbursed",
        ),
    ),
    # getting started
    (
        "onboard",
        (
            "onboarding",
            "onboard",
            "implementation",
            "implementations",
            "implementing",
            "set up",
            "set-up",
            "setup",
        ),
    ),
    # availability
    (
        "uptime",
        (
            "uptime",
            "availability",
            "sla",
            "slas",
            "service level agreement",
            "service level agreements",
            "service levels",
            "service level",
        ),
    ),
    # integrations
    (
        "integr",
        (
            "integrate",
            "integrates",
            "integrated",
            "integrating",
            "integration",
            "integrations",
            "connect",
            "connects",
            "connected",
            "connector",
            "connectors",
            "sync",
            "syncs",
            "synced",
            "syncing",
            "synchronise",
            "synchronize",
            "synchronizes",
            "synchronization",
            "plug in",
            "plugs into",
        ),
    ),
    # where data lives
    (
        "host",
        (
            "data residency",
            "residency",
            "hosted",
            "hosting",
            "host",
            "hosts",
            "data center",
            "data centers",
            "data centre",
            "data centres",
            "datacenter",
            "datacenters",
            "stored",
        ),
    ),
    # API limits
    (
        "ratelimit",
        (
            "rate limit",
            "rate limits",
            "rate-limit",
            "rate-limits",
            "rate limited",
            "rate limiting",
            "throttle",
            "throttled",
            "throttling",
            "requests per second",
            "requests per minute",
            "requests per hour",
            "requests per day",
            "calls per second",
            "calls per minute",
            "calls per hour",
            "calls per day",
        ),
    ),
    ("quota", ("quota", "quotas", "limit", "limits", "cap", "caps", "maximum")),
    # discounts
    ("discount", ("discount", "discounts", "discounted", "% off", "promo", "promotion", "coupon", "rebate")),
    # commitment
    (
        "contract",
        (
            "contract",
            "contracts",
            "commitment",
            "commitments",
            "lock-in",
            "lock in",
            "locked in",
        ),
    ),
    # trying before buying
    ("trial", ("free trial", "trial", "trials", "try", "tries", "trying", "test drive")),
    # compliance claims
    (
        "compliant",
        (
            "compliant",
            "compliance",
            "certified",
            "certification",
            "certifications",
            "certificate",
            "accredited",
            "attestation",
        ),
    ),
    # working without a connection (mobile apps)
    (
        "offline",
        (
            "offline",
            "off-line",
            "without internet",
            "without signal",
            "without a signal",
            "without connection",
            "without a connection",
            "without connectivity",
            "without reception",
            "no internet",
            "no signal",
            "no connection",
            "no connectivity",
            "no reception",
            "no coverage",
        ),
    ),
)
"""Concept token and the phrases folded to it (lower case; matched as whole words, case-insensitively).

Longer phrases are matched first ("security incident" before "breach"; "rate limit" before "limit")."""

SPELLINGS: tuple[tuple[re.Pattern[str], str], ...] = (
    # British and American spellings meet on the American one ("optimisation" / "optimization")
    (re.compile(r"\b(\w{3,}?)is(ation|ations|e|es|ed|ing)\b", re.IGNORECASE), r"\1iz\2"),
    (re.compile(r"\b(cent|met|lit)re(s?)\b", re.IGNORECASE), r"\1er\2"),
    # a standard's name glued to its number ("soc2", "iso27001", "soc-2") is written apart
    (re.compile(r"\b(soc|iso|pci|hipaa)-?(\d)", re.IGNORECASE), r"\1 \2"),
)
"""Spelling variants written one way before the synonyms are matched. Both documents and questions are
rewritten, so a word the "-ise" rule catches wrongly ("advertise" -> "advertize") still meets itself."""

_ALL = sorted(
    ((phrase, concept) for concept, phrases in SYNONYMS for phrase in phrases),
    key=lambda item: -len(item[0]),
)
_CONCEPT = {phrase: concept for phrase, concept in _ALL}
_SPACES = re.compile(r"\s+")
_PATTERN = re.compile(
    r"(?<![\w-])(?:"
    + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p, _ in _ALL if not p.startswith("%"))
    + r")(?![\w-])"
    r"|%\s*off\b",
    re.IGNORECASE,
)


def fold(text: str) -> str:
    """``text`` with every phrase of :data:`SYNONYMS` replaced by its concept token (for tokenizing only).

    Spelling variants (:data:`SPELLINGS`) are written one way first. "% off" keeps its number: "25% off"
    becomes "25 discount".

    Args:
        text: a document's text or a visitor's question.

    Returns:
        The text to tokenize; never shown to anyone.
    """
    for pattern, repl in SPELLINGS:
        text = pattern.sub(repl, text)

    def concept(match: re.Match[str]) -> str:
        phrase = match.group(0).lower()
        if phrase.startswith("%"):
            return " discount"
        return f" {_CONCEPT[_SPACES.sub(' ', phrase)]} "

    return _PATTERN.sub(concept, text)
