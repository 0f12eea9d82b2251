"""What falls due next on a journey's own clock, and the events it produces when it does.

Everything here is a function of the state and the program rules only, never of the current time: that is
why a simulated clock and a workflow that wakes late produce the same events at the same instants.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import IntEnum
from typing import NamedTuple

from domain.events import (
    BurstEnded,
    BurstStarted,
    Completed,
    DormancyEnded,
    DormancyStarted,
    Event,
    NudgeDue,
    NudgeSkipped,
    Resumed,
)
from domain.personas import Persona, persona_rank
from domain.program import NudgeKind, NudgeSpec, ProgramSpec
from domain.state import WEEK, ConferenceState, JourneyState, evolve
from domain.timing import (
    WEEKDAYS,
    in_quiet_hours,
    local_date,
    local_datetime,
    next_slot,
    resolve_local,
    start_of_local_day,
    weekday_of,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A journey of ten years at daily cadence stays far below this; more means a rule that never settles.
_MAX_STEPS = 20_000


class DueKind(IntEnum):
    """What falls due; the value breaks ties between items due at the same instant."""

    RESUME = 0
    BURST_START = 1
    DETECT_DORMANCY = 2
    GO_QUIET = 3
    BURST_PREP = 4
    BURST_DAILY = 5
    BURST_END = 6
    SEND = 7
    PROGRAM_END = 8


class Due(NamedTuple):  # not a frozen dataclass: several are built per wake-up, and tuples build faster
    at: datetime
    action: DueKind
    key: str  # unique within the journey: event ids derive from it
    nudge: NudgeSpec | None = None
    conference_id: str | None = None


def _slot(state: JourneyState, program: ProgramSpec, after: datetime, *, inclusive: bool) -> datetime | None:
    """The first send slot after `after`, but never one the journey's clock has passed: a change of
    schedule (another zone) can put the slot that `after` leads to behind us, and an email goes at a send
    slot, not whenever the change came."""
    if state.clock is not None and after < state.clock:
        after, inclusive = state.clock, True
    return _slot_from(state, program, after, inclusive=inclusive)


def _slot_from(
    state: JourneyState,
    program: ProgramSpec,
    after: datetime,
    *,
    inclusive: bool,
    send_days: tuple[str, ...] | None = None,
) -> datetime | None:
    """The first send slot after `after` on the participant's schedule (on `send_days` when given),
    wherever the journey's clock stands."""
    schedule = program.schedule
    return next_slot(
        after,
        tz=state.timezone,
        send_days=state.send_days if send_days is None else send_days,
        send_time=state.send_time,
        quiet_days=schedule.quiet_days,
        quiet_start=schedule.quiet_start,
        quiet_end=schedule.quiet_end,
        inclusive=inclusive,
    )


def program_end_slot(state: JourneyState, program: ProgramSpec) -> datetime | None:
    """Where the end-of-program recap goes: the first send slot at or after the program's end."""
    assert state.ends_at is not None
    return _slot(state, program, state.ends_at, inclusive=True)


def _burst_instant(
    state: JourneyState, program: ProgramSpec, conf: ConferenceState, day: date
) -> datetime | None:
    """The send time on `day` in the conference's zone, unless that is a quiet day or in quiet hours."""
    schedule = program.schedule
    if weekday_of(day) in schedule.quiet_days:
        return None
    tz = state.burst_timezone(conf)
    instant = resolve_local(day, state.send_time, tz)
    if in_quiet_hours(local_datetime(instant, tz).time(), schedule.quiet_start, schedule.quiet_end):
        return None
    return instant


