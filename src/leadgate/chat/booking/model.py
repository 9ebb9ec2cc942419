"""The rep calendars file as frozen pydantic models.

A calendars file is data with a ``name`` and a ``version`` (bump it on any change). It lists the reps who
give demos: their IANA time zone, weekly working hours in that zone, meeting length, buffers, slot step
and busy blocks; and global rules (minimum notice, booking horizon, the visitor's reasonable hours).
The format is described in ``docs/booking.md``; ``leadgate.chat.booking.loader`` reads the YAML and
reports errors with line numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from leadgate.reps.hours import WEEKDAYS, TimeRange, WeeklyHours, zone
from leadgate.yamlcheck import check_ref_name, check_ref_version

_MODEL = ConfigDict(extra="forbid", frozen=True)


def _error(loc: tuple[str | int, ...], message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError("calendars", "{message}", {"message": message}),
        loc=loc,
        input=value,
    )


def _known_zone(value: str) -> str:
    """``value`` if it names an IANA time zone, else a validation error (type ``calendars``)."""
    try:
        zone(value)
    except ValueError as exc:
        raise PydanticCustomError("calendars", str(exc)) from exc
    return value


class BusyBlock(BaseModel):
    """A time the rep is not available, as absolute instants ``[start, end)``.

    Attributes:
        start, end: ISO 8601 date-times with a UTC offset (``2026-11-24T12:00:00+01:00``, ``...Z``), or
            without one when ``timezone`` is given.
        timezone: IANA zone of offset-less ``start`` / ``end``; None when they carry an offset.
        title: what the block is (for people; never shown to visitors).

    Raises:
        pydantic.ValidationError: (on validation) for a time without offset and without ``timezone``, an
            unknown ``timezone``, or an end that is not after the start.
    """

    model_config = _MODEL
    start: datetime
    end: datetime
    timezone: str | None = None
    title: str | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _known_zone(value)

    @model_validator(mode="after")
    def _aware_and_ordered(self) -> BusyBlock:
        errors = []
        for key in ("start", "end"):
            value: datetime = getattr(self, key)
            if value.tzinfo is None and self.timezone is None:
                errors.append(
                    _error(
                        (key,),
                        f"{key} {value.isoformat()} has no UTC offset: write it like "
                        "2026-11-24T12:00:00+01:00 or 2026-11-24T11:00:00Z, or give the block a timezone",
                        value.isoformat(),
                    )
                )
        if not errors and self.end_utc <= self.start_utc:
            errors.append(
                _error(
                    ("end",),
                    f"end {self.end.isoformat()} is not after start {self.start.isoformat()}",
                    str(self.end),
                )
            )
        if errors:
            raise ValidationError.from_exception_data("BusyBlock", errors)
        return self

    def _utc(self, value: datetime) -> datetime:
        if value.tzinfo is None:
            assert self.timezone is not None  # checked on validation
            value = value.replace(tzinfo=zone(self.timezone))
        return value.astimezone(UTC)

    @property
    def start_utc(self) -> datetime:
        """The start as an aware UTC datetime."""
        return self._utc(self.start)

    @property
    def end_utc(self) -> datetime:
        """The end as an aware UTC datetime."""
        return self._utc(self.end)


RepId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", min_length=1, max_length=64)]
"""A rep id: lower-case letters, digits, ``.``, ``_``, ``-``; at most 64 characters (no ``@``)."""


class Rep(BaseModel):
    """A rep who gives demos, and the rules of their calendar.

    Attributes:
        id: stable id (``RepId``), stored on bookings and part of offer ids.
        name, email: organizer of the invite.
        timezone: IANA zone in which ``working_hours`` are read (DST-aware through ``zoneinfo``).
        working_hours: weekly wall-clock ranges in ``timezone``; a meeting lies wholly inside one range.
        meeting_minutes: length of a demo, minutes (5 to 480).
        buffer_before_minutes, buffer_after_minutes: free time kept before / after a demo, minutes (0 to
            240): the padded meeting must not overlap a busy block, and two demos are at least
            ``max(before, after)`` minutes apart. Buffers may reach outside working hours.
        slot_step_minutes: distance between candidate starts from the start of each range, minutes.
        busy: absolute busy blocks (holidays, other meetings).
        territories, languages: optional tags for routing (empty: any).

    Raises:
        pydantic.ValidationError: (on validation) for an unknown time zone, or a working range shorter
            than one meeting (located on the range).
    """

    model_config = _MODEL
    id: RepId
    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr
    timezone: str
    working_hours: WeeklyHours
    meeting_minutes: int = Field(default=30, ge=5, le=480)
    buffer_before_minutes: int = Field(default=0, ge=0, le=240)
    buffer_after_minutes: int = Field(default=0, ge=0, le=240)
    slot_step_minutes: int = Field(default=30, ge=5, le=480)
    busy: list[BusyBlock] = Field(default_factory=list)
    territories: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list)
    languages: list[Annotated[str, Field(min_length=1, max_length=16)]] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _known_zone(value)

    @model_validator(mode="after")
    def _ranges_fit_a_meeting(self) -> Rep:
        errors = []
        for day in WEEKDAYS:
            for index, time_range in enumerate(getattr(self.working_hours, day)):
                if time_range.minutes < self.meeting_minutes:
                    errors.append(
                        _error(
                            ("working_hours", day, index),
                            f"range {time_range} is shorter than one {self.meeting_minutes}-minute meeting",
                            str(time_range),
                        )
                    )
        if errors:
            raise ValidationError.from_exception_data("Rep", errors)
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The rep's ``ZoneInfo``."""
        return zone(self.timezone)

    @property
    def meeting(self) -> timedelta:
        """Length of a demo."""
        return timedelta(minutes=self.meeting_minutes)

    @property
    def before(self) -> timedelta:
        """Buffer kept before a demo."""
        return timedelta(minutes=self.buffer_before_minutes)

    @property
    def after(self) -> timedelta:
        """Buffer kept after a demo."""
        return timedelta(minutes=self.buffer_after_minutes)


