"""Settings: the one place configuration is read from (environment variables prefixed ``LEADGATE_``).

Nothing reads the environment at import time: call ``get_settings()``.
"""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SECRET = "dev-insecure-secret"
#: Shortest ``secret_key`` accepted outside ``dev``, in bytes (UTF-8): 256 bits, the HMAC-SHA256 key size
#: recommended by RFC 2104 section 3 (a key at least as long as the hash output).
MIN_SECRET_BYTES = 32


class Settings(BaseSettings):
    """leadgate settings.

    Attributes:
        env: ``dev`` (default), ``test`` or ``prod``; outside dev the default secret, and any secret shorter
            than ``MIN_SECRET_BYTES`` (32 bytes), is refused.
        database_url: SQLAlchemy URL. Default: SQLite file ``leadgate.db`` in the working directory
            (WAL mode). PostgreSQL: ``postgresql+psycopg://user@host:5432/db``.
        secret_key: signing secret; outside ``dev`` it must be set, to at least 32 bytes
            (``python -c "import secrets; print(secrets.token_urlsafe(48))"``).
        max_body_bytes: largest accepted HTTP request body in bytes (413 above it). Default 1 MiB.
        max_batch_leads: most leads accepted by ``POST /v1/leads/batch``.
        model_name: registry name of the default propensity model (used when no project is set).
        project: project folder (or its ``leadgate.yaml``) whose mapping, feature set, fit rules, policy and
            model the commands and ``serve`` use (``LEADGATE_PROJECT``); see ``leadgate.project``.
        policy_file: policy YAML used by ``serve`` and ``qualify`` unless given on the command line;
            None means the policy shipped with the package.
        host, port: where ``leadgate serve`` listens.
        kb_dir: folder of Markdown, HTML or text files the chat assistant answers from; None means the
            example knowledge base shipped with the package.
        calendars_file: rep calendars YAML for demo booking; None means the shipped example.
        reps_file: reps and teams YAML (``leadgate.reps``, routing and SLAs); None means the shipped example.
        review_high_value_probability: a ``hot`` lead whose probability is at least this joins the review
            queue (``/staff/review``) as high value even when its policy did not flag it (default 0.9;
            1.0 keeps only leads scored 1.0; ``leadgate.review.queue``).
        destinations_file: destinations YAML (``leadgate.actions.destinations``: enabled plugins, their config
            and which action kinds go where); None means the embedded CRM only.
        forms_file: web-form definitions YAML (``leadgate.ingest.forms``, ``POST /v1/forms/{form_id}/submissions``);
            None means the shipped example (``defaults/forms.yaml``).
        form_secrets: per-form Standard Webhooks secrets (``whsec_`` + base64) of server-to-server form posts,
            as JSON ``{"form_id": "whsec_..."}`` in ``LEADGATE_FORM_SECRETS``. A form without one accepts no
            signed post.
        flow_file: qualification flow YAML of the chat assistant; None means the shipped flow.
        branding_file: branding YAML of the chat assistant (company, assistant name, tone, greetings, invite
            organizer, links, prompt overrides; ``docs/branding.md``); it replaces the flow's ``branding:``
            section. None: the flow's section, or the shipped example's (Lumenly).
        chat_policy_file: qualification policy for chat leads; None means the shipped chat policy.
        cors_origins: origins allowed to call the public chat endpoints from a browser (CORS allowlist).
        max_message_chars: longest chat message accepted (longer: 413).
        rate_limit_ip: per-client-IP limit on public chat endpoints (``limits`` notation, e.g. ``60/minute``).
        rate_limit_conversation: per-conversation limit on posted messages.
        session_idle_minutes: a staff web session ends after this many minutes without a request
            (default 30; checked to the minute, see ``leadgate.governance.staff_sessions``).
        session_absolute_hours: a staff web session ends this many hours after sign-in whatever its use
            (default 12). Idle and absolute limits as in the OWASP Session Management Cheat Sheet.
        cookie_secure: mark the session cookies ``Secure`` (sent over HTTPS only); None (default) means
            yes unless ``env`` is ``dev``.
        sign_in_limit_email: failed sign-ins allowed per email address (``limits`` notation; default
            ``5/15 minutes``); then 429 with ``Retry-After`` until the window moves on.
        sign_in_limit_ip: failed sign-ins allowed per client IP (default ``20/15 minutes``).
        oidc_issuer: the OpenID Connect provider's issuer URL (its ``/.well-known/openid-configuration``
            is read); None disables single sign-on.
        oidc_client_id, oidc_client_secret: this server's client at the provider.
        oidc_default_role: role given to a person whose verified email has no leadgate account yet, who
            is then created at their first SSO sign-in; None (default) refuses such a sign-in (an admin
            creates the account first with ``leadgate users create --sso-only``).
        rate_limit_ingest: per-caller limit on every ingest route (``POST /v1/leads``, ``/v1/leads/batch``,
            conversation creation and messages): the caller is the API key (``key:<prefix>``) or signed-in
            user, else the client IP. ``limits`` notation; default ``600/minute``.
        rate_limit_storage: where the counters live, a ``limits`` storage URI: ``memory://`` (default, this
            process only: several server processes need ``redis://127.0.0.1:6379/0``, so a caller cannot
            multiply a limit by the number of processes).
        rate_limit_prefix: prefix of the counters' keys in a shared storage (Redis), default ``leadgate``.
        max_inflight_ingest: most ingest requests one process serves at once; one more gets 503 with
            ``Retry-After`` (load shedding). Default 32.
        trusted_proxies: IPs or CIDR networks of the reverse proxies in front of the server (JSON list or
            comma-separated; default none). Only a request whose direct peer is one of them has its
            ``X-Forwarded-For`` read, taking the right-most address that is not a trusted proxy; any other
            request is the peer's own address, so a forged header cannot reset a limit.
        dead_letter_max_bytes: most bytes of a rejected request kept in ``dead_letters``; a longer one is
            cut (``truncated``, with its original size and sha256). Default 64 KiB.
        dead_letter_quota: dead letters one caller may leave per window (``limits`` notation, default
            ``1000/hour``); beyond it the request gets 429 and nothing is stored.
        llm_base_url, llm_model, llm_api_key, llm_timeout_s: optional OpenAI-compatible chat endpoint used to
            phrase replies and extract slots; None (the default) means the built-in NLU only.
        nlu_embeddings: all-MiniLM-L6-v2 sentence embeddings (run with numpy, no PyTorch) as intent
            features: ``auto`` (default) uses them when the packaged model is installed (``scripts/setup.sh``
            installs it), ``off`` never (the TF-IDF-only model), ``on`` always (raises
            ``EmbeddingsUnavailableError`` when the model is missing). See docs/nlu.md.
        nlu_cache_dir: where the trained intent model is kept (``LEADGATE_NLU_CACHE_DIR``); it is built
            once (``leadgate nlu build``, or at first use) and retrained only when its training data,
            libraries or model code change. Default: ``platformdirs.user_cache_dir("leadgate")/nlu`` when
            platformdirs is installed, else ``$XDG_CACHE_HOME/leadgate/nlu`` or ``~/.cache/leadgate/nlu``.
        audit_key: HMAC-SHA256 key (RFC 2104) that signs the audit checkpoints; never stored in the
            database. None (and no ``audit_key_file``) means no checkpoints are written.
        audit_key_file: file holding the audit key (read when ``audit_key`` is not set).
        audit_checkpoints: the signed checkpoint file (JSON Lines) every decision writer appends to;
            None means ``audit-checkpoints.jsonl`` next to a SQLite database, else in the working
            directory. See docs/security.md, "Audit integrity".
        log_level: lowest level of the JSON log records (``DEBUG``, ``INFO``, ``WARNING``, ``ERROR``).
        log_file: append the JSON log lines to this file; None writes them to stderr (``serve``: from
            ``log_level``; the other commands: warnings and errors only, so their own output stays readable).
            See docs/logging.md.
        data_keys: key-encryption keys of personal data, ``id:base64`` entries (32 random bytes each)
            separated by commas, the first one active (``leadgate keys new-kek``). Never stored in the
            database. See docs/security.md, "Personal data".
        data_key_file: file holding the same entries, one a line (read when ``data_keys`` is not set).
            With neither: ``dev`` generates ``leadgate-data.key`` next to a SQLite database (else in the
            working directory); ``test`` and ``prod`` refuse to start.
        retention_dead_letters_days, retention_conversations_days, retention_bookings_days,
        retention_undecided_leads_days, retention_decided_leads_days: how long (days) each kind of
            personal data is kept before ``leadgate privacy purge`` deletes it (decided leads: their
            personal fields are erased, the decision stays); None (default) keeps it.
        crm_webhook_secrets: signing secret per CRM webhook source (``POST /v1/webhooks/crm/{source}``,
            ``LEADGATE_CRM_WEBHOOK_SECRETS`` as a JSON object): HubSpot's app client secret for ``hubspot``,
            a Standard Webhooks ``whsec_<base64>`` secret for any other source; a source without one gets 404.
        crm_webhook_base_url: the public URL the CRM calls (``https://leadgate.example.com``), for HubSpot's
            signature, which covers the full URI; None uses the URL the server sees (behind a TLS proxy,
            set this).
    """

    model_config = SettingsConfigDict(env_prefix="LEADGATE_", env_file=None, extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    database_url: str = "sqlite:///leadgate.db"
    secret_key: str = DEFAULT_SECRET
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_batch_leads: int = Field(default=1000, ge=1)
    model_name: str = "propensity"
    project: Path | None = None
    policy_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    kb_dir: Path | None = None
    calendars_file: Path | None = None
    reps_file: Path | None = None
    review_high_value_probability: float = Field(default=0.9, ge=0.0, le=1.0)
    destinations_file: Path | None = None
    forms_file: Path | None = None
    form_secrets: dict[str, str] = Field(default_factory=dict, repr=False)
    flow_file: Path | None = None
    branding_file: Path | None = None
    chat_policy_file: Path | None = None
    cors_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000", "http://localhost:8000"]
    )
    max_message_chars: int = Field(default=2000, ge=1)
    rate_limit_ip: str = "120/minute"
    rate_limit_conversation: str = "30/minute"
    session_idle_minutes: int = Field(default=30, ge=1)
    session_absolute_hours: int = Field(default=12, ge=1)
    cookie_secure: bool | None = None
    sign_in_limit_email: str = "5/15 minutes"
    sign_in_limit_ip: str = "20/15 minutes"
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_default_role: str | None = None
    rate_limit_ingest: str = "600/minute"
    rate_limit_storage: str = "memory://"
    rate_limit_prefix: str = Field(default="leadgate", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    max_inflight_ingest: int = Field(default=32, ge=1)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    dead_letter_max_bytes: int = Field(default=65_536, ge=1024)
    dead_letter_quota: str = "1000/hour"
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout_s: float = Field(default=5.0, gt=0)
    nlu_embeddings: Literal["auto", "off", "on"] = "auto"
    nlu_cache_dir: Path = Field(default_factory=lambda: default_nlu_cache_dir())
    audit_key: str | None = None
    audit_key_file: Path | None = None
    audit_checkpoints: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_file: Path | None = None
    data_keys: str | None = None
    data_key_file: Path | None = None
    retention_dead_letters_days: int | None = Field(default=None, ge=1)
    retention_conversations_days: int | None = Field(default=None, ge=1)
    retention_bookings_days: int | None = Field(default=None, ge=1)
    retention_undecided_leads_days: int | None = Field(default=None, ge=1)
    retention_decided_leads_days: int | None = Field(default=None, ge=1)
    crm_webhook_secrets: dict[str, str] = Field(default_factory=dict)
    crm_webhook_base_url: str | None = None

    @property
    def secure_cookies(self) -> bool:
        """Whether session cookies get the ``Secure`` flag (``cookie_secure``, else: not in ``dev``)."""
        return self.cookie_secure if self.cookie_secure is not None else self.env != "dev"

    @model_validator(mode="after")
    def _sso_settings_complete(self) -> Settings:
        if self.oidc_issuer and not self.oidc_client_id:
            raise ValueError("LEADGATE_OIDC_ISSUER is set but LEADGATE_OIDC_CLIENT_ID is not")
        if self.oidc_default_role is not None:
            from leadgate.governance.roles import STAFF_ROLES

            if self.oidc_default_role not in STAFF_ROLES:
                raise ValueError(
                    f"LEADGATE_OIDC_DEFAULT_ROLE={self.oidc_default_role!r}: use one of {', '.join(STAFF_ROLES)}"
                )
        return self

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            return (
                json.loads(text)
                if text.startswith("[")
                else [p.strip() for p in text.split(",") if p.strip()]
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"LEADGATE_TRUSTED_PROXIES: {item!r} is not an IP address or CIDR network"
                ) from None
        return value

    @field_validator("rate_limit_ip", "rate_limit_conversation", "rate_limit_ingest", "dead_letter_quota")
    @classmethod
    def _limit_notation(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit such as 120/minute") from None
        return value

    @model_validator(mode="after")
    def _no_weak_secret_outside_dev(self) -> Settings:
        if self.env == "dev":
            return self
        if self.secret_key == DEFAULT_SECRET:
            raise ValueError(
                f"LEADGATE_SECRET_KEY must be set to a non-default value when LEADGATE_ENV={self.env}"
            )
        if len(self.secret_key.encode("utf-8")) < MIN_SECRET_BYTES:
            raise ValueError(
                f"LEADGATE_SECRET_KEY is too short for LEADGATE_ENV={self.env}: use at least "
                f"{MIN_SECRET_BYTES} bytes (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return self


def default_nlu_cache_dir() -> Path:
    """The default ``nlu_cache_dir``: the user cache directory's ``leadgate/nlu``.

    Returns:
        ``platformdirs.user_cache_dir("leadgate") / "nlu"`` when platformdirs is installed; otherwise
        ``$XDG_CACHE_HOME/leadgate/nlu``, or ``~/.cache/leadgate/nlu`` without ``XDG_CACHE_HOME``.
    """
    import os

    try:
        import platformdirs
    except ImportError:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "leadgate" / "nlu"
    return Path(platformdirs.user_cache_dir("leadgate")) / "nlu"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide ``Settings`` (read once, on first call)."""
    return Settings()
