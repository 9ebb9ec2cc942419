"""Screen a visitor's message for prompt injection and data exfiltration before anything answers it.

``screen(text)`` flags messages that try to

* override the assistant's instructions ("ignore all previous instructions", "from now on you are ..."),
* impersonate a system or developer role (``system:``, ``<|im_start|>system``, "you are now in developer mode"),
* obtain the system prompt, the configuration or secrets (API keys, tokens, passwords, the database URL,
  environment variables, ``LEADGATE_*`` settings),
* obtain other visitors' or customers' conversations or contact data,

in English, German, French and Spanish, also when the words are disguised: Unicode look-alikes and
full-width letters (NFKC), accents, zero-width characters, HTML entities and tags, Markdown, URL escapes,
leetspeak digits, letters spaced or dotted apart, and Base64 or hexadecimal encodings of such text.

The checks are regular expressions over normalised variants of the text (no model, no network), so a
verdict is deterministic and explains itself. They are tested against ``tests/chat/data/injection.yml``:
attack texts that must be flagged and benign look-alikes ("can I ignore the onboarding call?") that must
not be. The guard is one layer: the knowledge-base answerer is extractive and never holds configuration,
so even a message the guard misses cannot make it reveal any.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

Category = Literal["instruction_override", "role_impersonation", "secret_request", "other_visitors_data"]


@dataclass(frozen=True)
class GuardVerdict:
    """The guard's verdict on one message.

    Attributes:
        flagged: True when the message is an injection or exfiltration attempt.
        category: what kind of attempt, when flagged.
        reason: a short explanation in plain words, when flagged (safe to log; it quotes no secret).
        variant: which normalisation of the text matched (``plain``, ``leet``, ``joined``, ``base64``,
            ``hex``), when flagged.
    """

    flagged: bool
    category: Category | None = None
    reason: str | None = None
    variant: str | None = None


_PASS = GuardVerdict(flagged=False)

# --- the patterns ------------------------------------------------------------------------------------------
# Every pattern runs on lower-cased, accent-free text with single spaces; ``_W`` allows a few filler words.

_W = r"(?:\s+\S+){0,3}?"
_OVERRIDE_VERB = (
    r"(?:ignore|ignoring|disregard|forget|override|overwrite|bypass|drop|abandon|discard|set aside|"
    r"stop following|do not follow|don'?t follow|no longer follow|break|circumvent|skip)"
)
_INSTRUCTIONS = (
    r"(?:instructions?|rules?|prompts?|guidelines?|directives?|programming|guardrails?|restrictions?|"
    r"constraints?|policies|policy|system message|safety|filters?|orders|commands|training)"
)
_PRIOR = (
    r"(?:previous|prior|preceding|above|earlier|former|initial|original|existing|current|given|all|any|"
    r"your|the system'?s?|system|developer'?s?|hidden|these|those|every)"
)

_SECRET = (
    r"(?:api[\s_-]?keys?|secret[\s_-]?keys?|secrets|access[\s_-]?tokens?|auth(?:entication)?[\s_-]?tokens?|"
    r"bearer[\s_-]?tokens?|staff[\s_-]?tokens?|session[\s_-]?tokens?|private[\s_-]?keys?|passwords?|passwd|"
    r"credentials?|database[\s_-]?(?:url|uri|password|connection|credentials|dsn|host)|"
    r"db[\s_-]?(?:url|uri|password|dsn)|config(?:uration)?(?:\s+file)?|settings file)\b"
)

_RULES: list[tuple[Category, str, re.Pattern[str]]] = [
    # --- instruction override ---
    (
        "instruction_override",
        "asks the assistant to ignore its instructions",
        re.compile(rf"\b{_OVERRIDE_VERB}\b(?:\s+\S+){{0,2}}?\s+{_PRIOR}\b{_W}\s+{_INSTRUCTIONS}\b"),
    ),
    (
        "instruction_override",
        "asks the assistant to ignore the instructions it was given",
        re.compile(
            rf"\b{_OVERRIDE_VERB}\b\s+(?:the\s+|your\s+|all\s+|any\s+)?{_INSTRUCTIONS}\s+"
            r"(?:you (?:were|have been|got) given|you received|you got|given to you|above|before this|so far|"
            r"you (?:were|are) (?:told|programmed|trained))"
        ),
    ),
    (
        "instruction_override",
        "asks the assistant to ignore what it was told",
        re.compile(
            rf"\b{_OVERRIDE_VERB}\b\s+(?:everything|anything|all|whatever)\s+(?:you (?:were|have been|got|'ve been)"
            r" (?:told|given|taught|programmed)|you know about your|above|before this)"
            rf"|\b{_OVERRIDE_VERB}\s+(?:the|your|all|all the|all your)\s+(?:rules|instructions|guidelines)"
            r"\s*(?:$|[.!,;]|and\b)"
        ),
    ),
    (
        "instruction_override",
        "declares the assistant's instructions void",
        re.compile(
            r"\b(?:previous|prior|above|earlier|old|original|current|your)\s+(?:policy|policies|instructions?|"
            r"rules|prompt|guidelines)\s+(?:is|are|has been|have been)\s+(?:now\s+)?(?:revoked|void|cancell?ed|"
            r"lifted|suspended|disabled|obsolete|no longer (?:valid|active|in effect))"
        ),
    ),
    (
        "instruction_override",
        "gives the assistant new instructions",
        re.compile(
            r"\b(?:new|updated|real|actual|override|overriding|revised|secret)\s+(?:system\s+)?"
            r"(?:instructions?|rules|prompt|directives?|orders)\s*(?::|are|follow|from now)"
        ),
    ),
    (
        "instruction_override",
        "tries to redefine the assistant from now on",
        re.compile(
            r"\b(?:from now on|from this point on|starting now|for the rest of this conversation|henceforth)\b"
            r"[\s,]*(?:you|your|u|ur|act|behave|respond|answer|reply|only|always|never|ignore|forget)\b"
        ),
    ),
    (
        "instruction_override",
        "asks for an unrestricted or jailbroken mode",
        re.compile(
            r"\b(?:jailbreak|jailbroken|dan mode|do anything now|developer mode|god mode|sudo mode|"
            r"debug mode|maintenance mode|admin mode|unrestricted mode|unfiltered|no restrictions|"
            r"without (?:any )?(?:restrictions|rules|filters|limits))\b"
        ),
    ),
    (
        "instruction_override",
        "asks the assistant to change what it will say",
        re.compile(
            r"\b(?:you must|you will|you have to|you are required to|you shall)\s+(?:now\s+)?"
            r"(?:ignore|disregard|forget|reveal|print|output|disclose|obey|comply)\b"
        ),
    ),
    # --- role impersonation ---
    (
        "role_impersonation",
        "pretends to be a system or developer message",
        re.compile(
            r"(?:^|[\n\[(<{#*>|])\s*(?:system|developer|admin|administrator|root|assistant|operator)"
            r"\s*(?:message|prompt|note|override|instruction)?\s*(?:\]|\)|>|\}|:|\|)"
        ),
    ),
    (
        "role_impersonation",
        "opens a system or developer section",
        re.compile(
            r"(?:^|\n)\s*#{1,6}\s*(?:system|developer|admin|administrator|root)\b(?:\s+(?:prompt|message|note))?\s*(?:\n|$)"
        ),
    ),
    (
        "role_impersonation",
        "uses chat-template control tokens",
        re.compile(
            r"<\|?\s*(?:im_start|im_end|system|endoftext|start_header_id|eot_id)\s*\|?>|\[/?inst\]|<<sys>>"
        ),
    ),
    (
        "role_impersonation",
        "tells the assistant it is now another role",
        re.compile(
            r"\b(?:you are now|you're now|youre now|u r now|pretend (?:to be|you are|you're)|roleplay as|"
            r"role-play as|role play as|impersonate|from now on you are)\s+(?:an?\s+|the\s+|my\s+)?(?:\S+\s+)?"
            r"(?:system|developer|admin|administrator|root|superuser|operator|dan|unrestricted|unfiltered|"
            r"evil|hacker|jailbroken|different (?:ai|assistant|bot))\b"
        ),
    ),
    (
        "role_impersonation",
        "asks the assistant to act as a privileged or unrestricted role",
        re.compile(
            r"\b(?:act as|acting as|behave as|simulate|switch to|become|behave like|act like)\s+"
            r"(?:an?\s+|the\s+|my\s+)?(?:system|developer|root|superuser|dan|unrestricted|unfiltered|evil|"
            r"jailbroken|admin (?:console|terminal|shell|mode)|(?:ai|assistant|bot|model) (?:with no|without))\b"
        ),
    ),
    (
        "role_impersonation",
        "claims to be the assistant's developer or administrator",
        re.compile(
            r"\b(?:i am|i'm|im|this is|as|speaking as)\s+(?:your|ur)\s+(?:\S+\s+)?(?:developer|admin|"
            r"administrator|creator|operator|owner|programmer|maker|sysadmin)\b"
            r"|\b(?:i am|i'm|im|this is|as)\s+(?:the|an?|one of the)\s+(?:\S+\s+)?(?:developer|engineer|"
            r"programmer|person|team)s?\s+who\s+(?:built|made|wrote|created|programmed|trained|deployed)\s+you\b"
        ),
    ),
    # --- secrets and configuration ---
    (
        "secret_request",
        "asks for the assistant's prompt or instructions",
        re.compile(
            r"\b(?:system|initial|hidden|original|internal|secret|full|entire|exact|base|developer|your)\s+"
            r"(?:prompt|instructions|instruction set|directives|rules verbatim|configuration prompt)\b"
            r"|\b(?:repeat|print|show|reveal|output|display|tell me|give me|share|dump|leak|list|write out|"
            r"spell out|recite|what (?:is|are|were))\b{_W}\s+(?:the\s+|your\s+)?(?:text|words|instructions|"
            r"prompt|rules)\s+(?:above|before|you were given|you received|that (?:define|configure)s? you)".replace(
                "{_W}", _W
            )
        ),
    ),
    (
        "secret_request",
        "asks which instructions the assistant was given",
        re.compile(
            r"\b(?:instructions|rules|prompt|directives|guidelines)\s+(?:were you|have you been|did you get|"
            r"did they give you|you were|you have been)\s+(?:given|told|programmed|configured|set up)"
        ),
    ),
    (
        "secret_request",
        "names leadgate's configuration or the server's environment",
        re.compile(
            r"(?:\bleadgate_[a-z_]+|\bsecret_key\b|\bdatabase_url\b|\bstaff_token\b|\boidc_client_secret\b|\bllm_api_key\b|"
            r"(?:^|[\s/'\"`(])\.env\b|\benv(?:ironment)?[\s_-]?(?:variables?|vars)\b|\bconnection[\s_-]?strings?\b|"
            r"\b(?:server|app|application|bot|backend|system|internal|leadgate|assistant'?s?)\s+"
            r"(?:config|configuration|settings|secrets?|credentials)\b)"
        ),
    ),
    (
        "secret_request",
        "asks for the assistant's or server's secrets",
        re.compile(
            rf"(?:\b(?:your|ur|its|this bot'?s|the server'?s|the system'?s|the app'?s|leadgate'?s|the admin|"
            rf"the staff|the root|the master)\s+(?:\S+\s+)?{_SECRET}"
            rf"|\b(?:print|show|reveal|give|tell|dump|leak|send|share|output|display|list|expose|disclose|"
            rf"what is|what's|whats|what are)\b(?:\s+\S+){{0,3}}?\s+{_SECRET})"
        ),
    ),
    # --- other visitors' data ---
    (
        "other_visitors_data",
        "asks for other visitors' or customers' conversations or contact data",
        re.compile(
            r"\b(?:other|another|previous|last|earlier|prior|all|every|everyone|the other|your other|"
            r"your|someone else'?s?)\s+(?:\S+\s+)?(?:visitors?|users?|customers?|clients?|leads?|people|"
            r"persons?|prospects?|person|chatters?|contacts?)'?s?\s+(?:\S+\s+){0,2}?"
            r"(?:conversations?|chats?|chat logs?|chat history|messages?|transcripts?|questions|e-?mails?|"
            r"e-?mail addresses|addresses|phone(?: numbers?)?|numbers|contact (?:details|info|information|data)|"
            r"names|personal (?:data|details|information)|details|data|records|history|bookings?|meetings?)\b"
        ),
    ),
    (
        "other_visitors_data",
        "asks for data of other visitors or customers",
        re.compile(
            r"\b(?:conversations?|chats?|chat logs?|messages?|transcripts?|questions|e-?mails?|"
            r"e-?mail addresses|addresses|phone numbers?|contact (?:details|info|information|data)|names|"
            r"personal (?:data|details|information)|details)\s+of\s+(?:the\s+)?(?:other|previous|earlier|"
            r"prior|all|every|your|the other|different)\s+(?:\S+\s+)?(?:visitors?|users?|customers?|clients?|"
            r"leads?|people|persons?|prospects?|chatters?)\b"
            r"|\b(?:e-?mails?|e-?mail addresses|phone numbers?|contact (?:details|info|information|data)|"
            r"names|addresses|messages|conversations|transcripts)\s+(?:\S+\s+){0,3}?(?:the\s+|your\s+)?"
            r"(?:other|previous|prior|earlier|last)\s+(?:visitors?|users?|customers?|clients?|leads?|people|"
            r"persons?|prospects?|chatters?)\b"
            r"|\b(?:his|her|their|someone else'?s|somebody else'?s|another person'?s|(?:my )?colleague'?s|"
            r"(?:my )?co-?worker'?s|(?:my )?friend'?s|(?:my )?boss'?s)\s+(?:\S+\s+)?(?:chat|conversation|"
            r"transcript|messages|chat history|chat log)s?\b"
        ),
    ),
    (
        "other_visitors_data",
        "asks what another visitor said or who else used the chat",
        re.compile(
            r"\bwhat (?:did|was|were|have|has)\s+(?:the\s+)?(?:other|previous|last|earlier|prior|"
            r"another|someone else|other people|others)\b(?:\s+\S+){0,3}?\s+"
            r"(?:ask|asked|say|said|write|wrote|type|typed|want|wanted|talk|talking|chat|chatting|telling)"
            r"|\bwho (?:else|other)\b(?:\s+\S+){0,3}?\s+(?:chat|chatted|talked|asked|wrote|booked|contacted|"
            r"visited|spoke|messaged)"
            r"|\b(?:conversations?|chats?|transcripts?|messages?|chat logs?)\s+(?:\S+\s+){0,2}?"
            r"(?:with|from|of)\s+(?:other|another|previous|earlier|all|the other|different)\s+"
            r"(?:visitors?|users?|customers?|people|persons?|leads?|clients?)"
            r"|\b(?:list|export|dump|show|give|send)\b(?:\s+\S+){0,3}?\s+(?:of\s+)?(?:all\s+)?(?:the\s+)?"
            r"(?:visitors?|leads?|people|prospects?)\s+(?:who|that|with)\b"
        ),
    ),
]

# Non-English phrasings (accents removed before matching).
_RULES += [
    (
        "instruction_override",
        "asks the assistant to ignore its instructions (German)",
        re.compile(
            r"\b(?:ignorier\w*|vergiss|vergessen sie|missachte\w*|uberschreib\w*|umgeh\w*)\b(?:\s+\S+){0,3}?\s+"
            r"(?:anweisung\w*|regeln|vorgaben|instruktion\w*|richtlinien|systemprompt|prompt|befehle)\b"
        ),
    ),
    (
        "instruction_override",
        "asks the assistant to ignore its instructions (French)",
        re.compile(
            r"\b(?:ignore\w*|oublie\w*|neglige\w*|contourne\w*|outrepasse\w*)\b(?:\s+\S+){0,3}?\s+"
            r"(?:instructions?|regles|consignes|directives|prompt|ordres)\b"
        ),
    ),
    (
        "instruction_override",
        "asks the assistant to ignore its instructions (Spanish)",
        re.compile(
            r"\b(?:ignora\w*|olvida\w*|omite|omitir|salta\w*|desobedece\w*)\b(?:\s+\S+){0,3}?\s+"
            r"(?:instrucciones|reglas|indicaciones|directrices|prompt|ordenes)\b"
        ),
    ),
    (
        "role_impersonation",
        "asks the assistant to act as another role (de/fr/es)",
        re.compile(
            r"\b(?:du bist jetzt|ab jetzt bist du|tu es maintenant|tu es desormais|agis comme|fais comme si|"
            r"ahora eres|actua como|finge ser|haz de cuenta)\b(?:\s+\S+){0,3}?\s+"
            r"(?:system\w*|systeme|sistema|admin\w*|entwickler|developpeur|desarrollador|root|dan|"
            r"sans restrictions|sin restricciones|ohne einschrankungen)\b"
        ),
    ),
    (
        "secret_request",
        "asks for the prompt, configuration or secrets (de/fr/es)",
        re.compile(
            r"\b(?:systemprompt|system-prompt|systemanweisung\w*|api-?schlussel|geheimschlussel|zugangsdaten|"
            r"passwort\w*|datenbank-?(?:url|zugang|passwort)|umgebungsvariablen|konfiguration|"
            r"prompt (?:systeme|du systeme|systeme)|instructions (?:systeme|internes|cachees|initiales)|"
            r"cle(?:s)? (?:api|secrete\w*)|mot de passe|identifiants|variables d'?environnement|"
            r"url de (?:la )?base de donnees|prompt del sistema|instrucciones (?:del sistema|internas|ocultas|"
            r"iniciales)|clave(?:s)? (?:api|secreta\w*)|contrasena\w*|credenciales|variables de entorno|"
            r"url de (?:la )?base de datos|configuracion (?:interna|del servidor|del sistema))\b"
        ),
    ),
    (
        "other_visitors_data",
        "asks for other visitors' or customers' data (de/fr/es)",
        re.compile(
            r"\b(?:andere\w*|vorherige\w*|letzte\w*|alle)\s+(?:\S+\s+)?(?:besucher|kunden|nutzer|benutzer)\w*\b"
            r"|\b(?:autres?|precedents?|tous les)\s+(?:\S+\s+)?(?:visiteurs|clients|utilisateurs)\b"
            r"|\b(?:otros?|otras?|anteriores|todos los)\s+(?:\S+\s+)?(?:visitantes|clientes|usuarios)\b"
            r"|\b(?:visitantes|clientes|usuarios)\s+(?:anteriores|otros)\b"
        ),
    ),
]

# --- normalisation ------------------------------------------------------------------------------------------

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "l"}
)
_TAG = re.compile(r"<!--|-->|</?[a-z][^>]*>", re.IGNORECASE)
_MARKDOWN = re.compile(r"[*_`~>#]+")
_SPACED = [re.compile(rf"(?<![^\W_])(?:[^\W_]{re.escape(sep)}){{2,}}[^\W_](?![^\W_])") for sep in " .-_*+/|"]
_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}[\s:]?){12,}\b")
_WS = re.compile(r"\s+")


def _fold(text: str) -> str:
    """NFKC, no zero-width characters, no accents, lower case, HTML entities and URL escapes decoded."""
    text = html.unescape(unquote(text))
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text.lower()


def _tidy(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _join_spaced(text: str) -> str:
    """Join letters written apart by one separator: ``i g n o r e   a l l`` -> ``ignore   all``.

    Each run uses one separator character, so a wider gap (or another separator) between words keeps them
    apart: ``s.y.s.t.e.m p.r.o.m.p.t`` -> ``system prompt``.
    """
    for pattern in _SPACED:
        text = pattern.sub(lambda m: m.group(0)[::2], text)
    return text


def _decoded(text: str) -> list[tuple[str, str]]:
    """Texts hidden in Base64 or hexadecimal runs of ``text`` that decode to mostly printable ASCII."""
    found: list[tuple[str, str]] = []
    for match in _BASE64.finditer(text):
        chunk = match.group(0)
        try:
            raw = base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        found.extend(("base64", s) for s in _printable(raw))
    for match in _HEX.finditer(text):
        try:
            raw = bytes.fromhex(re.sub(r"[\s:]", "", match.group(0)))
        except ValueError:
            continue
        found.extend(("hex", s) for s in _printable(raw))
    return found


def _printable(raw: bytes) -> list[str]:
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return []
    printable = sum(c.isprintable() or c.isspace() for c in decoded)
    return [decoded] if decoded and printable / len(decoded) > 0.9 and " " in decoded else []


def _variants(text: str) -> list[tuple[str, str]]:
    """Normalised forms of ``text``, each named.

    Structure kept (line breaks, ``#``, tags) for the role-marker rules, markup removed, leetspeak digits
    mapped to letters, and letters written apart joined.
    """
    folded = _fold(text)
    stripped = _MARKDOWN.sub(" ", _TAG.sub(" \n", folded))
    leet = stripped.translate(_LEET)
    variants = [
        ("plain", folded),
        ("plain", _tidy(folded)),
        ("plain", _tidy(stripped)),
        ("leet", _tidy(leet)),
        ("joined", _tidy(_join_spaced(stripped))),
        ("joined", _tidy(_join_spaced(leet))),
    ]
    return [(name, v) for name, v in variants if v]


def screen(text: str, *, _depth: int = 0) -> GuardVerdict:
    """Screen one visitor message.

    Args:
        text: the message as typed (any length; only its normalised variants are matched).

    Returns:
        ``GuardVerdict(flagged=True, category=..., reason=..., variant=...)`` for an injection or
        exfiltration attempt; ``GuardVerdict(flagged=False)`` otherwise.
    """
    seen: set[str] = set()
    for name, variant in _variants(text):
        if variant in seen:
            continue
        seen.add(variant)
        for category, reason, pattern in _RULES:
            if pattern.search(variant):
                return GuardVerdict(flagged=True, category=category, reason=reason, variant=name)
    if _depth == 0:
        for name, hidden in _decoded(unquote(text)):
            verdict = screen(hidden, _depth=1)
            if verdict.flagged:
                return GuardVerdict(
                    flagged=True,
                    category=verdict.category,
                    reason=f"{verdict.reason} ({name}-encoded)",
                    variant=name,
                )
    return _PASS