def _prep_instant(state: JourneyState, program: ProgramSpec, conf: ConferenceState) -> datetime | None:
    """The prep nudge: at the participant's own send time and zone, since it goes while they are still at
    home (only the daily emails follow the conference clock), on the first non-quiet day from
    `burst_prep_days` before the start; a conference added later than that gets it at the next such
    instant before it begins."""
    schedule = program.schedule
    tz = state.timezone
    not_before = _not_before(state, conf)
    begins = start_of_local_day(conf.starts_on, state.burst_timezone(conf))
    day = max(conf.starts_on - timedelta(days=schedule.burst_prep_days), local_date(not_before, tz))
    while day <= conf.starts_on:
        if weekday_of(day) not in schedule.quiet_days:
            instant = resolve_local(day, state.send_time, tz)
            if not_before <= instant < begins and not in_quiet_hours(
                local_datetime(instant, tz).time(), schedule.quiet_start, schedule.quiet_end
            ):
                return instant
        day += timedelta(days=1)
    return None


def _not_before(state: JourneyState, conf: ConferenceState) -> datetime:
    """A burst email goes at its own instant or not at all: never one from before the conference was added,
    nor one a change of schedule has put behind the journey's clock."""
    return conf.added_at if state.clock is None else max(conf.added_at, state.clock)


def _next_daily(state: JourneyState, program: ProgramSpec, conf: ConferenceState) -> datetime | None:
    day = (
        conf.starts_on
        if conf.last_daily_on is None
        else max(conf.starts_on, conf.last_daily_on + timedelta(1))
    )
    not_before = _not_before(state, conf)
    while day <= conf.ends_on:
        instant = _burst_instant(state, program, conf, day)
        if instant is not None and instant >= not_before:
            return instant
        day += timedelta(days=1)
    return None


def _cadence_slot(state: JourneyState, program: ProgramSpec, not_before: datetime) -> datetime | None:
    """First send slot at or after `not_before` and the clock, after the last cadence send, before the end."""
    assert state.clock is not None and state.ends_at is not None
    after = max(not_before, state.clock)
    if state.last_cadence_send is not None and state.last_cadence_send >= after:
        slot = _slot(state, program, state.last_cadence_send, inclusive=False)
    else:
        slot = _slot(state, program, after, inclusive=True)
    if slot is None or slot >= state.ends_at:
        return None
    return slot


def weekly_cap(state: JourneyState, program: ProgramSpec) -> int:
    """The cap on track notes; twittermittent lowers it (their bursts are the busy weeks)."""
    schedule = program.schedule
    if Persona.TWITTERMITTENT in state.personas:
        return min(schedule.weekly_cap, schedule.twittermittent_weekly_cap)
    return schedule.weekly_cap


def _capped_slot(
    state: JourneyState, program: ProgramSpec, not_before: datetime, cap: int | None = None
) -> datetime | None:
    """The first cadence slot from `not_before` that keeps every 7 local days at or under `cap` capped
    emails (default: the program's weekly cap): with `cap` sent in the last seven days, the next one
    waits until seven days after the oldest of them."""
    cap = program.schedule.weekly_cap if cap is None else cap
    if cap <= 0:
        return None
    recent = state.recent_capped
    if len(recent) >= cap:
        # Seven local days (not 168 hours: across a DST change those would let 08:30 come round early).
        day = local_date(recent[-cap], state.timezone) + WEEK
        not_before = max(not_before, start_of_local_day(day, state.timezone))
    return _cadence_slot(state, program, not_before)


def _week_of_program(state: JourneyState, week: int | None) -> datetime:
    """The start of `week` of the program (week 1 starts with it)."""
    assert state.start is not None
    return state.start if week is None else state.start + timedelta(weeks=week - 1)


def _done_already(state: JourneyState, nudge: NudgeSpec) -> bool:
    """A note that asks for milestones the participant has all recorded has nothing left to ask."""
    return bool(nudge.milestones) and all(m in state.milestones for m in nudge.milestones)


def next_track_nudge(state: JourneyState, program: ProgramSpec) -> NudgeSpec | None:
    """The next track nudge: the one that may go earliest (a note may wait for its week of the program),
    then by fair rotation (the held persona served least recently goes first)."""
    assert state.clock is not None
    best: tuple[tuple[datetime, datetime, int], NudgeSpec] | None = None
    for persona in state.personas:
        nudge = next(
            (
                n
                for n in program.track(persona)
                if n.id not in state.sent_nudges and not _done_already(state, n)
            ),
            None,
        )
        if nudge is None:
            continue
        ready = max(_week_of_program(state, nudge.not_before_week), state.clock)
        key = (ready, state.persona_last_served.get(persona.value, _EPOCH), persona_rank(persona))
        if best is None or key < best[0]:
            best = (key, nudge)
    return best[1] if best else None


