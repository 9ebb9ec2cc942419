"""The one shared vocabulary of lead facts: seniority, authority, departments, free-mail domains, budget periods.

Every place that reads or writes these facts imports them from here: the chat NLU
(``chat.nlu.role``, ``chat.nlu.contact``, ``chat.nlu.money``), the chat validators
(``chat.flows.validators``) and the chat lead builder (``ingest.chat``). This module imports nothing from
leadgate, so the data contracts, the ingest channels and the chat package can all depend on it without
cycles.

Sources:

- Seniority levels follow LinkedIn's seniority facet (Owner/CXO/VP/Director/Manager/Senior/Entry/
  Training/Unpaid), folded into seven levels: ``c_level`` (owner, partner, CXO), ``vp``, ``director``
  (incl. "Head of"), ``manager``, ``individual_contributor`` (senior + entry), ``intern`` (training) and
  ``student`` (unpaid).
- Authority levels are the "A" of BANT (IBM's Budget, Authority, Need, Timeline) as the buying-committee
  roles commonly used in B2B sales: ``decision_maker`` (signs), ``influencer`` (recommends), ``user``
  (uses the product), ``none``.
- Free-mail domains: the large consumer mailbox providers (Google, Microsoft, Yahoo, Apple, AOL, Proton,
  GMX/web.de, Yandex/Mail.ru, Zoho, Tutanota, Fastmail, the big Chinese, Korean, French, Italian, Polish,
  Czech, UK, US and Canadian ISP mailboxes).
"""

from __future__ import annotations

SENIORITIES: tuple[str, ...] = (
    "c_level",
    "vp",
    "director",
    "manager",
    "individual_contributor",
    "intern",
    "student",
)
"""Seniority levels, most senior first (see the module docstring for the source)."""

AUTHORITIES: tuple[str, ...] = ("decision_maker", "influencer", "user", "none")
"""Buying-committee roles (BANT's authority), most authority first."""

DEPARTMENTS: tuple[str, ...] = (
    "executive",
    "engineering",
    "it",
    "security",
    "data",
    "product",
    "design",
    "marketing",
    "sales",
    "revenue_operations",
    "customer_success",
    "finance",
    "procurement",
    "operations",
    "hr",
    "legal",
    "education",
)
"""Departments a role is filed under (the role lexicon's ``departments`` keys come from this list)."""

FREE_EMAIL_DOMAINS: frozenset[str] = frozenset(
    str.split(
        "gmail.com googlemail.com yahoo.com ymail.com rocketmail.com outlook.com hotmail.com live.com msn.com "
        "icloud.com me.com mac.com aol.com proton.me protonmail.com protonmail.ch pm.me gmx.com gmx.net gmx.de "
        "gmx.at gmx.ch web.de mail.com email.com yandex.com yandex.ru mail.ru inbox.ru list.ru bk.ru "
        "zoho.com zohomail.com tutanota.com tutanota.de tuta.io tuta.com fastmail.com fastmail.fm hey.com "
        "qq.com 163.com 126.com sina.com naver.com daum.net hanmail.net t-online.de freenet.de orange.fr "
        "wanadoo.fr free.fr laposte.net sfr.fr libero.it virgilio.it tiscali.it wp.pl o2.pl interia.pl onet.pl "
        "seznam.cz rediffmail.com btinternet.com sky.com virginmedia.com comcast.net verizon.net att.net "
        "sbcglobal.net bellsouth.net cox.net shaw.ca rogers.com sympatico.ca bigpond.com optusnet.com.au "
        "hushmail.com mailfence.com posteo.de posteo.net disroot.org riseup.net"
    )
)
"""Consumer e-mail domains: an address there says nothing about the visitor's company."""

FREE_EMAIL_PREFIXES: tuple[str, ...] = ("yahoo.", "hotmail.", "outlook.", "live.", "gmx.", "yandex.", "aol.")
"""Providers with many country domains (yahoo.co.uk, hotmail.fr...)."""


def is_free_provider(domain: str) -> bool:
    """Whether ``domain`` (any case) is a consumer mailbox provider (:data:`FREE_EMAIL_DOMAINS`)."""
    d = domain.strip().lower()
    return d in FREE_EMAIL_DOMAINS or d.startswith(FREE_EMAIL_PREFIXES)


BUDGET_PERIODS: dict[str, int] = {"day": 365, "week": 52, "month": 12, "quarter": 4, "year": 1}
"""Budget periods -> periods per year (to annualize a budget). A budget stated without a period is read
as a yearly (or one-off) amount, which is how B2B buyers state budgets."""

BUDGET_PERIOD_ALIASES: dict[str, str] = {
    "daily": "day",
    "weekly": "week",
    "monthly": "month",
    "mo": "month",
    "quarterly": "quarter",
    "annual": "year",
    "annually": "year",
    "yearly": "year",
    "yr": "year",
}
"""Other spellings of :data:`BUDGET_PERIODS` keys."""


def budget_period(word: str | None) -> str | None:
    """Normalize a budget period (``"monthly"`` -> ``"month"``); None stays None.

    Raises:
        ValueError: if the word is not a known period.
    """
    if word is None:
        return None
    key = word.strip().lower()
    key = BUDGET_PERIOD_ALIASES.get(key, key)
    if key not in BUDGET_PERIODS:
        raise ValueError(f"budget period must be one of {list(BUDGET_PERIODS)}, got {word!r}")
    return key


NAME_PARTICLES: frozenset[str] = frozenset(
    str.split("al bin da de del della den der di dos du el la le ten ter van von")
)
"""Lowercase words inside a name that stay lowercase (``Lars van der Berg``, ``Ana de la Cruz``, ``bin``)."""
