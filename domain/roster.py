"""A cohort's roster: one row per participant, validated against the program before anything starts.

Pure: the caller decodes the file (see `cli/roster_file.py`) and hands over the header and the rows with
their line numbers. Every problem is reported with its line, column, value and reason, so staff can fix
the whole file in one pass.

Cell formats (documented in README.md, "The roster"):
- send_days: days separated by commas, spaces or semicolons (`tue,thu`; `Tue Thu`; `tuesday;thursday`).
- send_time: 24h local time `08:30` (also `8:30`, `08:30:00`, `8:30 AM`).
- personas: persona names separated by commas, spaces or semicolons (`consumer,creator`).
- conferences: `Name|YYYY-MM-DD|YYYY-MM-DD[|IANA time zone[|#hashtag]]`, several separated by `;`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, time
from typing import NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from domain.conferences import conference_problem, normal_hashtag
from domain.personas import Persona
from domain.program import ProgramSpec, send_preference_problems
from domain.text import PlainText, check_address, text_problem
from domain.timing import WEEKDAYS, Weekday, is_valid_zone

REQUIRED_COLUMNS: tuple[str, ...] = ("participant_id", "name", "email", "timezone")
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "send_days",
    "send_time",
    "personas",
    "greeting_name",
    "mentor_email",
    "mentor_name",
    "mission",
    "conferences",
)
COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

# The same rule as workflows.contract.journey_id: ids become part of Temporal workflow ids.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
_LIST_SEP = re.compile(r"[,;\s]+")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?$")
T = TypeVar("T")
_DAY_NAMES = {
    "monday": "mon",
    "tuesday": "tue",
    "tues": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "thur": "thu",
    "thurs": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}


class RosterConference(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: PlainText
    starts_on: date
    ends_on: date
    timezone: str | None = None
    hashtag: str = ""


class Enrolee(BaseModel):
    """What a participant's row says about their journey (no contact data): a valid roster row, or the
    same columns read back from the participants table. `domain.enrolment` turns it into the enrolment."""

    model_config = ConfigDict(frozen=True)

    participant_id: str
    timezone: str
    send_days: tuple[Weekday, ...]
    send_time: time
    personas: tuple[Persona, ...] = ()
    conferences: tuple[RosterConference, ...] = ()


class RosterRow(Enrolee):
    """A valid row, with the program's defaults filled in."""

    line: int
    name: str
    email: str
    greeting_name: str | None = None  # what emails greet them by; default from the name (domain.greeting)
    mentor_email: str | None = None
    mentor_name: str | None = None
    mission: str | None = None


class RosterProblem(NamedTuple):
    line: int
    column: str
    value: str
    reason: str

    def message(self, file: str) -> str:
        where = f"{file}: line {self.line}"
        if self.column:
            where += f", column {self.column}"
        shown = f" {self.value!r}:" if self.value else ""
        return f"{where}:{shown} {self.reason}"


class Roster(BaseModel):
    rows: list[RosterRow] = Field(default_factory=list)
    problems: list[RosterProblem] = Field(default_factory=list)
    # Lines of data rows that have at least one problem (a header problem has no data line).
    invalid_lines: list[int] = Field(default_factory=list)
    fatal: bool = False  # the header is unusable: no row can be read

    @property
    def ok(self) -> bool:
        return not self.problems


# Spellings staff use for a column, after normalising (`Time zone` -> `time_zone`).
_ALIASES = {"time_zone": "timezone", "greeting": "greeting_name", "mentor": "mentor_email"}


def normalize_column(name: str) -> str:
    """`Participant ID` and ` participant-id ` both mean `participant_id`; `Time zone` means `timezone`."""
    column = re.sub(r"[\s\-]+", "_", name.strip().lower())
    return _ALIASES.get(column, column)


def _split(value: str) -> list[str]:
    return [p for p in _LIST_SEP.split(value.strip()) if p]