def next_variant(state: JourneyState, program: ProgramSpec, kind: NudgeKind) -> NudgeSpec | None:
    """The first text of `kind` not sent yet: none is ever sent twice."""
    return next((n for n in program.variants(kind) if n.id not in state.sent_nudges), None)


def pending_suggestion(state: JourneyState, program: ProgramSpec) -> tuple[Persona, NudgeSpec] | None:
    """The earliest suggested persona not yet held, with the unsent nudge of a held track that offers it.

    Only the tracks the participant holds carry a suggestion: sending another persona's nudge would push
    content they never chose (and use up that nudge before they ever adopt the persona).
    """
    for persona in state.suggested:
        if persona in state.personas:
            continue
        for holder in state.personas:
            nudge = next(
                (n for n in program.track(holder) if n.suggests is persona and n.id not in state.sent_nudges),
                None,
            )
            if nudge is not None:
                return persona, nudge
    return None


def _usable_instant(state: JourneyState, program: ProgramSpec, instant: datetime) -> bool:
    """Whether `instant` is neither on a quiet day nor in quiet hours where the participant lives."""
    schedule = program.schedule
    wall = local_datetime(instant, state.timezone)
    return weekday_of(wall.date()) not in schedule.quiet_days and not in_quiet_hours(
        wall.time(), schedule.quiet_start, schedule.quiet_end
    )


def _welcome_slot(state: JourneyState, program: ProgramSpec) -> datetime | None:
    assert state.start is not None and state.enrolled_at is not None and state.clock is not None
    first = state.first_send_at
    if first is not None and first >= state.clock and _usable_instant(state, program, first):
        return first
    late = _late_welcome(state, program)
    if late is not None and late >= state.clock:
        return late
    return _capped_slot(state, program, max(state.start, state.enrolled_at))


def _late_welcome(state: JourneyState, program: ProgramSpec) -> datetime | None:
    """A welcome whose instant had passed when the journey enrolled (the launch reached the participant
    late, or a busy worker ran their journey's first task late) goes as soon as it may: at the enrolment,
    or, when that is a quiet hour or day, at the send time of the first day that is not. Without this it
    would wait for the next send day, a day or more after it was due. None when it was not missed."""
    assert state.start is not None and state.enrolled_at is not None and state.ends_at is not None
    first = state.first_send_at
    if first is not None and _usable_instant(state, program, first):
        due: datetime | None = first
    else:
        due = _slot_from(state, program, state.start, inclusive=True)
    if due is None or due >= state.enrolled_at:
        return None
    late: datetime | None = state.enrolled_at
    if not _usable_instant(state, program, state.enrolled_at):
        late = _slot_from(state, program, state.enrolled_at, inclusive=True, send_days=WEEKDAYS)
    return late if late is not None and late < state.ends_at else None


def _sunset_due(state: JourneyState, program: ProgramSpec) -> datetime | None:
    """When a long silence asks "shall we keep writing?": once per silence, never while a pause holds or
    a conference is ahead."""
    assert state.last_activity is not None
    if state.quiet_since is not None or state.pauses or not state.welcome_sent:
        return None
    if any(not c.ended for c in state.conferences):
        return None  # a conference ahead is a planned return, not a silence
    if state.sunset_sent_at is not None and state.sunset_sent_at >= state.last_activity:
        return None
    return state.last_activity + timedelta(weeks=program.schedule.sunset_after_weeks)


