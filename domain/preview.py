"""A cohort's months before launch: every journey run on a simulated clock, then counted.

Pure: the caller reads the roster, the program and the script file and hands over text and models.

- `run_journey` is `domain.simulate.simulate` without its redundant work: between two scripted commands
  the ticks at each wake-up are exactly one `catch_up` (the decider computes what falls due from the state
  alone), so each due item is looked up once instead of three times. Tests hold it equal to `simulate`.
- Journeys that differ only by participant id send the same emails at the same instants (the decider uses
  the id only to name events), so `preview` simulates each distinct journey once.
- Script file format (`parse_script`), one command per line, `#` starts a comment:
      PARTICIPANT week N milestone MILESTONE_ID
      PARTICIPANT week N adopt PERSONA
      PARTICIPANT week N drop PERSONA
      PARTICIPANT weeks A-B snooze
      PARTICIPANT week N keep_going      (the "yes, keep writing to me" of the sunset email)
      PARTICIPANT week N unsubscribe
  Week 1 starts on the cohort's start date. A command happens at 00:00 local time (the participant's zone)
  on the first day of its week; a snooze pauses from the start of week A to the start of week B+1.
- Silent stretches: spans longer than `silence_weeks` (by a day or more, so a check-in every
  `silence_weeks` weeks, the program's dormant cadence, is not silence) with no email while mail is expected,
  i.e. enrolled, not unsubscribed, not in a planned pause (a snooze they asked for is not silence) and not
  quiet (no answer to the sunset email: the program stopped writing on purpose).
  Detected dormancy counts: its check-ins are what keeps it from being silent.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, SkipValidation

from domain.agenda import catch_up
from domain.commands import (
    AddConference,
    AdoptPersona,
    Command,
    DropPersona,
    Enroll,
    KeepGoing,
    Pause,
    RecordMilestone,
    Unsubscribe,
)
from domain.decider import decide_and_evolve
from domain.events import (
    BurstEnded,
    BurstStarted,
    Completed,
    DormancyEnded,
    DormancyStarted,
    Event,
    NudgeDue,
    Unsubscribed,
)
from domain.personas import Persona
from domain.program import ProgramSpec
from domain.state import JourneyState
from domain.timing import local_date, start_of_local_day, utc

NO_PERSONA = "program"  # emails that belong to no persona track: welcome, check-in, bursts, recap
BandKind = Literal["burst", "planned", "detected", "quiet"]


class JourneyPlan(BaseModel):
    """One participant's journey as the preview runs it: enrolment, roster conferences, script."""

    model_config = ConfigDict(frozen=True)

    participant_id: str
    enroll: Enroll
    enrolled_at: datetime  # when the launch enrols the journey (conferences are added then too)
    conferences: tuple[AddConference, ...] = ()
    script: tuple[tuple[datetime, Command], ...] = ()

    def profile_key(self) -> str:
        """Equal for journeys that differ only by participant (and so journey) id."""
        enroll = self.enroll.model_dump_json(exclude={"journey_id"})
        rest = [c.model_dump_json() for c in self.conferences]
        rest += [f"{at.isoformat()}={c.model_dump_json()}" for at, c in self.script]
        return "\n".join([enroll, self.enrolled_at.isoformat(), *rest])


class Email(NamedTuple):
    participant_id: str
    nudge_id: str
    nudge_key: str
    kind: str
    persona: str  # NO_PERSONA when the nudge is not from a persona track
    conference_id: str | None
    at: datetime


class Band(NamedTuple):
    participant_id: str
    kind: BandKind
    label: str  # the conference id, or the dormancy kind
    start: datetime
    end: datetime


class Silence(NamedTuple):
    participant_id: str
    start: datetime
    end: datetime

    @property
    def weeks(self) -> float:
        return (self.end - self.start) / timedelta(weeks=1)


class JourneyOutcome(NamedTuple):
    """What one simulated journey yields, without participant ids (shared by identical journeys)."""

    emails: tuple[tuple[str, str, str, str, str | None, datetime], ...]  # Email fields after the id
    weeks: tuple[int, ...]  # each email's week (0 = the first), by the participant's local date
    bands: tuple[tuple[BandKind, str, datetime, datetime], ...]
    silences: tuple[tuple[datetime, datetime], ...]
    events: int


class WeekCount(BaseModel):
    week: int  # 1 = the week starting on the cohort's start date
    starts_on: date
    total: int = 0
    by_persona: dict[str, int]
    by_kind: dict[str, int]