class CalendarSet(BaseModel):
    """A calendars file: the reps and the global booking rules.

    Attributes:
        name: name of the file's content (letters, digits, ``.``, ``_``, ``-``).
        version: the file's own version, a whole number or a string; bump it on any change.
        company: the organizing company, named in invites.
        min_notice_minutes: a slot starts at least this many minutes after now (default 240).
        horizon_days: a slot starts less than this many days (24 h each) after now (default 14).
        visitor_hours: the visitor's reasonable hours, wall-clock in the visitor's zone (default
            ``08:00-18:00``); offers inside them on the visitor's Monday to Friday are preferred.
        reps: the reps, with unique ids; earlier reps win ties between equal starts.

    Raises:
        pydantic.ValidationError: (on validation) for a duplicate rep id (located on the later one).
    """

    model_config = _MODEL
    name: Annotated[str, Field(min_length=1, max_length=64)]
    version: Any
    company: Annotated[str, Field(min_length=1, max_length=200)]
    min_notice_minutes: int = Field(default=240, ge=0, le=60 * 24 * 30)
    horizon_days: int = Field(default=14, ge=1, le=365)
    visitor_hours: TimeRange = Field(default_factory=lambda: TimeRange(start=8 * 60, end=18 * 60))
    reps: list[Rep] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_ref_name(value, "calendars")

    @field_validator("version")
    @classmethod
    def _version(cls, value: Any) -> str | int:
        return check_ref_version(value, "calendars")

    @model_validator(mode="after")
    def _unique_rep_ids(self) -> CalendarSet:
        seen: set[str] = set()
        errors = []
        for index, rep in enumerate(self.reps):
            if rep.id in seen:
                errors.append(_error(("reps", index, "id"), f"duplicate rep id {rep.id!r}", rep.id))
            seen.add(rep.id)
        if errors:
            raise ValidationError.from_exception_data("CalendarSet", errors)
        return self

    @property
    def ref(self) -> str:
        """``name@version`` of the calendars file."""
        return f"{self.name}@{self.version}"

    @property
    def min_notice(self) -> timedelta:
        """Minimum notice before a slot's start."""
        return timedelta(minutes=self.min_notice_minutes)

    @property
    def horizon(self) -> timedelta:
        """How far ahead slots are offered."""
        return timedelta(days=self.horizon_days)

    def rep(self, rep_id: str) -> Rep:
        """The rep with id ``rep_id``.

        Raises:
            KeyError: no such rep.
        """
        for rep in self.reps:
            if rep.id == rep_id:
                return rep
        raise KeyError(rep_id)