def parse_send_days(value: str) -> tuple[Weekday, ...]:
    days: list[Weekday] = []
    for part in _split(value):
        key = _DAY_NAMES.get(part.lower(), part.lower())
        if key not in WEEKDAYS:
            raise ValueError(f"unknown day {part!r} (one of {', '.join(WEEKDAYS)})")
        day: Weekday = WEEKDAYS[WEEKDAYS.index(key)]
        if day in days:
            raise ValueError(f"day {part!r} is listed twice")
        days.append(day)
    if not days:
        raise ValueError("no send day")
    return tuple(days)


def parse_send_time(value: str) -> time:
    match = _TIME.match(value.strip())
    if match:
        hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
        meridiem = (match[4] or "").lower()
        if meridiem and 1 <= hour <= 12:
            hour = hour % 12 + (12 if meridiem == "pm" else 0)
        elif meridiem:
            hour = 99
        if hour < 24 and minute < 60 and second < 60:
            return time(hour, minute, second)
    raise ValueError("not a local time like 08:30 (24h)")


def parse_personas(value: str) -> tuple[Persona, ...]:
    known = {p.value: p for p in Persona}
    out: list[Persona] = []
    for part in _split(value):
        persona = known.get(part.lower())
        if persona is None:
            raise ValueError(f"unknown persona {part!r} (one of {', '.join(known)})")
        if persona not in out:
            out.append(persona)
    return tuple(out)


def parse_conferences(value: str, today: date) -> tuple[RosterConference, ...]:
    out: list[RosterConference] = []
    for item in (c.strip() for c in value.split(";")):
        if not item:
            continue
        parts = [p.strip() for p in item.split("|")]
        if not 3 <= len(parts) <= 5:
            raise ValueError(
                f"conference {item!r} is not 'Name|YYYY-MM-DD|YYYY-MM-DD[|Time/Zone[|#hashtag]]'"
            )
        name, start_text, end_text = parts[:3]
        zone = parts[3] if len(parts) > 3 and parts[3] else None
        hashtag = parts[4] if len(parts) > 4 else ""
        try:
            starts_on = date.fromisoformat(start_text)
            ends_on = date.fromisoformat(end_text)
        except ValueError:
            raise ValueError(f"conference {name or item!r}: dates must be YYYY-MM-DD") from None
        problem = conference_problem(name, hashtag, starts_on, ends_on, zone, today=today)
        if problem is not None:
            raise ValueError(f"conference {name or item!r}: {problem.message}")
        hashtag = normal_hashtag(hashtag)
        out.append(
            RosterConference(name=name, starts_on=starts_on, ends_on=ends_on, timezone=zone, hashtag=hashtag)
        )
    return tuple(out)


def parse_email(value: str, *, smtputf8: bool = False) -> str:
    """An address the relay can take (see `domain.text.check_address`)."""
    return check_address(value, smtputf8=smtputf8)


class _RowChecker:
    def __init__(self, line: int, cells: dict[str, str], problems: list[RosterProblem]) -> None:
        self.line = line
        self.cells = cells
        self.problems = problems
        self.bad = False

    def fail(self, column: str, reason: str) -> None:
        self.bad = True
        self.problems.append(RosterProblem(self.line, column, self.cells.get(column, ""), reason))

    def text(self, column: str) -> str:
        return self.cells.get(column, "").strip()

    def parsed(self, column: str, parse: Callable[[str], T], default: T) -> T:
        """The parsed cell; the default when it is empty or bad (a bad one is recorded)."""
        raw = self.text(column)
        if not raw:
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            self.fail(column, str(exc))
            return default