def _cadence(state: JourneyState, program: ProgramSpec) -> Due | None:
    assert state.start is not None and state.enrolled_at is not None
    if state.quiet_since is not None:
        return None  # quiet until the participant acts
    candidates: list[tuple[datetime, int, NudgeSpec, str]] = []
    tz = state.timezone
    schedule = program.schedule

    def add(slot: datetime | None, rank: int, nudge: NudgeSpec | None, key: str | None = None) -> None:
        if slot is not None and nudge is not None:
            candidates.append(
                (slot, rank, nudge, key or f"{nudge.kind.value}:{local_date(slot, tz).isoformat()}")
            )

    if not state.welcome_sent:
        add(_welcome_slot(state, program), 0, program.special(NudgeKind.WELCOME), "welcome")
    if state.welcome_back_from is not None:
        add(
            _capped_slot(state, program, state.welcome_back_from),
            1,
            next_variant(state, program, NudgeKind.WELCOME_BACK),
        )
    sunset_at = _sunset_due(state, program)
    if sunset_at is not None:
        add(_capped_slot(state, program, sunset_at), 2, next_variant(state, program, NudgeKind.SUNSET))
    if state.welcome_sent:
        # Silent: the track goes on, at one email every `silent_every_weeks`.
        slow = (
            _weeks_after(state, state.last_cadence_send, schedule.silent_every_weeks)
            if state.dormant_since is not None
            else _EPOCH
        )
        suggestion = pending_suggestion(state, program)
        if suggestion is not None:
            persona, nudge = suggestion
            ready = max(
                state.suggested_at[persona.value], _week_of_program(state, nudge.not_before_week), slow
            )
            add(_capped_slot(state, program, ready, weekly_cap(state, program)), 3, nudge, nudge.id)
        track = next_track_nudge(state, program)
        if track is not None:
            ready = max(_week_of_program(state, track.not_before_week), slow)
            add(_capped_slot(state, program, ready, weekly_cap(state, program)), 4, track, track.id)
        if suggestion is None and track is None:
            # Every held track is done: the program keeps in touch at the check-in cadence, with a new
            # text each time, until the texts run out (then the sunset email follows a long silence).
            since = state.dormant_since or state.start
            base = max(since, _weeks_after(state, state.last_cadence_send, schedule.checkin_every_weeks))
            add(_capped_slot(state, program, base), 5, next_variant(state, program, NudgeKind.CHECKIN))
    if not candidates:
        return None
    slot, _, nudge, key = min(candidates, key=lambda c: (c[0], c[1]))
    return Due(at=slot, action=DueKind.SEND, key=key, nudge=nudge)


def _weeks_after(state: JourneyState, last: datetime | None, weeks: int) -> datetime:
    """The start of the local day `weeks` whole weeks after `last` (whole weeks: a DST change between two
    emails must not push one to the next slot); the epoch when there was no `last`."""
    if last is None:
        return _EPOCH
    day = local_date(last, state.timezone) + timedelta(weeks=weeks)
    return start_of_local_day(day, state.timezone)


