"""The rep calendars file as frozen pydantic models.

A calendars file is data with a ``name`` and a ``version`` (bump it on any change). It lists, by rep id,
the reps of the reps file (``leadgate.reps``, ``reps.yaml``) who give demos, with only what is specific to
booking: meeting length, buffers, slot step, busy blocks and languages; and global rules (minimum notice,
booking horizon, the visitor's reasonable hours). Identity (name, email), time zone, working hours,
territories and days off come from the reps file: the loader validates the file with the reps directory
in the validation context (``{"reps": RepDirectory}``), and each ``Rep`` below is the merged view the
slot rules read. Without that context (building a ``CalendarSet`` in code) the full form is accepted.
The format is described in ``docs/booking.md``; ``leadgate.chat.booking.loader`` reads the YAML and
reports errors with line numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from leadgate.reps.hours import WEEKDAYS, TimeRange, WeeklyHours, zone
from leadgate.reps.model import RepDirectory
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


FROM_REPS_FILE = ("name", "email", "timezone", "working_hours", "territories")
"""Keys of a calendars entry that come from the reps file and may not be written in the calendars file."""


def merge_rep(entry: dict[str, Any], directory: RepDirectory) -> dict[str, Any]:
    """A calendars file's rep entry completed from the reps file.

    Adds ``name``, ``email``, ``timezone``, ``working_hours`` and ``territories`` of the rep with the entry's
    ``id``, and appends one busy block per ``out_of_office`` period (whole days in the rep's zone).

    Args:
        entry: the entry as read from YAML (``id`` plus booking keys).
        directory: the reps file.

    Returns:
        The entry with the rep's fields (a new dict).

    Raises:
        pydantic.ValidationError: the id is not a rep of ``directory`` (located on ``id``), or the entry
            writes a key that comes from the reps file (located on that key).
    """
    errors = [
        _error((key,), f"{key!r} comes from the reps file ({directory.ref}): remove it here", entry[key])
        for key in FROM_REPS_FILE
        if key in entry
    ]
    rep_id = entry.get("id")
    rep = directory.get(rep_id) if isinstance(rep_id, str) else None
    if rep_id is None:
        errors.append(InitErrorDetails(type="missing", loc=("id",), input=entry))
    elif not isinstance(rep_id, str):
        errors.append(_error(("id",), f"expected a rep id (text), got {type(rep_id).__name__}", rep_id))
    elif rep is None:
        known = ", ".join(r.id for r in directory.reps)
        errors.append(
            _error(("id",), f"unknown rep id {rep_id!r}: not in the reps file (reps: {known})", rep_id)
        )
    if errors or rep is None:
        raise ValidationError.from_exception_data("Rep", errors)
    absences = [
        {
            "start": datetime.combine(a.start, datetime.min.time()),
            "end": datetime.combine(a.end + timedelta(days=1), datetime.min.time()),
            "timezone": rep.timezone,
            "title": a.reason or "out of office",
        }
        for a in rep.out_of_office
    ]
    return {
        **entry,
        "name": rep.name,
        "email": str(rep.email),
        "timezone": rep.timezone,
        "working_hours": rep.working_hours,
        "territories": list(rep.territories),
        "busy": [*entry.get("busy", []), *absences]
        if isinstance(entry.get("busy", []), list)
        else entry["busy"],
    }


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

    @model_validator(mode="before")
    @classmethod
    def _from_reps_file(cls, value: Any, info: ValidationInfo) -> Any:
        directory = (info.context or {}).get("reps")
        if not isinstance(directory, RepDirectory) or not isinstance(value, dict):
            return value
        return merge_rep(value, directory)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _known_zone(value)

    @model_validator(mode="after")
    def _ranges_fit_a_meeting(self, info: ValidationInfo) -> Rep:
        merged = isinstance((info.context or {}).get("reps"), RepDirectory)
        errors = []
        for day in WEEKDAYS:
            for index, time_range in enumerate(getattr(self.working_hours, day)):
                if time_range.minutes < self.meeting_minutes:
                    errors.append(
                        _error(
                            ("meeting_minutes",) if merged else ("working_hours", day, index),
                            f"range {time_range}"
                            + (f" ({day} in the reps file)" if merged else "")
                            + f" is shorter than one {self.meeting_minutes}-minute meeting",
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


class Organizer(BaseModel):
    """Who sends demo invites: the ``ORGANIZER`` of the ICS event (RFC 5545 section 3.8.4.3).

    Attributes:
        name: the organizer's display name (``CN``), e.g. "Quillstack Sales".
        email: the organizer's address; replies to the invite go there.
    """

    model_config = _MODEL
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^{}\r\n]+$")]
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s{}]+@[^@\s{}]+\.[^@\s{}]+$")]


class CalendarSet(BaseModel):
    """A calendars file: the reps and the global booking rules.

    Attributes:
        name: name of the file's content (letters, digits, ``.``, ``_``, ``-``).
        version: the file's own version, a whole number or a string; bump it on any change.
        company: deprecated: the organizing company, named in invites. The branding's ``company`` and
            ``invite_organizer`` (``docs/branding.md``) replace it; it is used only when no branding is
            configured (the shipped Lumenly default), for calendars files written before branding existed.
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
    company: Annotated[str, Field(min_length=1, max_length=200)] | None = None
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
