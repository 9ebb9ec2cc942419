"""Weekly working hours and time zones, shared by reps (routing, SLAs) and demo booking.

``TimeRange`` (``"HH:MM-HH:MM"`` in a file), ``WeeklyHours`` (``mon`` ... ``sun``), ``WEEKDAYS`` and
``zone`` (a cached ``ZoneInfo``) live here so that ``leadgate.reps`` does not depend on ``leadgate.chat``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

_MODEL = ConfigDict(extra="forbid", frozen=True)
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday keys of ``working_hours``, in ``datetime.weekday()`` order (Monday = 0)."""


def _error(loc: tuple[str | int, ...], message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError("hours", "{message}", {"message": message}),
        loc=loc,
        input=value,
    )


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` of an IANA time zone name (cached).

    Args:
        name: an IANA name such as ``Europe/Berlin`` or ``UTC`` (tz database, shipped by ``tzdata``).

    Raises:
        ValueError: for an unknown or malformed name.
    """
    if not name or name != name.strip():
        raise ValueError(f"unknown time zone {name!r}: give an IANA name such as 'Europe/Berlin'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}: give an IANA name such as 'Europe/Berlin'") from exc


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class TimeRange(BaseModel):
    """A range of wall-clock time within one day, written ``"HH:MM-HH:MM"`` in the file.

    Attributes:
        start: minutes after midnight, in [0, 1440).
        end: minutes after midnight, in (start, 1440]; ``24:00`` is the end of the day.

    Raises:
        pydantic.ValidationError: (on validation) for text not shaped ``HH:MM-HH:MM``, a time out of
            range, or an end that is not after the start.
    """

    model_config = _MODEL
    start: int = Field(ge=0, lt=1440)
    end: int = Field(gt=0, le=1440)

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, TimeRange | dict):
            return value
        if not isinstance(value, str):
            raise PydanticCustomError(
                "hours",
                "expected a time range 'HH:MM-HH:MM' such as '09:00-12:30', got {kind}",
                {"kind": type(value).__name__},
            )
        match = _RANGE.match(value)
        if match is None:
            raise PydanticCustomError(
                "hours",
                "expected a time range 'HH:MM-HH:MM' such as '09:00-12:30', got {value!r}",
                {"value": value},
            )
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        for hours, minutes in ((h1, m1), (h2, m2)):
            if minutes > 59 or hours > 24 or (hours == 24 and minutes != 0):
                raise PydanticCustomError(
                    "hours",
                    "{time} is not a time of day (00:00 to 24:00)",
                    {"time": f"{hours}:{minutes:02d}"},
                )
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            raise PydanticCustomError(
                "hours",
                "end {end} is not after start {start} (a range cannot cross midnight: split it over two days)",
                {"end": _hhmm(end), "start": _hhmm(start)},
            )
        return {"start": start, "end": end}

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"

    @property
    def minutes(self) -> int:
        """Length of the range in minutes."""
        return self.end - self.start


class WeeklyHours(BaseModel):
    """Working hours per weekday (``mon`` ... ``sun``), each a list of non-overlapping ranges.

    Times are wall-clock times in the rep's own time zone; a missing day is a day off.

    Ranges that touch (``09:00-12:00``, ``12:00-17:00``) are allowed and stay separate: a meeting lies
    wholly inside one range.

    Raises:
        pydantic.ValidationError: (on validation) for overlapping ranges on one day (located on the later
            range), an unknown weekday key, or a week without any working time.
    """

    model_config = _MODEL
    mon: list[TimeRange] = Field(default_factory=list)
    tue: list[TimeRange] = Field(default_factory=list)
    wed: list[TimeRange] = Field(default_factory=list)
    thu: list[TimeRange] = Field(default_factory=list)
    fri: list[TimeRange] = Field(default_factory=list)
    sat: list[TimeRange] = Field(default_factory=list)
    sun: list[TimeRange] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_overlaps(self) -> WeeklyHours:
        errors = []
        for day in WEEKDAYS:
            ranges: list[TimeRange] = getattr(self, day)
            for index, current in enumerate(ranges):
                for other_index, other in enumerate(ranges[:index]):
                    if current.start < other.end and other.start < current.end:
                        errors.append(
                            _error(
                                (day, index),
                                f"range {current} overlaps range {other} (item {other_index} of {day})",
                                str(current),
                            )
                        )
                        break
        if not errors and not any(getattr(self, day) for day in WEEKDAYS):
            raise PydanticCustomError("hours", "no working hours: give at least one day with a range")
        if errors:
            raise ValidationError.from_exception_data("WeeklyHours", errors)
        return self

    def day(self, weekday: str | int) -> list[TimeRange]:
        """The ranges of one weekday, sorted by start.

        Args:
            weekday: ``mon`` ... ``sun``, or ``datetime.weekday()`` (0 = Monday).
        """
        key = WEEKDAYS[weekday] if isinstance(weekday, int) else weekday
        ranges: list[TimeRange] = getattr(self, key)
        return sorted(ranges, key=lambda r: r.start)
