"""The port every destination implements (CRM, notification, nurture, calendar), and its errors.

A destination is a plugin (entry point group ``leadgate.destinations``) with a pydantic config; the
dispatcher (``leadgate.actions.dispatcher``) hands it one ``Delivery`` at a time and classifies what it
raises: ``RetryableDeliveryError`` is retried with exponential backoff and jitter (at least its
``retry_after``), ``PermanentDeliveryError`` moves the outbox row to the dead-letter state at once, and
any other exception counts as retryable. A destination must be idempotent on ``action.idempotency_key``:
delivering the same action twice creates one downstream effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

from leadgate.contracts.action import Action, ActionKind
from leadgate.errors import LeadgateError


class DeliveryError(LeadgateError):
    """A destination could not deliver an action (base class)."""


class RetryableDeliveryError(DeliveryError):
    """A transient failure: timeout, connection error, HTTP 429 or 5xx.

    Attributes:
        retry_after: seconds the destination asked to wait (``Retry-After``), or None.
        status: the HTTP status, when there was one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class PermanentDeliveryError(DeliveryError):
    """A failure a retry cannot fix (HTTP 400/401/403/404/422, a refused payload, a bad config).

    Attributes:
        status: the HTTP status, when there was one.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Delivery:
    """Everything a destination needs for one action, read when it is delivered.

    Attributes:
        action: the outbox action.
        lead: the lead's current ``lead/v1`` fields with personal fields decrypted (``email``,
            ``first_name``, ``last_name``, ``company``, ``phone`` ... as present), or an empty mapping
            for an erased lead.
        decision: the stored decision's public fields (tier, action, probability, reasons,
            policy_version), or None.
        rep: the assigned rep (``id``, ``name``, ``email``, ``timezone``, ``manager``), or None.
        attempt: 1 for the first try.
    """

    action: Action
    lead: Mapping[str, Any] = field(default_factory=dict)
    decision: Mapping[str, Any] | None = None
    rep: Mapping[str, Any] | None = None
    attempt: int = 1


@dataclass(frozen=True)
class Delivered:
    """A successful delivery.

    Attributes:
        external_id: the id the destination gave the effect (CRM record or task id, message id), or None.
        detail: small facts to keep with the outbox row (HTTP status, rate-limit headroom).
    """

    external_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DestinationContext:
    """What the worker gives every destination when it builds it: ``cls(config, context)``.

    Attributes:
        engine: the leadgate database (the embedded CRM writes its tables there; others ignore it).
        settings: the process's ``leadgate.config.Settings``.
        timeout: seconds for one network call (connect + read) of an HTTP destination.
    """

    engine: Any
    settings: Any
    timeout: float = 10.0


@runtime_checkable
class Destination(Protocol):
    """A place actions are delivered to.

    Class attributes:
        name: the plugin name (the entry point name, e.g. ``hubspot``).
        kinds: the action kinds it accepts; the planner sends it nothing else.
        Config: the pydantic model of its configuration (validated at start-up, errors name the field).

    A destination is built as ``cls(config, context)`` with a validated ``Config`` instance and a
    ``DestinationContext``; it must not do network I/O in ``__init__``.
    """

    name: ClassVar[str]
    kinds: ClassVar[frozenset[ActionKind]]
    Config: ClassVar[type[BaseModel]]

    def deliver(self, delivery: Delivery) -> Delivered:
        """Deliver one action, idempotently on ``delivery.action.idempotency_key``.

        Raises:
            RetryableDeliveryError: a transient failure (retry later, at least ``retry_after`` seconds).
            PermanentDeliveryError: a failure a retry cannot fix.
        """
        ...

    def close(self) -> None:
        """Release connections (HTTP clients); called once when the worker stops."""
        ...