class Preview(BaseModel):
    program: str
    start_date: date
    weeks: int
    participants: int
    distinct_journeys: int
    events: int
    # Built by `assemble` from typed outcomes: checking a big cohort's 200,000 emails again would take
    # longer than building them.
    emails: SkipValidation[list[Email]]
    bands: SkipValidation[list[Band]]
    silences: SkipValidation[list[Silence]]
    silence_weeks: int
    week_counts: list[WeekCount]
    personas: list[str]
    kinds: list[str]


# ---- the script file ---------------------------------------------------------------------------------


class ScriptLine(NamedTuple):
    line: int
    participant_id: str
    action: str  # milestone | adopt | drop | snooze | keep_going | unsubscribe
    week: int
    last_week: int  # == week except for a snooze
    value: str


class ScriptProblem(NamedTuple):
    line: int
    reason: str


_WEEK = re.compile(
    r"^(\S+)\s+week\s+(\d+)\s+(milestone|adopt|drop|keep_going|unsubscribe)\b\s*(\S*)\s*$", re.I
)
_SNOOZE = re.compile(r"^(\S+)\s+weeks\s+(\d+)\s*-\s*(\d+)\s+snooze\s*$", re.I)
SCRIPT_FORMS = (
    "PARTICIPANT week N milestone ID | PARTICIPANT week N adopt PERSONA | PARTICIPANT week N drop PERSONA"
    " | PARTICIPANT weeks A-B snooze | PARTICIPANT week N keep_going | PARTICIPANT week N unsubscribe"
)


def parse_script(
    text: str, *, program: ProgramSpec, participants: Iterable[str], weeks: int
) -> tuple[list[ScriptLine], list[ScriptProblem]]:
    """Every scripted command, and every problem with its line (all of them, to fix the file in one pass)."""
    known = set(participants)
    personas = {p.value for p in Persona}
    out: list[ScriptLine] = []
    problems: list[ScriptProblem] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        content = raw.split("#", 1)[0].strip()
        if not content:
            continue
        week_match, snooze = _WEEK.match(content), _SNOOZE.match(content)
        if week_match:
            pid, first, action, value = (
                week_match[1],
                int(week_match[2]),
                week_match[3].lower(),
                week_match[4],
            )
            last = first
        elif snooze:
            pid, first, last, action, value = snooze[1], int(snooze[2]), int(snooze[3]), "snooze", ""
        else:
            problems.append(ScriptProblem(number, f"expected one of: {SCRIPT_FORMS}"))
            continue
        reason = None
        if pid not in known:
            reason = f"participant {pid!r} is not in the roster"
        elif not 1 <= first <= last <= weeks:
            reason = f"week {first}" + (f"-{last}" if last != first else "") + f" is outside weeks 1-{weeks}"
        elif action == "milestone" and value not in program.milestone_ids:
            reason = f"unknown milestone {value!r} (see `mentorflow program show`)"
        elif action in ("adopt", "drop") and value not in personas:
            reason = f"unknown persona {value!r} (one of {', '.join(sorted(personas))})"
        elif action in ("unsubscribe", "keep_going") and value:
            reason = f"{action} takes no value"
        if reason:
            problems.append(ScriptProblem(number, reason))
            continue
        out.append(ScriptLine(number, pid, action, first, last, value))
    return out, problems


def week_start(start_date: date, week: int, tz: str) -> datetime:
    """00:00 local on the first day of `week` (week 1 starts on the cohort's start date)."""
    return start_of_local_day(start_date + timedelta(weeks=week - 1), tz)


def script_commands(lines: Sequence[ScriptLine], start_date: date, tz: str) -> list[tuple[datetime, Command]]:
    """One participant's script lines as timed commands (their ids name the script line)."""
    out: list[tuple[datetime, Command]] = []
    for s in lines:
        at = week_start(start_date, s.week, tz)
        cid = f"script-{s.line}"
        command: Command
        match s.action:
            case "milestone":
                command = RecordMilestone(command_id=cid, milestone_id=s.value)
            case "adopt":
                command = AdoptPersona(command_id=cid, persona=Persona(s.value))
            case "drop":
                command = DropPersona(command_id=cid, persona=Persona(s.value))
            case "snooze":
                command = Pause(command_id=cid, until=week_start(start_date, s.last_week + 1, tz))
            case "keep_going":
                command = KeepGoing(command_id=cid)
            case _:
                command = Unsubscribe(command_id=cid)
        out.append((at, command))
    return out


