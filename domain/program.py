"""A mentorship program: its schedule, milestones, suggestions and nudges, parsed from its files.

`ProgramSpec` holds the rules the decider needs and no message bodies: the journey workflow carries it in
its history, so it stays small. `Program` adds the Markdown bodies the senders render.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from datetime import time
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import Annotated, Any, NamedTuple

from jinja2 import Environment, TemplateSyntaxError
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from domain.personas import Persona
from domain.template_context import TEMPLATES, sample_contexts, template_line
from domain.text import PlainText
from domain.timing import WEEKDAYS, Weekday, in_quiet_hours

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_HHMM = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")


def _local_time(value: Any) -> Any:
    if isinstance(value, time):
        return value
    if isinstance(value, str) and _HHMM.match(value):
        try:
            return time.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"expected a 24h local time like '08:30', got {value!r}")


def _weekdays(value: Any) -> Any:
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected a list of days ({', '.join(WEEKDAYS)}), got {value!r}")
    for day in value:
        if day not in WEEKDAYS:
            raise ValueError(f"unknown day {day!r} (one of {', '.join(WEEKDAYS)})")
    if len(set(value)) != len(value):
        raise ValueError("a day is listed twice")
    return tuple(value)


def _persona(value: Any) -> Any:
    if isinstance(value, Persona):
        return value
    if not isinstance(value, str) or value not in Persona.__members__.values():
        raise ValueError(f"unknown persona {value!r} (one of {', '.join(p.value for p in Persona)})")
    return Persona(value)


def _slug(value: Any) -> Any:
    if not isinstance(value, str) or not _SLUG.match(value):
        raise ValueError(f"{value!r} is not a slug (lowercase letters, digits, '-' and '_')")
    return value


def _program_name(value: Any) -> Any:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(f"{value!r} is not a program name (lowercase letters, digits and '-')")
    return value


LocalTime = Annotated[time, BeforeValidator(_local_time)]
Weekdays = Annotated[tuple[Weekday, ...], BeforeValidator(_weekdays)]
PersonaField = Annotated[Persona, BeforeValidator(_persona)]
Slug = Annotated[str, BeforeValidator(_slug)]
ProgramName = Annotated[str, BeforeValidator(_program_name)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QuietHours(_Frozen):
    start: LocalTime
    end: LocalTime

    def contains(self, wall: time) -> bool:
        return in_quiet_hours(wall, self.start, self.end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


class Schedule(_Frozen):
    send_days: Weekdays = ("tue", "thu")
    send_time: LocalTime = time(8, 30)
    quiet_hours: QuietHours | None = None
    quiet_days: Weekdays = ()
    weekly_cap: int = Field(default=2, ge=1)
    burst_daily_cap: int = Field(default=1, ge=1)
    twittermittent_weekly_cap: int = Field(default=1, ge=0)
    # Silence (no click) is not dormancy: the engine cannot see reading. After `dormancy_after_weeks`
    # without a click the track goes on at one email every `silent_every_weeks`; after
    # `sunset_after_weeks` one "shall we keep writing?" email; no answer within `sunset_wait_weeks` and the
    # journey goes quiet (no email until the participant acts).
    dormancy_after_weeks: int = Field(default=4, ge=1)
    silent_every_weeks: int = Field(default=2, ge=1)
    sunset_after_weeks: int = Field(default=12, ge=1)
    sunset_wait_weeks: int = Field(default=2, ge=1)
    checkin_every_weeks: int = Field(default=4, ge=1)
    burst_prep_days: int = Field(default=5, ge=0)

    @property
    def quiet_start(self) -> time | None:
        return self.quiet_hours.start if self.quiet_hours else None

    @property
    def quiet_end(self) -> time | None:
        return self.quiet_hours.end if self.quiet_hours else None


def send_preference_problems(
    schedule: Schedule, send_days: Sequence[str], send_time: time
) -> list[tuple[str, str]]:
    """(field, reason) for send days and a send time that could never produce a slot under `schedule`."""
    problems: list[tuple[str, str]] = []
    quiet = [d for d in send_days if d in schedule.quiet_days]
    if not send_days:
        problems.append(("send_days", "no send day"))
    elif quiet:
        # Refused rather than silently dropped: the participant would wait for an email that never comes.
        days = ", ".join(quiet)
        problems.append(
            (
                "send_days",
                f"{days} {'is a quiet day' if len(quiet) == 1 else 'are quiet days'}"
                " of the program: no email goes then",
            )
        )
    if schedule.quiet_hours and schedule.quiet_hours.contains(send_time):
        problems.append(("send_time", f"{send_time:%H:%M} is inside the quiet hours {schedule.quiet_hours}"))
    return problems


class Milestone(_Frozen):
    id: Slug
    persona: PersonaField
    title: PlainText = Field(min_length=1)


class Suggestion(_Frozen):
    persona: PersonaField
    after: tuple[str, ...] = Field(min_length=1)


class NudgeKind(StrEnum):
    TRACK = "track"
    WELCOME = "welcome"
    WELCOME_BACK = "welcome_back"
    CHECKIN = "checkin"
    BURST_PREP = "burst_prep"
    BURST_DAILY = "burst_daily"
    BURST_RECAP = "burst_recap"
    RECAP = "recap"
    SUNSET = "sunset"  # "shall we keep writing?" after a long silence


SPECIAL_KINDS: tuple[NudgeKind, ...] = tuple(k for k in NudgeKind if k is not NudgeKind.TRACK)
# Kinds that may come more than once in a journey: the program gives several texts, each sent at most once
# (in id order), so nobody gets the same email twice.
VARIED_KINDS: frozenset[NudgeKind] = frozenset({NudgeKind.CHECKIN, NudgeKind.WELCOME_BACK, NudgeKind.SUNSET})


class NudgeSpec(_Frozen):
    """A message's metadata; its Markdown body lives in `Program.bodies`."""

    id: Slug
    kind: NudgeKind
    persona: PersonaField | None = None
    order: int | None = Field(default=None, ge=0)
    subject: PlainText = Field(min_length=1)
    milestones: tuple[str, ...] = ()
    suggests: PersonaField | None = None
    # A track note written for "a few weeks in": not sent before this week of the program (week 1 = the
    # first week), even when the participant is ahead of it.
    not_before_week: int | None = Field(default=None, ge=1)

    @field_validator("kind", mode="before")
    @classmethod
    def _known_kind(cls, value: Any) -> Any:
        if value not in NudgeKind.__members__.values():
            raise ValueError(f"unknown kind {value!r} (one of {', '.join(k.value for k in NudgeKind)})")
        return value