def next_due(state: JourneyState, program: ProgramSpec) -> Due | None:
    """The next thing that falls due on the journey's clock, or None when nothing ever will."""
    if not state.enrolled or state.finished:
        return None
    assert state.clock is not None and state.ends_at is not None and state.last_activity is not None
    candidates: list[Due] = []
    if state.pauses:
        # The pause that runs out first; the journey resumes when the last one has.
        origin, until = min(state.pauses.items(), key=lambda item: (item[1], item[0]))
        candidates.append(Due(until, DueKind.RESUME, f"resume:{origin}:{until.isoformat()}"))
    if state.ended_early_at is not None:
        # Ended early by staff: nothing but the recap (and a pause running out) until the journey completes;
        # a burst under way stops too. A pause holds the recap back until it ends.
        return _earliest([*candidates, *_recap(state, program)], state.clock)
    # A burst planned ahead (a conference added, not yet over) makes the quiet before it planned rest,
    # not silence: the participant told us when they will be back.
    planned_burst = any(not c.ended for c in state.conferences)
    if not state.pauses and not planned_burst:
        if state.dormant_since is None and state.quiet_since is None:
            detect = state.last_activity + timedelta(weeks=program.schedule.dormancy_after_weeks)
            if detect < state.ends_at:
                candidates.append(Due(detect, DueKind.DETECT_DORMANCY, f"dormancy:{detect.isoformat()}"))
        quiet = _quiet_due(state, program)
        if quiet is not None and quiet < state.ends_at:
            candidates.append(Due(quiet, DueKind.GO_QUIET, f"quiet:{quiet.isoformat()}"))
    for conf in state.conferences:
        if conf.ended:
            continue
        cid = conf.conference_id
        tz = state.burst_timezone(conf)
        if not conf.started:
            if not conf.prep_done:
                prep = _prep_instant(state, program, conf)
                if prep is not None:
                    nudge = program.special(NudgeKind.BURST_PREP)
                    candidates.append(Due(prep, DueKind.BURST_PREP, f"burst_prep:{cid}", nudge, cid))
            start = start_of_local_day(conf.starts_on, tz)
            candidates.append(Due(start, DueKind.BURST_START, f"burst_start:{cid}", conference_id=cid))
            continue
        daily = _next_daily(state, program, conf)
        if daily is not None:
            key = f"burst_daily:{cid}:{local_date(daily, tz).isoformat()}"
            candidates.append(
                Due(daily, DueKind.BURST_DAILY, key, program.special(NudgeKind.BURST_DAILY), cid)
            )
        end = start_of_local_day(conf.ends_on + timedelta(days=1), tz)
        recap = _slot(state, program, end, inclusive=True) or end
        nudge = program.special(NudgeKind.BURST_RECAP)
        candidates.append(Due(recap, DueKind.BURST_END, f"burst_recap:{cid}", nudge, cid))
    if state.paused_until is None and not state.in_burst:
        cadence = _cadence(state, program)
        if cadence is not None:
            candidates.append(cadence)
    # The recap goes at the first slot from the end: it can only be next when nothing else falls due
    # before the end, and only then is its slot looked up (every wake-up would otherwise).
    first = _earliest(candidates, state.clock) if candidates else None
    if first is not None and first.at < state.ends_at:
        return first
    return _earliest([*candidates, *_recap(state, program)], state.clock)


def _quiet_due(state: JourneyState, program: ProgramSpec) -> datetime | None:
    """When a silence goes quiet: `sunset_wait_weeks` after an unanswered sunset email, or at once when
    the program has no sunset text left to send."""
    assert state.last_activity is not None
    if state.quiet_since is not None or not state.welcome_sent:
        return None
    schedule = program.schedule
    if state.sunset_sent_at is not None and state.sunset_sent_at >= state.last_activity:
        return state.sunset_sent_at + timedelta(weeks=schedule.sunset_wait_weeks)
    if next_variant(state, program, NudgeKind.SUNSET) is None:
        return state.last_activity + timedelta(weeks=schedule.sunset_after_weeks)
    return None


def _recap(state: JourneyState, program: ProgramSpec) -> list[Due]:
    """The program's end: at the first send slot from the end, or from the end of a pause that holds
    then (never skipped for a pause)."""
    assert state.ends_at is not None
    if state.pauses:
        return []
    if not state.welcome_sent:
        # Ended before their first email: no recap to wait for, the journey completes at the end.
        return [Due(state.ends_at, DueKind.PROGRAM_END, "recap", program.special(NudgeKind.RECAP))]
    end_slot = program_end_slot(state, program) or max(state.ends_at, state.clock or state.ends_at)
    return [Due(end_slot, DueKind.PROGRAM_END, "recap", program.special(NudgeKind.RECAP))]


def _earliest(candidates: list[Due], clock: datetime) -> Due:
    # Something that fell due before the latest event (a conference added after its start) happens now.
    due = min(candidates, key=lambda d: (max(d.at, clock), d.action))
    return due if due.at >= clock else due._replace(at=clock)


def _send(state: JourneyState, due: Due, event_id: str, persona: Persona | None = None) -> NudgeDue:
    assert due.nudge is not None
    return NudgeDue(
        id=event_id,
        at=due.at,
        nudge_id=due.nudge.id,
        kind=due.nudge.kind,
        nudge_key=due.key,
        persona=persona,
        conference_id=due.conference_id,
    )


