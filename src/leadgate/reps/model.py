"""The reps file as frozen pydantic models: teams and the reps in them.

A reps file is data with a ``name`` and a ``version`` (bump it on any change; every assignment records
the policy version, and the reps file version is stored with it in the work-event chain). It lists teams
(with their manager) and reps: email, IANA time zone, weekly working hours, whether they take new leads,
routing weight, daily and rolling 30-day capacity caps, territories and segments, and absences.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from leadgate.reps.hours import WEEKDAYS, WeeklyHours, zone
from leadgate.yamlcheck import check_ref_name, check_ref_version

_MODEL = ConfigDict(extra="forbid", frozen=True)
RepId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]


class Absence(BaseModel):
    """A period a rep takes no new leads (holiday, sick leave), whole days in the rep's time zone.

    Attributes:
        start, end: first and last day off, inclusive (``end`` >= ``start``).
        reason: free text shown to managers ("holiday").
    """

    model_config = _MODEL
    start: date
    end: date
    reason: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Absence:
        if self.end < self.start:
            raise PydanticCustomError(
                "reps", "end {end} is before start {start}", {"end": str(self.end), "start": str(self.start)}
            )
        return self


class Team(BaseModel):
    """A team of reps with a manager (the person SLA escalations go to).

    Attributes:
        id: team id (lower case, digits, ``_.-``).
        name: display name.
        manager: id of the rep who manages it (a rep of this file; may route no leads, ``active: false``).
    """

    model_config = _MODEL
    id: RepId
    name: str = Field(min_length=1, max_length=120)
    manager: RepId | None = None


class Rep(BaseModel):
    """One rep.

    Attributes:
        id: rep id (the value of ``leads.owner``, ``staff_users.rep_id`` and ``assignments.rep_id``).
        name, email: who they are (notifications go to ``email``).
        timezone: IANA zone in which ``working_hours`` and ``out_of_office`` days are read.
        working_hours: weekly wall-clock ranges in ``timezone`` (SLA clocks run only inside them).
        team: the team id, or None.
        active: False for a rep who has left or is not routed to (kept so old assignments resolve).
        weight: share of the round robin, relative to the other available reps (> 0; 2 gets twice as many).
        daily_cap: most new leads per calendar day in ``timezone``, or None for no cap.
        monthly_cap: most new leads in any rolling 30 days (30 x 24 h), or None for no cap.
        territories: ISO 3166-1 alpha-2 country codes or region names this rep covers (routing rules
            read them); empty: none.
        segments: segment tags (``enterprise``, ``smb``); empty: none.
        out_of_office: absences; a rep is skipped on those days.
        notify: how the rep is told about a new lead (``email``, ``slack``).
        slack_webhook: a Slack-compatible incoming webhook URL for ``notify: [slack]``, or None.
    """

    model_config = _MODEL
    id: RepId
    name: str = Field(min_length=1, max_length=120)
    email: EmailStr
    timezone: str
    working_hours: WeeklyHours
    team: RepId | None = None
    active: bool = True
    weight: float = Field(default=1.0, gt=0, le=1000)
    daily_cap: int | None = Field(default=None, ge=0)
    monthly_cap: int | None = Field(default=None, ge=0)
    territories: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list)
    segments: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list)
    out_of_office: list[Absence] = Field(default_factory=list)
    notify: list[Literal["email", "slack"]] = Field(
        default_factory=lambda: list[Literal["email", "slack"]](["email"])
    )
    slack_webhook: str | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zone(value)
        except ValueError as exc:
            raise PydanticCustomError("reps", str(exc)) from exc
        return value

    def absent_on(self, at: datetime) -> bool:
        """True when ``at`` (timezone-aware) falls on one of the rep's days off, in the rep's zone."""
        day = at.astimezone(zone(self.timezone)).date()
        return any(a.start <= day <= a.end for a in self.out_of_office)

    def working_at(self, at: datetime) -> bool:
        """True when ``at`` (timezone-aware) is inside the rep's working hours and not a day off."""
        local = at.astimezone(zone(self.timezone))
        minute = local.hour * 60 + local.minute
        ranges = getattr(self.working_hours, WEEKDAYS[local.weekday()])
        return not self.absent_on(at) and any(r.start <= minute < r.end for r in ranges)


class RepDirectory(BaseModel):
    """A reps file: teams and reps.

    Attributes:
        name, version: the file's identity (``ref`` = ``name@version``).
        teams: the teams.
        reps: the reps (ids unique; ``team`` and team ``manager`` must name entries of this file).

    Raises:
        pydantic.ValidationError: (on validation) duplicate ids (on the later ``id``), an unknown team (on
            the rep's ``team``) or manager (on the team's ``manager``), a slack notify without
            ``slack_webhook`` (on ``notify``).
    """

    model_config = _MODEL
    name: str
    version: str | int
    teams: list[Team] = Field(default_factory=list)
    reps: list[Rep] = Field(min_length=1)

    _check_name = field_validator("name")(classmethod(lambda cls, v: check_ref_name(v, "reps file")))
    _check_version = field_validator("version", mode="before")(
        classmethod(lambda cls, v: check_ref_version(v, "reps file"))
    )

    @model_validator(mode="after")
    def _references(self) -> RepDirectory:
        errors: list[InitErrorDetails] = []

        def fail(loc: tuple[str | int, ...], message: str, value: Any) -> None:
            errors.append(
                InitErrorDetails(
                    type=PydanticCustomError("reps", "{message}", {"message": message}), loc=loc, input=value
                )
            )

        rep_ids = [r.id for r in self.reps]
        team_ids = [t.id for t in self.teams]
        for label, section, ids in (("rep", "reps", rep_ids), ("team", "teams", team_ids)):
            for index, item_id in enumerate(ids):
                if item_id in ids[:index]:
                    fail((section, index, "id"), f"duplicate {label} id {item_id!r}", item_id)
        for index, team in enumerate(self.teams):
            if team.manager is not None and team.manager not in rep_ids:
                fail(
                    ("teams", index, "manager"),
                    f"team {team.id}: manager {team.manager} is not a rep of this file",
                    team.manager,
                )
        for index, rep in enumerate(self.reps):
            if rep.team is not None and rep.team not in team_ids:
                fail(
                    ("reps", index, "team"),
                    f"rep {rep.id}: team {rep.team} is not declared under teams",
                    rep.team,
                )
            if "slack" in rep.notify and not rep.slack_webhook:
                fail(("reps", index, "notify"), f"rep {rep.id}: notify slack needs slack_webhook", rep.notify)
        if errors:
            raise ValidationError.from_exception_data("RepDirectory", errors)
        return self

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    def get(self, rep_id: str) -> Rep | None:
        """The rep with this id, or None."""
        for rep in self.reps:
            if rep.id == rep_id:
                return rep
        return None

    def manager_of(self, rep_id: str) -> Rep | None:
        """The manager of the rep's team, or None (no team, or a team without manager)."""
        rep = self.get(rep_id)
        if rep is None or rep.team is None:
            return None
        team = next(t for t in self.teams if t.id == rep.team)
        return self.get(team.manager) if team.manager else None

    def available(self, at: datetime) -> list[Rep]:
        """Active reps not out of office on ``at``'s day (UTC if naive), in file order."""
        when = at if at.tzinfo else at.replace(tzinfo=UTC)
        return [r for r in self.reps if r.active and not r.absent_on(when)]
