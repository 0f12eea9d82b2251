"""A welcome whose instant had passed when the journey enrolled (a slow launch, a busy worker running the
journey's first task late) goes as soon as it may, never a send day later; a journey enrolled in time
whose first wake-up comes late still sends it stamped at its own instant."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from domain import (
    Event,
    JourneyState,
    NudgeDue,
    NudgeKind,
    Schedule,
    Tick,
    decide_and_evolve,
    enrol,
    simulate,
)
from domain.program import QuietHours
from domain.timing import WEEKDAYS, in_quiet_hours, local_datetime, next_slot, resolve_local
from tests.domain.small_program import SMALL, START, enroll

NY = "America/New_York"
# START is Monday 09:00 in New York; the small program sends on Tuesdays and Thursdays at 08:30, is quiet
# 21:00-07:00 and on Sundays.
TUESDAY_SLOT = datetime(2026, 1, 6, 13, 30, tzinfo=UTC)


def sends(events: list[Event]) -> list[NudgeDue]:
    return [e for e in events if isinstance(e, NudgeDue)]


def local(e: Event) -> str:
    return local_datetime(e.at, NY).strftime("%a %m-%d %H:%M:%S")


def test_a_welcome_the_launch_reaches_seconds_after_its_slot_goes_at_once() -> None:
    enrolled_at = TUESDAY_SLOT + timedelta(seconds=5)
    events = simulate(SMALL, enroll(), START + timedelta(weeks=2), enrolled_at=enrolled_at)
    welcome, *rest = sends(events)
    assert welcome.kind is NudgeKind.WELCOME and welcome.at == enrolled_at  # not Thursday 08:30
    # Every later email keeps the participant's days and time.
    assert rest and all(local(s)[:3] in ("Tue", "Thu") and local(s)[-8:] == "08:30:00" for s in rest)


def test_a_demo_welcome_whose_enrolment_came_after_its_instant_goes_at_once() -> None:
    first = datetime(2026, 1, 5, 17, 3, 20, tzinfo=UTC)  # Monday 12:03:20 in New York
    late = first + timedelta(seconds=5)
    (welcome, *_) = sends(
        simulate(SMALL, enroll(first_send_at=first), START + timedelta(weeks=1), enrolled_at=late)
    )
    assert welcome.kind is NudgeKind.WELCOME and welcome.at == late  # not Tuesday 08:30


def test_a_late_welcome_in_quiet_hours_goes_at_the_send_time_of_the_next_day_that_is_not_quiet() -> None:
    # Tuesday 23:00 (quiet hours): Wednesday 08:30, though Wednesday is no send day.
    tuesday_night = datetime(2026, 1, 7, 4, 0, tzinfo=UTC)
    (welcome, *_) = sends(simulate(SMALL, enroll(), START + timedelta(weeks=1), enrolled_at=tuesday_night))
    assert local(welcome) == "Wed 01-07 08:30:00"
    # Saturday 23:00: Sunday is a quiet day, so Monday 08:30.
    saturday_night = datetime(2026, 1, 11, 4, 0, tzinfo=UTC)
    (welcome, *_) = sends(simulate(SMALL, enroll(), START + timedelta(weeks=2), enrolled_at=saturday_night))
    assert local(welcome) == "Mon 01-12 08:30:00"


def test_a_journey_enrolled_in_time_whose_first_wake_up_is_late_stamps_the_welcome_at_its_instant() -> None:
    first = datetime(2026, 1, 5, 17, 3, 20, tzinfo=UTC)
    decision, state = enrol(enroll(first_send_at=first), [], first - timedelta(seconds=30), SMALL)
    assert decision.next_wake_up == first and not sends(decision.events)
    late, _ = decide_and_evolve(state, Tick(), first + timedelta(seconds=5), SMALL)
    (welcome,) = sends(late.events)
    assert welcome.kind is NudgeKind.WELCOME and welcome.at == first


def test_an_enrolment_at_the_welcome_instant_sends_it_and_so_does_one_a_moment_later() -> None:
    # The launch finds the welcome due at once and leaves the enrolment to the journey's first task, which
    # runs later: both must send it then.
    for at in (TUESDAY_SLOT, TUESDAY_SLOT + timedelta(seconds=2)):
        decision, _ = enrol(enroll(), [], at, SMALL)
        (welcome,) = sends(decision.events)
        assert welcome.at == at


QUIET = [None, QuietHours(start=time(21), end=time(7)), QuietHours(start=time(22, 30), end=time(6))]
ZONES = ["America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "Pacific/Auckland", "UTC"]


@settings(max_examples=300, deadline=None)
@given(
    quiet=st.sampled_from(QUIET),
    quiet_days=st.lists(st.sampled_from(WEEKDAYS), max_size=2, unique=True),
    send_days=st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=4, unique=True),
    send_time=st.sampled_from([time(h, m) for h in range(24) for m in (0, 30)]),
    zone=st.sampled_from(ZONES),
    delay=st.integers(0, 10 * 24 * 3600),
    demo=st.none() | st.integers(0, 3 * 24 * 3600),
)
def test_the_welcome_goes_at_its_slot_or_at_the_first_usable_moment_after_a_late_enrolment(
    quiet: QuietHours | None,
    quiet_days: list[str],
    send_days: list[str],
    send_time: time,
    zone: str,
    delay: int,
    demo: int | None,
) -> None:
    # What validation refuses: a send time in quiet hours, a send day that is a quiet day.
    assume(quiet is None or not quiet.contains(send_time))
    assume(not set(send_days) & set(quiet_days))
    schedule = SMALL.schedule.model_copy(
        update={"quiet_hours": quiet, "quiet_days": tuple(quiet_days), "weekly_cap": 2}
    )
    program = SMALL.model_copy(update={"schedule": Schedule.model_validate(schedule.model_dump())})
    first = None if demo is None else START + timedelta(seconds=demo)
    command = enroll(zone, send_days=send_days, send_time=send_time, first_send_at=first)
    enrolled_at = START + timedelta(seconds=delay)
    decision, state = decide_and_evolve(JourneyState(), command, enrolled_at, program)
    events = list(decision.events)
    wake = decision.next_wake_up
    while wake is not None and not any(isinstance(e, NudgeDue) for e in events):
        decision, state = decide_and_evolve(state, Tick(), wake, program)
        events.extend(decision.events)
        wake = decision.next_wake_up
    (welcome, *_) = [s for s in sends(events) if s.kind is NudgeKind.WELCOME]
    wall = local_datetime(welcome.at, zone)

    def usable(instant: datetime) -> bool:
        here = local_datetime(instant, zone)
        return WEEKDAYS[here.weekday()] not in quiet_days and not in_quiet_hours(
            here.time(), program.schedule.quiet_start, program.schedule.quiet_end
        )

    assert welcome.at >= enrolled_at, "never before the enrolment"
    assert usable(welcome.at), "never in quiet hours or on a quiet day"
    slot = next_slot(
        START,
        tz=zone,
        send_days=send_days,
        send_time=send_time,
        quiet_days=quiet_days,
        quiet_start=program.schedule.quiet_start,
        quiet_end=program.schedule.quiet_end,
        inclusive=True,
    )
    due = first if first is not None and usable(first) else slot
    assert due is not None
    if due >= enrolled_at:
        assert welcome.at == due, "in time: at its own instant"
    elif usable(enrolled_at):
        assert welcome.at == enrolled_at, "missed: at once"
    else:
        # Missed in a quiet time: the send time of the first day that is not quiet, within two days.
        assert welcome.at == resolve_local(wall.date(), send_time, zone)
        assert welcome.at - enrolled_at < timedelta(days=3)