def _skip(due: Due, event_id: str, reason: str) -> NudgeSkipped:
    assert due.nudge is not None
    return NudgeSkipped(
        id=event_id,
        at=due.at,
        nudge_id=due.nudge.id,
        kind=due.nudge.kind,
        nudge_key=due.key,
        reason=reason,
        conference_id=due.conference_id,
    )


def fire(state: JourneyState, due: Due, program: ProgramSpec) -> list[Event]:
    """The events of `due` happening at `due.at`."""
    prefix = f"{state.journey_id}/{due.key}"
    paused = state.paused_until is not None
    at = due.at
    match due.action:
        case DueKind.RESUME:
            origin = due.key.split(":")[1]
            assert origin in ("participant", "staff", "cohort")
            resumed = Resumed(id=f"{prefix}/1", at=at, reason="until", origin=origin)
            if state.pauses.keys() != {origin}:
                return [resumed]  # another pause still holds
            return [DormancyEnded(id=f"{prefix}/0", at=at, kind="planned"), resumed]
        case DueKind.DETECT_DORMANCY:
            return [DormancyStarted(id=f"{prefix}/0", at=at, kind="detected")]
        case DueKind.GO_QUIET:
            return [DormancyStarted(id=f"{prefix}/0", at=at, kind="quiet")]
        case DueKind.BURST_START:
            assert due.conference_id is not None
            return [BurstStarted(id=f"{prefix}/0", at=at, conference_id=due.conference_id)]
        case DueKind.BURST_PREP:
            return [_skip(due, f"{prefix}/0", "paused") if paused else _send(state, due, f"{prefix}/0")]
        case DueKind.BURST_DAILY:
            assert due.conference_id is not None
            conf = state.conference(due.conference_id)
            assert conf is not None
            day = local_date(at, state.burst_timezone(conf))
            sent_today = state.burst_day_sends if state.burst_day == day else 0
            if paused:
                return [_skip(due, f"{prefix}/0", "paused")]
            if sent_today >= program.schedule.burst_daily_cap:
                return [_skip(due, f"{prefix}/0", "burst_daily_cap")]
            return [_send(state, due, f"{prefix}/0")]
        case DueKind.BURST_END:
            assert due.conference_id is not None
            ended = BurstEnded(id=f"{prefix}/0", at=at, conference_id=due.conference_id)
            return [
                ended,
                _skip(due, f"{prefix}/1", "paused") if paused else _send(state, due, f"{prefix}/1"),
            ]
        case DueKind.SEND:
            assert due.nudge is not None
            return [_send(state, due, f"{prefix}/0", due.nudge.persona)]
        case DueKind.PROGRAM_END:
            if not state.welcome_sent:
                recap: Event = _skip(due, f"{prefix}/0", "never_started")  # ended before their first email
            elif state.quiet_since is not None:
                recap = _skip(due, f"{prefix}/0", "quiet")  # they did not ask us to keep writing
            else:
                recap = _send(state, due, f"{prefix}/0")
            return [recap, Completed(id=f"{prefix}/1", at=at)]


def catch_up(state: JourneyState, program: ProgramSpec, now: datetime) -> tuple[list[Event], JourneyState]:
    """Everything due at or before `now`, in order, each stamped with the instant it fell due."""
    events, state, _ = catch_up_and_peek(state, program, now)
    return events, state


def catch_up_and_peek(
    state: JourneyState, program: ProgramSpec, now: datetime
) -> tuple[list[Event], JourneyState, Due | None]:
    """`catch_up`, also returning what falls due next (after `now`): it is found anyway, and is costly."""
    events: list[Event] = []
    for _ in range(_MAX_STEPS):
        due = next_due(state, program)
        if due is None or due.at > now:
            return events, state, due
        for event in fire(state, due, program):
            state = evolve(state, event)
            events.append(event)
    raise RuntimeError(f"journey {state.journey_id!r}: more than {_MAX_STEPS} items due at once")
