"""Composes the chat front door from settings: flow, NLU, knowledge base, calendars, qualifier, optional LLM.

This is the one place where the chat components meet (the way ``pipeline.py`` composes the qualification
stages): ``build_assistant`` wires the pure dialogue engine to its collaborators, ``build_chat`` wraps it in
the persistent ``ChatService`` that the API serves. ``leadgate serve`` and ``leadgate quickstart`` pass
``build_chat`` to ``create_app``.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from sqlalchemy import Engine

from leadgate.actions.destinations import destinations_path, load_routes
from leadgate.chat.booking import CalendarScheduler, load_calendars
from leadgate.chat.booking.model import CalendarSet
from leadgate.chat.commands import CommandRunner, OutboxNotifier
from leadgate.chat.flows import Assistant, ConversationState, Flow, load_default_flow, load_flow
from leadgate.chat.flows.branding import DEFAULT_BRANDING, Branding
from leadgate.chat.kb import KnowledgeBase
from leadgate.chat.llm import from_settings as llm_from_settings
from leadgate.chat.qualify import ChatLeadQualifier
from leadgate.chat.service import ChatService
from leadgate.config import Settings
from leadgate.defaults import default_path
from leadgate.pipeline import Qualifier
from leadgate.policy import Policy, load_policy
from leadgate.reps import load_reps
from leadgate.routing import Router, load_router

log = logging.getLogger(__name__)


def chat_router(settings: Settings, policy: Policy | None = None) -> Router | None:
    """The router of chat leads: the main policy's routing section over ``settings.reps_file``.

    Chat leads route the same way as the leads API's: ``policy`` is the API's policy when given, else
    ``settings.policy_file`` or the shipped default policy. None when that policy routes nobody.

    Raises:
        PolicyError, RepsError, RoutingConfigError: a configured file is invalid.
    """
    if policy is None:
        policy = load_policy(settings.policy_file or default_path("policy.yaml"))
    return load_router(policy, settings.reps_file)


def load_branded_flow(settings: Settings) -> Flow:
    """The chat flow of ``settings``, branded.

    ``settings.flow_file`` (or the shipped flow) with ``settings.branding_file`` (or the flow's own
    ``branding:`` section, or the Lumenly default) applied.

    Raises:
        FlowError, BrandingError: a configured file is invalid (the message names the file and line).
    """
    if settings.flow_file is not None:
        return load_flow(settings.flow_file, settings.branding_file)
    return load_default_flow(settings.branding_file)


def invite_company(branding: Branding, calendars: CalendarSet) -> str:
    """The company named in demo invites: the branding's, or a calendars file's deprecated ``company``.

    A calendars file's ``company`` is used only when no branding is configured (the shipped Lumenly default),
    so that files written before branding existed keep their invites; it is logged as deprecated, and
    ignored (with a warning) when a branding is configured.
    """
    if calendars.company is None or calendars.company == branding.company:
        return branding.company
    if branding == DEFAULT_BRANDING:
        log.warning(
            "calendars file %s: 'company' is deprecated; set 'company' in the branding section "
            "(docs/branding.md)",
            calendars.ref,
        )
        return calendars.company
    log.warning(
        "calendars file %s: 'company: %s' is ignored; invites name the branding's company %r",
        calendars.ref,
        calendars.company,
        branding.company,
    )
    return branding.company


def build_assistant(settings: Settings, engine: Engine, policy: Policy | None = None) -> Assistant:
    """The dialogue engine with its flow, knowledge base and optional language model, read from ``settings``.

    See ``build_chat_parts`` for what is read.
    """
    return build_chat_parts(settings, engine, policy)[0]


def build_chat_parts(
    settings: Settings, engine: Engine, policy: Policy | None = None
) -> tuple[Assistant, CommandRunner]:
    """The dialogue engine and the runner of its commands (qualifier, scheduler), all read from ``settings``.

    * flow: ``settings.flow_file`` or the shipped ``website_qualification`` flow, branded by
      ``settings.branding_file`` or the flow's ``branding:`` section (``load_branded_flow``);
    * knowledge base: ``settings.kb_dir`` or the shipped example (Lumenly);
    * calendars: ``settings.calendars_file`` or the shipped example, naming the reps of ``settings.reps_file``
      (or the shipped example reps), booked in ``engine``'s database; invites name the branding's company
      and ``invite_organizer``;
    * qualifier: the chat policy (``settings.chat_policy_file`` or the shipped one), decisions stored and
      audited in ``engine``'s database;
    * language model: the OpenAI-compatible endpoint of ``settings.llm_*``, or None (built-in NLU only),
      phrasing in the branding's tone;
    * routing: qualified chat leads are assigned like the API's (``chat_router(settings, policy)``), and a
      demo booked in chat goes to the rep whose calendar holds it.

    Raises:
        FlowError, BrandingError, KnowledgeBaseError, CalendarError, RepsError, PolicyError: a configured
            file is invalid (the message names the file and line).
    """
    flow = load_branded_flow(settings)
    branding = flow.branding or DEFAULT_BRANDING
    kb = KnowledgeBase.from_settings(settings)
    qualifier = ChatLeadQualifier.from_settings(engine, settings)
    qualifier.router = chat_router(settings, policy)
    qualifier.routes = load_routes(destinations_path(settings))
    calendars = load_calendars(settings.calendars_file, load_reps(settings.reps_file))
    scheduler = CalendarScheduler(
        engine,
        calendars,
        on_booked=qualifier.booked,
        company=invite_company(branding, calendars),
        organizer=branding.invite_organizer,
    )
    consent_slot = flow.slot_of_type("consent")
    if consent_slot is not None:
        # the version of the consent question the visitor answered: the flow and a digest of its wording
        digest = hashlib.sha256(str(consent_slot.prompt).encode()).hexdigest()[:12]
        qualifier.consent_wording = f"{flow.ref}#consent-{digest}"
    llm = llm_from_settings(settings, tone=branding.phrasing_tone)
    notifier = OutboxNotifier(engine, qualifier.routes) if qualifier.routes else None
    runner = CommandRunner(qualifier=qualifier, scheduler=scheduler, notifier=notifier, bookings=engine)
    return Assistant(flow, kb=kb, llm=llm), runner


def build_chat(settings: Settings, engine: Engine, qualifier: Qualifier | None = None) -> ChatService[Any]:
    """The persistent chat service of an API process (a ``ChatFactory`` for ``create_app``).

    Args:
        settings: the process settings.
        engine: the database the conversations, leads, decisions and bookings are stored in.
        qualifier: the lead qualifier of the leads API: chat leads have their own policy, and are routed
            by this one's routing section (None: ``settings.policy_file`` or the shipped policy's).

    Raises:
        See ``build_assistant``.
    """
    assistant, commands = build_chat_parts(
        settings, engine, qualifier.policy if qualifier is not None else None
    )
    return ChatService(
        engine,
        assistant,
        ConversationState.model_validate_json,
        commands=commands,
        flow_version=assistant.flow.ref,
    )


def create_chat_app() -> Any:
    """The API with the chat assistant, from ``get_settings()`` (for ``uvicorn --factory``)."""
    from leadgate.api import create_app
    from leadgate.config import get_settings

    return create_app(get_settings(), chat_factory=build_chat)
