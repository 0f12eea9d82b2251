"""Property tests: random participants, schedules and command sequences against the journey's promises."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from domain import (
    AddConference,
    AdoptPersona,
    BurstEnded,
    BurstStarted,
    ChangeSchedule,
    Command,
    DormancyEnded,
    DormancyStarted,
    DropPersona,
    EndProgram,
    Enroll,
    Event,
    JourneyState,
    KeepGoing,
    NudgeDue,
    NudgeKind,
    NudgeSkipped,
    Pause,
    Persona,
    ProgramSpec,
    RecordMilestone,
    RemoveConference,
    Resume,
    Schedule,
    Tick,
    Unsubscribe,
    decide_and_evolve,
    evolve,
    fold,
    simulate_state,
)
from domain.agenda import DueKind, next_due, weekly_cap
from domain.events import CADENCE_KINDS, CAPPED_KINDS
from domain.program import QuietHours
from domain.timing import WEEKDAYS, in_quiet_hours, local_date, local_datetime, resolve_local
from tests.domain.small_program import SMALL

ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/Los_Angeles",
    "Pacific/Auckland",
    "UTC",
]
QUIET = [None, QuietHours(start=time(21), end=time(7)), QuietHours(start=time(22, 30), end=time(6))]
BASE = datetime(2026, 1, 1, tzinfo=UTC)
ORIGINS: list[Literal["participant", "staff", "cohort"]] = ["participant", "staff", "cohort"]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[ProgramSpec, Enroll, datetime, list[tuple[datetime, Command]], int]:
    quiet = draw(st.sampled_from(QUIET))
    quiet_days = draw(st.lists(st.sampled_from(WEEKDAYS), max_size=2, unique=True))
    schedule = Schedule(
        send_days=("tue", "thu"),
        send_time=time(8, 30),
        quiet_hours=quiet,
        quiet_days=tuple(quiet_days),
        weekly_cap=draw(st.integers(1, 3)),
        burst_daily_cap=draw(st.integers(1, 2)),
        twittermittent_weekly_cap=draw(st.integers(0, 2)),
        dormancy_after_weeks=draw(st.integers(1, 4)),
        checkin_every_weeks=draw(st.integers(1, 3)),
        burst_prep_days=draw(st.integers(0, 6)),
    )
    program = SMALL.model_copy(update={"schedule": schedule, "duration_weeks": draw(st.integers(3, 14))})
    usable = [d for d in WEEKDAYS if d not in quiet_days]
    send_days = draw(st.lists(st.sampled_from(usable), min_size=1, max_size=4, unique=True))
    times = [time(h, m) for h in range(24) for m in (0, 15, 30, 45)]
    send_time = draw(st.sampled_from([t for t in times if not (quiet and quiet.contains(t))]))
    tz = draw(st.sampled_from(ZONES))
    start = BASE + timedelta(hours=draw(st.integers(0, 365 * 24)), minutes=draw(st.sampled_from([0, 17, 30])))
    enroll = Enroll(
        command_id="enroll",
        journey_id="j",
        program=program.name,
        timezone=tz,
        send_days=tuple(send_days),
        send_time=send_time,
        personas=tuple(draw(st.lists(st.sampled_from(list(Persona)), max_size=3, unique=True))),
        start=start,
    )
    span_minutes = program.duration_weeks * 7 * 24 * 60
    script: list[tuple[datetime, Command]] = []
    for i in range(draw(st.integers(0, 8))):
        at = start + timedelta(minutes=draw(st.integers(1, span_minutes)))
        cid = f"c{i}"
        kind = draw(
            st.sampled_from(
                [
                    "milestone",
                    "adopt",
                    "drop",
                    "pause",
                    "resume",
                    "keep_going",
                    "conference",
                    "remove_conference",
                    "schedule",
                    "schedule",
                    "end",
                    "unsubscribe",
                ]
            )
        )
        command: Command
        if kind == "milestone":
            command = RecordMilestone(
                command_id=cid, milestone_id=draw(st.sampled_from(sorted(program.milestone_ids)))
            )
        elif kind == "adopt":
            command = AdoptPersona(command_id=cid, persona=draw(st.sampled_from(list(Persona))))
        elif kind == "drop":
            command = DropPersona(command_id=cid, persona=draw(st.sampled_from(list(Persona))))
        elif kind == "pause":
            command = Pause(
                command_id=cid,
                until=at + timedelta(hours=draw(st.integers(1, 40 * 24))),
                origin=draw(st.sampled_from(ORIGINS)),
            )
        elif kind == "resume":
            command = Resume(command_id=cid, origin=draw(st.sampled_from(ORIGINS)))
        elif kind == "remove_conference":
            command = RemoveConference(command_id=cid, conference_id=f"conf{draw(st.integers(0, 7))}")
        elif kind == "keep_going":
            command = KeepGoing(command_id=cid)
        elif kind == "conference":
            first = local_date(at, tz) + timedelta(days=draw(st.integers(0, 30)))
            command = AddConference(
                command_id=cid,
                conference_id=f"conf{i}",
                name=f"Meeting {i}",
                starts_on=first,
                ends_on=first + timedelta(days=draw(st.integers(0, 6))),
                timezone=draw(st.sampled_from([None, *ZONES])),
            )
        elif kind == "schedule":
            # Any zone, days or time (some invalid: quiet hours, only quiet days): the journey decides.
            command = ChangeSchedule(
                command_id=cid,
                timezone=draw(st.sampled_from([None, *ZONES])),
                send_days=draw(
                    st.none() | st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=4, unique=True)
                ),
                send_time=draw(st.none() | st.sampled_from(times)),
            )
        elif kind == "end":
            command = EndProgram(command_id=cid)
        else:
            command = Unsubscribe(command_id=cid)
        script.append((at, command))
    until = start + timedelta(weeks=program.duration_weeks + 2)
    return program, enroll, until, script, draw(st.integers(0, 2**32))


def check_invariants(program: ProgramSpec, enroll: Enroll, events: list[Event], final: JourneyState) -> None:
    schedule = program.schedule
    ids = [e.id for e in events]
    assert len(ids) == len(set(ids)), "event ids are unique"
    assert [e.at for e in events] == sorted(e.at for e in events), "events come in time order"
    sent = [e for e in events if isinstance(e, NudgeDue)]
    assert len({s.nudge_key for s in sent}) == len(sent), "nudge keys are unique"
    track = [s for s in sent if s.kind is NudgeKind.TRACK]
    assert len({s.nudge_id for s in track}) == len(track), "each track nudge goes at most once"

    # Nothing at all after the journey is over.
    for i, event in enumerate(events):
        if event.type in ("unsubscribed", "completed"):
            assert i == len(events) - 1

    # No email twice with the same content, except the burst's daily one (and each conference's own).
    plain = [s.nudge_id for s in sent if s.conference_id is None]
    assert len(plain) == len(set(plain)), "no text is sent twice"

    state = JourneyState()
    conferences: dict[str, str] = {}
    daily: Counter[tuple[str, str]] = Counter()
    capped: list[datetime] = []  # every capped email so far
    last_checkin: datetime | None = None
    burst_since_back = False  # a burst began since the participant's latest return from detected dormancy
    for event in events:
        if isinstance(event, DormancyStarted) and event.kind == "detected":
            assert not any(not c.ended for c in state.conferences), (
                "a planned burst is ahead: the quiet before it is rest, not dormancy"
            )
        if isinstance(event, DormancyEnded) and event.kind == "detected":
            burst_since_back = False
        if isinstance(event, BurstStarted):
            burst_since_back = True
        if isinstance(event, NudgeDue):
            assert state.paused_until is None, "nothing is sent while paused"
            assert state.quiet_since is None, "nothing is sent once quiet, until the participant acts"
            if event.kind is NudgeKind.RECAP:
                assert state.welcome_sent, "no recap for someone who never had a first email"
            assert state.unsubscribed_at is None and state.completed_at is None
            # Daily burst emails follow the conference clock (the participant is there); the prep goes
            # days before, while they are still at home.
            in_conference_zone = event.kind is NudgeKind.BURST_DAILY
            # The schedule in force when it goes: a ChangeSchedule before it may have moved it.
            tz = state.timezone
            zone = conferences[event.conference_id or ""] if in_conference_zone else tz
            wall = local_datetime(event.at, zone)
            assert WEEKDAYS[wall.weekday()] not in schedule.quiet_days, "never on a quiet day"
            assert not in_quiet_hours(wall.time(), schedule.quiet_start, schedule.quiet_end), (
                "never in quiet hours"
            )
            # The local send time holds across DST (a time in a DST gap moves to the transition).
            assert event.at == resolve_local(wall.date(), state.send_time, zone)
            if event.kind in CADENCE_KINDS:
                assert WEEKDAYS[wall.weekday()] in state.send_days, "cadence nudges only on send days"
            if event.kind in CAPPED_KINDS:
                # "At most N a week" in every seven local days, the welcome included.
                capped.append(event.at)
                today = local_date(event.at, tz)
                in_window = [t for t in capped if local_date(t, tz) > today - timedelta(weeks=1)]
                assert len(in_window) <= schedule.weekly_cap, "never over the weekly cap in any 7 days"
                if event.kind is NudgeKind.TRACK:
                    assert len(in_window) <= weekly_cap(state, program), "the twittermittent cap holds"
            if event.kind is NudgeKind.TRACK:
                assert not state.in_burst, "bursts replace the track cadence"
                assert event.persona in state.personas, "only tracks of personas held: never forced"
                nudge = program.nudge(event.nudge_id)
                done = nudge.milestones and all(m in state.milestones for m in nudge.milestones)
                assert not done or nudge.suggests in state.suggested, "a note already done is skipped"
                if nudge.not_before_week is not None:
                    assert event.at >= enroll.start + timedelta(weeks=nudge.not_before_week - 1)
                if state.dormant_since is not None and state.last_cadence_send is not None:
                    # Silent: the track goes on, slower (a day of slack for a zone change).
                    gap = timedelta(weeks=schedule.silent_every_weeks) - timedelta(days=1, hours=2)
                    assert event.at - state.last_cadence_send >= gap, "a silent reader gets a gentler pace"
            if event.kind is NudgeKind.CHECKIN:
                # Low cadence, whether dormant or done with every track: never closer than the program's
                # check-in interval (a day of slack for a zone change between two of them).
                gap = timedelta(weeks=schedule.checkin_every_weeks) - timedelta(days=1, hours=2)
                assert last_checkin is None or event.at - last_checkin >= gap, "check-ins keep their interval"
                last_checkin = event.at
            if event.kind is NudgeKind.WELCOME_BACK:
                assert not burst_since_back, "a burst already welcomed them back"
            if event.kind is NudgeKind.BURST_DAILY:
                assert event.conference_id is not None
                daily[(event.conference_id, wall.date().isoformat())] += 1
                assert daily[(event.conference_id, wall.date().isoformat())] <= schedule.burst_daily_cap
                conference = state.conference(event.conference_id)
                assert conference is not None and conference.starts_on <= wall.date() <= conference.ends_on
        state = evolve(state, event)
        for c in state.conferences:
            conferences[c.conference_id] = state.burst_timezone(c)
        if isinstance(event, BurstStarted | BurstEnded):
            assert event.conference_id in conferences
    assert fold(JourneyState(), events) == final, "the fold of the events is the state"
    # Continue-as-new carries the state as JSON.
    assert JourneyState.model_validate_json(final.model_dump_json()) == final
    adapter = TypeAdapter(list[Event])
    assert adapter.validate_json(adapter.dump_json(events)) == events, "events survive JSON"


def run_late_and_twice(
    program: ProgramSpec, enroll: Enroll, until: datetime, script: list[tuple[datetime, Command]], seed: int
) -> list[Event]:
    """The workflow loop with a sloppy clock: wake-ups up to two days late, each command delivered twice."""
    rng = random.Random(seed)
    script = sorted(script, key=lambda item: item[0])
    decision, state = decide_and_evolve(JourneyState(), enroll, enroll.start, program)
    events = list(decision.events)
    wake = decision.next_wake_up
    i = 0
    while True:
        command_at = script[i][0] if i < len(script) else None
        late = None
        if wake is not None and wake <= until:
            late = min(wake + timedelta(minutes=rng.choice([0, 0, 1, 90, 60 * 48])), until)
        if late is not None and (command_at is None or late < command_at):
            decision, state = decide_and_evolve(state, Tick(), late, program)
            events.extend(decision.events)
        elif command_at is not None and command_at <= until:
            command = script[i][1]
            decision, state = decide_and_evolve(state, command, command_at, program)
            events.extend(decision.events)
            again, state_again = decide_and_evolve(state, command, command_at, program)
            assert again.events == [] and state_again == state, "the same command twice changes nothing"
            i += 1
        else:
            return events
        wake = decision.next_wake_up


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_journeys_keep_their_promises(
    scenario: tuple[ProgramSpec, Enroll, datetime, list[tuple[datetime, Command]], int],
) -> None:
    program, enroll, until, script, seed = scenario
    final, events = simulate_state(program, enroll, until, script)
    check_invariants(program, enroll, events, final)
    # A workflow that wakes late and sees every update twice produces exactly the same events.
    assert run_late_and_twice(program, enroll, until, script, seed) == events
    # Without an unsubscribe the journey reaches its end with a recap, also when staff ended it early; a
    # pause that holds when the recap falls due holds it back until the pause ends.
    if not any(isinstance(c, Unsubscribe) for _, c in script):
        if final.completed_at is None:
            # Only a pause holds the end back (the recap may then fall due after the span simulated).
            upcoming = next_due(final, program)
            assert final.pauses or (upcoming is not None and upcoming.action is DueKind.PROGRAM_END)
        else:
            recap = events[-2]
            assert isinstance(recap, NudgeDue | NudgeSkipped) and recap.kind is NudgeKind.RECAP
            if isinstance(recap, NudgeSkipped):
                assert recap.reason in ("never_started", "quiet"), "a recap is never lost to a pause"