def validate_roster(
    header: Sequence[str],
    rows: Sequence[tuple[int, Sequence[str]]],
    *,
    program: ProgramSpec,
    today: date,
    header_line: int = 1,
    smtputf8: bool = False,
) -> Roster:
    """Check the header, then every row; duplicates of an id or email point at the first line holding it.

    `smtputf8`: the relay takes non-ASCII local parts (`josé@...`); otherwise such rows are refused."""
    problems: list[RosterProblem] = []
    columns = [normalize_column(h) for h in header]
    for i, col in enumerate(columns):
        if col and col not in COLUMNS:
            problems.append(
                RosterProblem(header_line, col, header[i], f"unknown column (known: {', '.join(COLUMNS)})")
            )
        elif col and columns.index(col) != i:
            problems.append(RosterProblem(header_line, col, header[i], "column appears twice"))
    for col in REQUIRED_COLUMNS:
        if col not in columns:
            problems.append(RosterProblem(header_line, col, "", "missing column"))
    if problems:
        return Roster(problems=problems, fatal=True)

    valid: list[RosterRow] = []
    invalid: list[int] = []
    first_id: dict[str, int] = {}
    first_email: dict[str, int] = {}
    schedule = program.schedule
    for line, values in rows:
        cells = {col: (values[i] if i < len(values) else "") for i, col in enumerate(columns) if col}
        check = _RowChecker(line, cells, problems)
        row = _check_row(
            check, schedule_defaults=(schedule.send_days, schedule.send_time), today=today, smtputf8=smtputf8
        )
        pid, email = check.text("participant_id"), check.text("email").lower()
        if pid and pid in first_id:
            check.fail("participant_id", f"duplicate participant id (first on line {first_id[pid]})")
        elif pid:
            first_id[pid] = line
        if email and email in first_email:
            check.fail("email", f"duplicate email (first on line {first_email[email]})")
        elif email:
            first_email[email] = line
        if row is not None:
            for column, reason in send_preference_problems(schedule, row.send_days, row.send_time):
                check.fail(column, reason)
        if check.bad or row is None:
            invalid.append(line)
        else:
            valid.append(row)
    return Roster(rows=valid, problems=problems, invalid_lines=invalid)


def _check_row(
    check: _RowChecker,
    *,
    schedule_defaults: tuple[tuple[Weekday, ...], time],
    today: date,
    smtputf8: bool,
) -> RosterRow | None:
    pid = check.text("participant_id")
    if not pid:
        check.fail("participant_id", "required")
    elif not _ID.match(pid):
        check.fail(
            "participant_id",
            "must be 1-100 letters, digits and _ . : - starting with a letter or digit",
        )
    name = check.text("name")
    if not name:
        check.fail("name", "required")
    for column in ("name", "mission", "greeting_name", "mentor_name"):
        problem = text_problem(check.text(column))
        if problem:
            check.fail(column, problem)

    email = check.text("email")
    if not email:
        check.fail("email", "required")
    else:
        email = check.parsed("email", lambda v: parse_email(v, smtputf8=smtputf8), email)
    zone_name = check.text("timezone")
    if not zone_name:
        check.fail("timezone", "required")
    elif not is_valid_zone(zone_name):
        check.fail("timezone", "unknown time zone (use an IANA name like America/Chicago)")
    send_days = check.parsed("send_days", parse_send_days, schedule_defaults[0])
    send_time = check.parsed("send_time", parse_send_time, schedule_defaults[1])
    # No persona chosen: the seed's way in, a reader who follows people and curates their feed.
    reader: tuple[Persona, ...] = (Persona.CONSUMER,)
    personas = check.parsed("personas", parse_personas, reader)
    mentor = check.text("mentor_email") or None
    if mentor is not None:
        mentor = check.parsed("mentor_email", lambda v: parse_email(v, smtputf8=smtputf8), mentor)
    no_conferences: tuple[RosterConference, ...] = ()
    conferences = check.parsed("conferences", lambda v: parse_conferences(v, today), no_conferences)
    if check.bad:
        return None
    return RosterRow(
        line=check.line,
        participant_id=pid,
        name=name,
        email=email,
        timezone=zone_name,
        send_days=send_days,
        send_time=send_time,
        personas=personas,
        greeting_name=check.text("greeting_name") or None,
        mentor_email=mentor,
        mentor_name=check.text("mentor_name") or None,
        mission=check.text("mission") or None,
        conferences=conferences,
    )
