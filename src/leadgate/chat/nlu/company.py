"""A company name proposed from a work e-mail address (``dana@corvexlogistics.com`` -> ``Corvex Logistics``).

The engine offers the proposal to the visitor to confirm ("Are you with Corvex Logistics?"); it is never stored
as the company without that confirmation, because a domain is not a name (``paylane.com`` may be "PayLane").

How the name is made from the domain:

1. Free-mail domains (the shared vocabulary, ``contracts.vocabulary.FREE_EMAIL_DOMAINS``) give no proposal.
2. The registrable label is taken: the label before the public suffix (``corvexlogistics`` in
   ``mail.corvexlogistics.com``; ``northwind-traders`` in ``northwind-traders.co.uk``; two-level country
   suffixes in :data:`SECOND_LEVEL_SUFFIXES`).
3. Hyphens and dots split words (``sakura-robotics`` -> ``Sakura Robotics``).
4. Inside a word, one word of :data:`COMPANY_WORDS` (the category words brand names end with: ``logistics``,
   ``labs``, ``health``, ``analytics``...; the longest that fits) is split off the end, and a domain prefix in
   :data:`DOMAIN_PREFIXES` (``get``, ``try``, ``use``...) off the start, as long as at least
   :data:`MIN_CORE` letters remain (``corvexlogistics`` -> ``corvex`` + ``logistics``; ``getstackyard`` ->
   ``stackyard``). The remaining core is kept whole: brand names fuse words on purpose (``Northwind``,
   ``Crestview``, ``Tidewater``), and splitting a core with a general word list would break them
   (``North Wind``). For the same reason only one category word is split off, and words that brands often
   fuse (:data:`FUSED_WORDS`: ``water``, ``power``, ``bank``, ``co``...) are never split off
   (``brightwaterfoods`` -> ``Brightwater Foods``, ``tidewater`` -> ``Tidewater``).
5. Each word is capitalized (``AI``, ``HQ``, ``IT``, ``IO`` in upper case).

The word list is leadgate's own (written for this module and used by the name extractor too); a general
segmentation library (``wordsegment``, Apache-2.0, Norvig's unigram counts) was not used: it splits brand
cores that should stay whole.
"""

from __future__ import annotations

from leadgate.contracts.vocabulary import is_free_provider

COMPANY_WORDS: frozenset[str] = frozenset(
    str.split(
        "industries labs lab technologies technology tech systems solutions software group holdings partners "
        "consulting digital media health healthcare capital ventures analytics networks ai studio studios agency "
        "bank insurance logistics foods food motors energy pharma games robotics security cloud data telecom bio "
        "therapeutics medical hospitality retail brands works enterprises international global services "
        "dynamics innovations interactive apps platforms finance financial payments pay academy university "
        "institute college school clinic hospital foundation associates collective company co corp inc "
        "freight traders trading logistik transport shipping supply manufacturing engineering construction "
        "properties realty homes legal law advisors advisory marketing creative design commerce markets "
        "hq labs mobility automation instruments materials chemicals solar power water farms"
    )
)
"""Category words company names end with (lowercase); the name extractor reads them as company words too."""

FUSED_WORDS: frozenset[str] = frozenset(
    str.split(
        "bank pay co corp inc works hq solar power water farms cloud design food lab tech data it ai apps brands "
        "homes law school bio"
    )
)
"""Company words that brand names often fuse into one word (``Tidewater``, ``Citibank``, ``Costco``): never split
off a domain label."""

_SPLIT_WORDS = sorted(COMPANY_WORDS - FUSED_WORDS, key=len, reverse=True)

DOMAIN_PREFIXES: tuple[str, ...] = ("get", "try", "use", "join", "meet")
"""Prefixes companies add to a domain when the plain name was taken (``getcorvex.com``)."""

SECOND_LEVEL_SUFFIXES: frozenset[str] = frozenset(
    str.split(
        "co.uk org.uk ac.uk gov.uk ltd.uk plc.uk com.au net.au org.au co.nz co.jp co.kr co.in co.za "
        "com.br com.mx com.ar com.sg com.hk com.tr com.cn com.tw co.il com.my co.id com.ph"
    )
)
"""Public suffixes of two labels (the registrable label is the one before them)."""

MIN_CORE = 3
"""Fewest letters left of a word after category words and prefixes are split off."""

_UPPER = frozenset({"ai", "hq", "it", "io"})


def _registrable_label(domain: str) -> str | None:
    labels = [x for x in domain.lower().strip(".").split(".") if x]
    if len(labels) < 2:
        return None
    if len(labels) >= 3 and ".".join(labels[-2:]) in SECOND_LEVEL_SUFFIXES:
        return labels[-3]
    return labels[-2]


def _split_word(word: str) -> list[str]:
    for prefix in DOMAIN_PREFIXES:
        rest = word[len(prefix) :]
        if word.startswith(prefix) and len(rest) >= MIN_CORE + 1 and rest not in COMPANY_WORDS:
            word = word[len(prefix) :]
            break
    for cw in _SPLIT_WORDS:
        if word.endswith(cw) and len(word) - len(cw) >= MIN_CORE:
            return [word[: -len(cw)], cw]
    return [word]


def company_from_email(address: str) -> str | None:
    """Propose a company name from an e-mail address's domain, for the visitor to confirm.

    Args:
        address: an e-mail address (``dana@corvexlogistics.com``) or a bare domain.

    Returns:
        The proposed name (``"Corvex Logistics"``), or None for a free-mail domain, a domain without a
        registrable label, or a label without letters.

    Examples:
        >>> company_from_email("dana@corvexlogistics.com")
        'Corvex Logistics'
        >>> company_from_email("j.smith@northwind-traders.co.uk")
        'Northwind Traders'
        >>> company_from_email("jen@gmail.com") is None
        True

    """
    domain = address.rpartition("@")[2].strip().lower()
    if not domain or is_free_provider(domain):
        return None
    label = _registrable_label(domain)
    if label is None or not any(c.isalpha() for c in label):
        return None
    words = [w for part in label.replace("_", "-").split("-") if part for w in _split_word(part)]
    return " ".join(w.upper() if w in _UPPER else w[:1].upper() + w[1:] for w in words if w)