class ProgramSpec(_Frozen):
    name: ProgramName
    title: PlainText = Field(min_length=1)
    duration_weeks: int = Field(ge=1, le=520)
    schedule: Schedule = Schedule()
    milestones: tuple[Milestone, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()
    nudges: tuple[NudgeSpec, ...] = ()

    # Built once per spec: the decider asks for these at every wake-up.
    @cached_property
    def nudges_by_id(self) -> dict[str, NudgeSpec]:
        return {n.id: n for n in self.nudges}

    @cached_property
    def specials_by_kind(self) -> dict[NudgeKind, NudgeSpec]:
        return {kind: texts[0] for kind, texts in self.variants_by_kind.items()}

    @cached_property
    def variants_by_kind(self) -> dict[NudgeKind, tuple[NudgeSpec, ...]]:
        out: dict[NudgeKind, list[NudgeSpec]] = {}
        for n in self.nudges:
            if n.kind is not NudgeKind.TRACK:
                out.setdefault(n.kind, []).append(n)
        return {kind: tuple(sorted(ns, key=lambda n: n.id)) for kind, ns in out.items()}

    def variants(self, kind: NudgeKind) -> tuple[NudgeSpec, ...]:
        """Every text of a special kind, in the order they are used (by id)."""
        return self.variants_by_kind.get(kind, ())

    @cached_property
    def tracks_by_persona(self) -> dict[Persona, tuple[NudgeSpec, ...]]:
        tracks: dict[Persona, list[NudgeSpec]] = {}
        for n in self.nudges:
            if n.kind is NudgeKind.TRACK and n.persona is not None:
                tracks.setdefault(n.persona, []).append(n)
        return {p: tuple(sorted(ns, key=lambda n: (n.order or 0, n.id))) for p, ns in tracks.items()}

    def nudge(self, nudge_id: str) -> NudgeSpec:
        return self.nudges_by_id[nudge_id]

    def special(self, kind: NudgeKind) -> NudgeSpec:
        if kind not in self.specials_by_kind:
            raise KeyError(kind.value)
        return self.specials_by_kind[kind]

    def track(self, persona: Persona) -> list[NudgeSpec]:
        """The persona's track nudges in order."""
        return list(self.tracks_by_persona.get(persona, ()))

    def milestone(self, milestone_id: str) -> Milestone:
        for milestone in self.milestones:
            if milestone.id == milestone_id:
                return milestone
        raise KeyError(milestone_id)

    @property
    def milestone_ids(self) -> frozenset[str]:
        return frozenset(m.id for m in self.milestones)


@lru_cache(maxsize=64)
def shared_spec(spec: ProgramSpec) -> ProgramSpec:
    """The process's one instance of this program: equal specs are interchangeable (frozen), so every
    journey a worker caches shares one decoded copy (about 55 KiB for the default) and its lookups."""
    return spec


class Program(_Frozen):
    spec: ProgramSpec
    bodies: dict[str, str] = Field(default_factory=dict)  # nudge id -> Markdown (Jinja2) body


class Problem(NamedTuple):
    file: str
    field: str
    reason: str


class ProgramError(ValueError):
    """Every problem found in a program's files, one `file: field 'x': reason` line each."""

    def __init__(self, problems: Sequence[Problem], origin: str = "") -> None:
        self.problems = list(problems)
        self.origin = origin
        super().__init__(str(self))

    def lines(self) -> list[str]:
        out = []
        for p in self.problems:
            path = f"{self.origin.rstrip('/')}/{p.file}" if self.origin else p.file
            out.append(f"{path}: field {p.field!r}: {p.reason}" if p.field else f"{path}: {p.reason}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


class _ProgramToml(_Frozen):
    name: ProgramName
    title: PlainText = Field(min_length=1)
    duration_weeks: int = Field(ge=1, le=520)
    schedule: Schedule = Schedule()
    milestones: tuple[Milestone, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _validation_problems(file: str, exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        kind = err["type"]
        if kind == "missing":
            reason = "required"
        elif kind == "extra_forbidden":
            reason = "unknown field"
        elif kind == "value_error":
            reason = str(err.get("ctx", {}).get("error", err["msg"]))
        else:
            msg = err["msg"]
            reason = f"{msg[:1].lower()}{msg[1:]} (got {err.get('input')!r})"
        problems.append(Problem(file, _loc(err["loc"]), reason))
    return problems


_TEMPLATES = Environment(autoescape=False)


def _template_problem(file: str, field: str, source: str) -> Problem | None:
    try:
        _TEMPLATES.parse(source)
    except TemplateSyntaxError as exc:
        return Problem(file, field, f"template syntax error on line {exc.lineno}: {exc.message}")
    return None


def _split_front_matter(text: str) -> tuple[str, str] | None:
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != "+++":
        return None
    for i in range(1, len(lines)):
        if lines[i].strip() == "+++":
            return "".join(lines[1:i]), "".join(lines[i + 1 :]).lstrip("\n")
    return None


def _parse_toml(file: str, text: str, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem(file, "", f"invalid TOML: {exc}"))
        return None


def _check_schedule(schedule: Schedule, problems: list[Problem]) -> None:
    for field, reason in send_preference_problems(schedule, schedule.send_days, schedule.send_time):
        problems.append(Problem("program.toml", f"schedule.{field}", reason))


def _check_program_toml(head: _ProgramToml, problems: list[Problem]) -> None:
    _check_schedule(head.schedule, problems)
    seen: set[str] = set()
    for i, milestone in enumerate(head.milestones):
        if milestone.id in seen:
            problems.append(Problem("program.toml", f"milestones[{i}].id", f"duplicate id {milestone.id!r}"))
        seen.add(milestone.id)
    for i, suggestion in enumerate(head.suggestions):
        for ms in suggestion.after:
            if ms not in seen:
                problems.append(
                    Problem("program.toml", f"suggestions[{i}].after", f"unknown milestone {ms!r}")
                )


def _parse_nudge(file: str, text: str, problems: list[Problem]) -> tuple[NudgeSpec, str] | None:
    split = _split_front_matter(text)
    if split is None:
        problems.append(Problem(file, "", "no TOML front matter: the file must start with a '+++' line"))
        return None
    front, body = split
    data = _parse_toml(file, front, problems)
    if data is None:
        return None
    try:
        nudge = NudgeSpec.model_validate(data)
    except ValidationError as exc:
        problems.extend(_validation_problems(file, exc))
        return None
    if nudge.kind is NudgeKind.TRACK:
        if nudge.persona is None:
            problems.append(Problem(file, "persona", "required for kind 'track'"))
        if nudge.order is None:
            problems.append(Problem(file, "order", "required for kind 'track'"))
    else:
        if nudge.persona is not None:
            problems.append(Problem(file, "persona", f"only for kind 'track', not {nudge.kind.value!r}"))
        if nudge.order is not None:
            problems.append(Problem(file, "order", f"only for kind 'track', not {nudge.kind.value!r}"))
        if nudge.not_before_week is not None:
            problems.append(
                Problem(file, "not_before_week", f"only for kind 'track', not {nudge.kind.value!r}")
            )
    if not body.strip():
        problems.append(Problem(file, "body", "empty"))
    syntax_ok = True
    for field, source in (("subject", nudge.subject), ("body", body)):
        problem = _template_problem(file, field, source)
        if problem:
            problems.append(problem)
            syntax_ok = False
    if syntax_ok:
        problems.extend(_render_problems(file, text, nudge, body))
    return nudge, body


_BURST_KINDS = (NudgeKind.BURST_PREP, NudgeKind.BURST_DAILY, NudgeKind.BURST_RECAP)


def _render_problems(file: str, text: str, nudge: NudgeSpec, body: str) -> list[Problem]:
    """Render the subject and body with sample values, as the sender would: an unknown variable (a typo)
    or a failing filter is reported as `file: line N: reason`."""
    body_offset = text[: len(text) - len(body)].count("\n") if body and text.endswith(body) else 0
    subject_line = next(
        (i + 1 for i, line in enumerate(text.splitlines()) if line.lstrip().startswith("subject")), 1
    )
    problems: list[Problem] = []
    for field, source, first_line in (("subject", nudge.subject, subject_line), ("body", body, body_offset)):
        for context in sample_contexts(conference=nudge.kind in _BURST_KINDS):
            try:
                TEMPLATES.from_string(source).render(context.values())
            except Exception as exc:  # any error here would fail the email at send time, every time
                line = template_line(exc)
                where = first_line if field == "subject" or line is None else first_line + line
                problems.append(Problem(file, "", f"line {where}: {field}: {exc}"))
                break
    return problems


def parse_program(files: Mapping[str, str], *, origin: str = "") -> Program:
    """Build a validated Program from its files, keyed by path relative to the program directory
    ("program.toml", "nudges/welcome.md"); other files are ignored.

    Raises ProgramError listing every problem found; `origin` prefixes the file names in its messages.
    """
    problems: list[Problem] = []
    head: _ProgramToml | None = None
    if "program.toml" not in files:
        problems.append(Problem("program.toml", "", "missing"))
    else:
        data = _parse_toml("program.toml", files["program.toml"], problems)
        if data is not None:
            try:
                head = _ProgramToml.model_validate(data)
            except ValidationError as exc:
                problems.extend(_validation_problems("program.toml", exc))
    if head is not None:
        _check_program_toml(head, problems)

    nudge_files = sorted(f for f in files if f.startswith("nudges/") and f.endswith(".md"))
    if not nudge_files:
        problems.append(Problem("nudges/", "", "no nudge files (*.md)"))
    nudges: list[NudgeSpec] = []
    bodies: dict[str, str] = {}
    first_file: dict[str, str] = {}
    first_kind: dict[NudgeKind, str] = {}
    first_order: dict[tuple[Persona, int], str] = {}
    milestone_ids = {m.id for m in head.milestones} if head else None
    for file in nudge_files:
        parsed = _parse_nudge(file, files[file], problems)
        if parsed is None:
            continue
        nudge, body = parsed
        if nudge.id in first_file:
            problems.append(
                Problem(file, "id", f"duplicate id {nudge.id!r} (also in {first_file[nudge.id]})")
            )
            continue
        first_file[nudge.id] = file
        if nudge.kind is not NudgeKind.TRACK:
            if nudge.kind in first_kind and nudge.kind not in VARIED_KINDS:
                problems.append(
                    Problem(
                        file, "kind", f"a second {nudge.kind.value!r} message (also {first_kind[nudge.kind]})"
                    )
                )
            first_kind.setdefault(nudge.kind, file)
        elif nudge.persona is not None and nudge.order is not None:
            key = (nudge.persona, nudge.order)
            if key in first_order:
                problems.append(
                    Problem(file, "order", f"order {nudge.order} already used by {first_order[key]}")
                )
            first_order.setdefault(key, file)
        if milestone_ids is not None:
            for ms in nudge.milestones:
                if ms not in milestone_ids:
                    problems.append(Problem(file, "milestones", f"unknown milestone {ms!r}"))
        nudges.append(nudge)
        bodies[nudge.id] = body
    if nudge_files:
        for kind in SPECIAL_KINDS:
            if kind not in first_kind:
                problems.append(Problem("nudges/", "kind", f"no message of kind {kind.value!r}"))
    if head is not None:
        offered = {n.suggests for n in nudges if n.kind is NudgeKind.TRACK and n.suggests}
        for i, suggestion in enumerate(head.suggestions):
            if suggestion.persona not in offered:
                problems.append(
                    Problem(
                        "program.toml",
                        f"suggestions[{i}].persona",
                        f"no track nudge offers {suggestion.persona.value!r} "
                        f"(set suggests = {suggestion.persona.value!r} on one)",
                    )
                )
    if problems or head is None:
        raise ProgramError(problems, origin)
    spec = ProgramSpec(
        name=head.name,
        title=head.title,
        duration_weeks=head.duration_weeks,
        schedule=head.schedule,
        milestones=head.milestones,
        suggestions=head.suggestions,
        nudges=tuple(nudges),
    )
    return Program(spec=spec, bodies=bodies)