# ---- running one journey --------------------------------------------------------------------------------


def run_journey(program: ProgramSpec, plan: JourneyPlan, until: datetime) -> list[Event]:
    """The journey's events up to `until`: the same as `simulate` with the conferences added at enrolment."""
    until = utc(until)
    enrolled_at = utc(plan.enrolled_at)
    decision, state = decide_and_evolve(JourneyState(), plan.enroll, enrolled_at, program)
    events: list[Event] = list(decision.events)
    script: list[tuple[datetime, Command]] = [(enrolled_at, c) for c in plan.conferences]
    script += sorted(((utc(at), c) for at, c in plan.script), key=lambda item: item[0])
    for at, command in script:
        if at > until:
            break
        # Ticks at every wake-up up to (and including) `at`: one catch-up; then the command at `at`.
        due, state = catch_up(state, program, at)
        events.extend(due)
        decision, state = decide_and_evolve(state, command, at, program)
        events.extend(decision.events)
    due, state = catch_up(state, program, until)
    events.extend(due)
    return events


def outcome(
    events: Sequence[Event], plan: JourneyPlan, start_date: date, until: datetime, silence_weeks: int
) -> JourneyOutcome:
    emails = tuple(
        (
            e.nudge_id,
            e.nudge_key,
            e.kind.value,
            e.persona.value if e.persona else NO_PERSONA,
            e.conference_id,
            e.at,
        )
        for e in events
        if isinstance(e, NudgeDue)
    )
    start = max(utc(plan.enroll.start), utc(plan.enrolled_at))
    end = utc(until)  # or when the journey completes or unsubscribes
    bands: list[tuple[BandKind, str, datetime, datetime]] = []
    open_bands: dict[tuple[BandKind, str], datetime] = {}
    for e in events:
        match e:
            case BurstStarted():
                open_bands[("burst", e.conference_id)] = e.at
            case BurstEnded():
                began = open_bands.pop(("burst", e.conference_id), None)
                if began is not None:
                    bands.append(("burst", e.conference_id, began, e.at))
            case DormancyStarted():
                open_bands[(e.kind, e.kind)] = e.at
            case DormancyEnded():
                began = open_bands.pop((e.kind, e.kind), None)
                if began is not None:
                    bands.append((e.kind, e.kind, began, e.at))
            case Unsubscribed() | Completed():
                end = min(end, e.at)
    for (kind, label), began in open_bands.items():
        bands.append((kind, label, began, end))
    bands.sort(key=lambda b: b[2])
    # A pause they asked for, and the quiet after an unanswered "shall we keep writing?", are not silence.
    planned = [(b[2], b[3]) for b in bands if b[0] in ("planned", "quiet")]
    silences = _silences(start, end, [m[5] for m in emails], planned, timedelta(weeks=silence_weeks))
    tz = plan.enroll.timezone
    weeks = tuple((local_date(m[5], tz) - start_date).days // 7 for m in emails)
    return JourneyOutcome(emails, weeks, tuple(bands), silences, len(events))


def _silences(
    start: datetime,
    end: datetime,
    sends: list[datetime],
    pauses: list[tuple[datetime, datetime]],
    threshold: timedelta,
) -> tuple[tuple[datetime, datetime], ...]:
    """Stretches longer than `threshold` (by a day or more) without an email, cut at planned pauses."""
    threshold += timedelta(days=1)
    # Mail is expected in [start, end) minus the pauses; an email or a pause boundary ends a stretch.
    marks = sorted([*sends, end])
    out: list[tuple[datetime, datetime]] = []
    segments: list[tuple[datetime, datetime]] = []
    cursor = start
    for p_start, p_end in sorted(pauses):
        if p_start > cursor:
            segments.append((cursor, min(p_start, end)))
        cursor = max(cursor, p_end)
    if cursor < end:
        segments.append((cursor, end))
    for seg_start, seg_end in segments:
        last = seg_start
        for mark in (m for m in marks if seg_start <= m <= seg_end):
            if mark - last >= threshold:
                out.append((last, mark))
            last = mark
        if seg_end - last >= threshold:
            out.append((last, seg_end))
    return tuple(dict.fromkeys(out))


def simulate_plan(
    program: ProgramSpec, plan: JourneyPlan, start_date: date, until: datetime, silence_weeks: int
) -> JourneyOutcome:
    return outcome(run_journey(program, plan, until), plan, start_date, until, silence_weeks)


def simulate_plans(
    program: ProgramSpec, plans: Iterable[JourneyPlan], start_date: date, until: datetime, silence_weeks: int
) -> list[JourneyOutcome]:
    """Each plan's outcome, in order (also a parallel preview's unit of work)."""
    return [simulate_plan(program, plan, start_date, until, silence_weeks) for plan in plans]


# ---- the cohort -----------------------------------------------------------------------------------------


def distinct_plans(plans: Sequence[JourneyPlan]) -> tuple[list[JourneyPlan], list[int]]:
    """One representative per distinct journey, and for every plan the index of its representative."""
    index: dict[str, int] = {}
    reps: list[JourneyPlan] = []
    which: list[int] = []
    for plan in plans:
        key = plan.profile_key()
        if key not in index:
            index[key] = len(reps)
            reps.append(plan)
        which.append(index[key])
    return reps, which


def assemble(
    program: ProgramSpec,
    plans: Sequence[JourneyPlan],
    which: Sequence[int],
    outcomes: Sequence[JourneyOutcome],
    *,
    start_date: date,
    weeks: int,
    silence_weeks: int,
) -> Preview:
    """The cohort's preview from each plan's (shared) outcome: emails, bands, silences and weekly counts."""
    emails: list[Email] = []
    bands: list[Band] = []
    silences: list[Silence] = []
    for plan, i in zip(plans, which, strict=True):
        result = outcomes[i]
        pid = plan.participant_id
        emails.extend([Email(pid, *email) for email in result.emails])
        bands.extend(Band(pid, *band) for band in result.bands)
        silences.extend(Silence(pid, *silence) for silence in result.silences)
    # Each distinct outcome is counted once, times the participants who share it, in the order they first
    # appear (the order the weekly counts meet personas and kinds in).
    shared = [(outcomes[i], n) for i, n in Counter(which).items()]
    counts = _week_counts(shared, start_date, weeks)
    events = sum(result.events * n for result, n in shared)
    persona_order = [p.value for p in Persona] + [NO_PERSONA]
    seen_personas = {p for c in counts for p in c.by_persona}
    seen_kinds = {k for c in counts for k in c.by_kind}
    return Preview(
        program=program.name,
        start_date=start_date,
        weeks=weeks,
        participants=len(plans),
        distinct_journeys=len(outcomes),
        events=events,
        emails=emails,
        bands=bands,
        silences=silences,
        silence_weeks=silence_weeks,
        week_counts=counts,
        personas=[p for p in persona_order if p in seen_personas],
        kinds=sorted(seen_kinds),
    )


def _week_counts(
    shared: Iterable[tuple[JourneyOutcome, int]], start_date: date, weeks: int
) -> list[WeekCount]:
    """Emails per week, by persona and by kind, of outcomes each shared by `n` participants."""
    totals = [0] * weeks
    by_persona: list[dict[str, int]] = [{} for _ in range(weeks)]
    by_kind: list[dict[str, int]] = [{} for _ in range(weeks)]
    for result, n in shared:
        for (_, _, kind, persona, _, _), week in zip(result.emails, result.weeks, strict=True):
            if 0 <= week < weeks:
                totals[week] += n
                by_persona[week][persona] = by_persona[week].get(persona, 0) + n
                by_kind[week][kind] = by_kind[week].get(kind, 0) + n
    return [
        WeekCount(
            week=w + 1,
            starts_on=start_date + timedelta(weeks=w),
            total=totals[w],
            by_persona=by_persona[w],
            by_kind=by_kind[w],
        )
        for w in range(weeks)
    ]


def preview(
    program: ProgramSpec,
    plans: Sequence[JourneyPlan],
    *,
    start_date: date,
    weeks: int,
    silence_weeks: int = 4,
) -> Preview:
    """Run every plan for `weeks` from the cohort's start (in one process; see cli/preview.py for more)."""
    until = preview_until(plans, start_date, weeks)
    reps, which = distinct_plans(plans)
    outcomes = simulate_plans(program, reps, start_date, until, silence_weeks)
    return assemble(
        program, plans, which, outcomes, start_date=start_date, weeks=weeks, silence_weeks=silence_weeks
    )


def preview_until(plans: Sequence[JourneyPlan], start_date: date, weeks: int) -> datetime:
    """The end of the previewed span: the end of its last day in the latest time zone of the roster."""
    zones = {p.enroll.timezone for p in plans} or {"UTC"}
    return max(week_start(start_date, weeks + 1, tz) for tz in zones)
