from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from domain import (
    AddConference,
    AdoptPersona,
    BurstEnded,
    BurstStarted,
    Command,
    Completed,
    DormancyEnded,
    DormancyStarted,
    EmailNotSent,
    Event,
    JourneyState,
    Mode,
    NudgeDue,
    NudgeKind,
    Pause,
    Persona,
    PersonaSuggested,
    RecordEmailOutcome,
    RecordMilestone,
    RejectionCode,
    Resume,
    Tick,
    Unsubscribe,
    decide,
    decide_and_evolve,
    email_outcome_id,
    fold,
    journey_view,
    simulate,
    simulate_state,
    validate,
)
from domain.timing import local_datetime
from tests.domain.small_program import SMALL, START, enroll

NY = "America/New_York"


def reason(*args: Any) -> str | None:
    """The domain's message for a rejection (its code is checked in test_rejection_codes)."""
    refused = validate(*args)
    return refused.message if refused is not None else None


def sends(events: list[Event]) -> list[NudgeDue]:
    return [e for e in events if isinstance(e, NudgeDue)]


def local(e: Event, tz: str = NY) -> str:
    return local_datetime(e.at, tz).strftime("%a %Y-%m-%d %H:%M")


def enrolled_state(**kwargs: object) -> JourneyState:
    _, state = decide_and_evolve(JourneyState(), enroll(**kwargs), START, SMALL)  # type: ignore[arg-type]
    return state


def test_welcome_at_first_slot_then_track_at_send_slots_within_cap() -> None:
    events = simulate(SMALL, enroll(personas=("consumer", "creator")), START + timedelta(weeks=3))
    sent = sends(events)
    assert [(s.nudge_id, local(s)) for s in sent[:5]] == [
        ("welcome", "Tue 2026-01-06 08:30"),
        ("consumer-01", "Thu 2026-01-08 08:30"),
        ("creator-01", "Tue 2026-01-13 08:30"),
        ("consumer-02", "Thu 2026-01-15 08:30"),
        ("creator-02", "Tue 2026-01-20 08:30"),
    ]
    assert len({s.nudge_key for s in sent}) == len(sent)


def test_twittermittent_lowers_the_weekly_cap_between_bursts() -> None:
    events = simulate(SMALL, enroll(personas=("consumer", "twittermittent")), START + timedelta(weeks=4))
    track = [s for s in sends(events) if s.kind is NudgeKind.TRACK]
    weeks = [local_datetime(s.at, NY).isocalendar()[1] for s in track]
    assert len(weeks) == len(set(weeks)) >= 3  # one a week


def test_suggestion_after_milestones_offers_the_persona_without_forcing_it() -> None:
    t1 = START + timedelta(days=1)
    script = [
        (t1, RecordMilestone(command_id="m1", milestone_id="followed_ten")),
        (t1 + timedelta(hours=1), RecordMilestone(command_id="m2", milestone_id="followed_institution")),
    ]
    state, events = simulate_state(SMALL, enroll(), START + timedelta(weeks=3), script)
    suggested = [e for e in events if isinstance(e, PersonaSuggested)]
    assert [(s.persona, s.command_id) for s in suggested] == [(Persona.CREATOR, "m2")]
    offer = next(s for s in sends(events) if s.at > suggested[0].at and s.kind is NudgeKind.TRACK)
    # The nudge that offers the persona jumps the queue (consumer-03 before consumer-01).
    assert (offer.nudge_id, local(offer)) == ("consumer-03", "Thu 2026-01-08 08:30")
    assert SMALL.nudge(offer.nudge_id).suggests is Persona.CREATOR
    assert state.personas == (Persona.CONSUMER,)
    assert journey_view(state, SMALL).suggested_personas == [Persona.CREATOR]


def test_planned_pause_sends_nothing_and_resumes_the_cadence() -> None:
    paused_at = START + timedelta(days=8)
    until = START + timedelta(days=22, hours=5)
    script = [(paused_at, Pause(command_id="snooze", until=until))]
    events = simulate(SMALL, enroll(), START + timedelta(weeks=5), script)
    assert not [s for s in sends(events) if paused_at <= s.at < until]
    after = [s for s in sends(events) if s.at >= until]
    assert local(after[0]) == "Thu 2026-01-29 08:30"  # the first slot after the pause ends
    types = [e.type for e in events]
    assert types.index("paused") < types.index("dormancy_started") < types.index("resumed")


def test_a_silent_reader_keeps_the_track_at_a_gentler_pace_and_a_click_restores_it() -> None:
    # Reading without clicking is not dormancy: after four weeks without a click the track goes on at one
    # email every two weeks (the program's `silent_every_weeks`), and a click brings back the normal pace
    # with a welcome-back.
    back = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)
    script = [(back, RecordMilestone(command_id="back", milestone_id="first_post"))]
    events = simulate(
        SMALL, enroll(personas=("consumer", "creator", "amplifier")), START + timedelta(weeks=13), script
    )
    slowed = next(e for e in events if isinstance(e, DormancyStarted))
    assert slowed.kind == "detected" and slowed.at == START + timedelta(weeks=4)
    after = [(s.nudge_id, local(s)) for s in sends(events) if s.at > slowed.at]
    assert after == [
        ("creator-03", "Thu 2026-02-12 08:30"),  # two weeks after the last email (Thu 01-29) ...
        ("amplifier-03", "Thu 2026-02-26 08:30"),  # ... and two more: the track goes on, slower
        ("welcome_back", "Thu 2026-03-12 08:30"),  # the click on Tue 03-10 restores the pace
        ("consumer-04", "Tue 2026-03-17 08:30"),
        ("creator-04", "Thu 2026-03-19 08:30"),
        ("amplifier-04", "Tue 2026-03-24 08:30"),
        ("consumer-05", "Thu 2026-03-26 08:30"),
        ("recap", "Tue 2026-03-31 08:30"),
    ]
    ended = next(e for e in events if isinstance(e, DormancyEnded))
    assert ended.at == back and ended.command_id == "back"


SUNSET_SOON = SMALL.model_copy(
    update={"schedule": SMALL.schedule.model_copy(update={"sunset_after_weeks": 6, "sunset_wait_weeks": 2})}
)


def test_a_long_silence_asks_once_whether_to_keep_writing_and_yes_keeps_going() -> None:
    from domain import KeepGoing

    answered = datetime(2026, 2, 20, 18, 0, tzinfo=UTC)
    script = [(answered, KeepGoing(command_id="yes"))]
    events = simulate(
        SUNSET_SOON, enroll(personas=("consumer", "creator")), START + timedelta(weeks=13), script
    )
    (sunset,) = [s for s in sends(events) if s.kind is NudgeKind.SUNSET]
    assert local(sunset) == "Tue 2026-02-17 08:30"  # the first slot six weeks after enrolment
    assert [e.type for e in events if e.at == answered] == ["dormancy_ended", "kept_going"]
    assert not any(isinstance(e, DormancyStarted) and e.kind == "quiet" for e in events)
    after = [s.kind for s in sends(events) if s.at > answered]
    assert after[0] is NudgeKind.WELCOME_BACK and NudgeKind.TRACK in after and after[-1] is NudgeKind.RECAP


def test_no_answer_to_the_sunset_email_goes_quiet_until_the_participant_acts() -> None:
    acts = datetime(2026, 3, 12, 18, 0, tzinfo=UTC)
    script = [(acts, RecordMilestone(command_id="m", milestone_id="followed_ten"))]
    final, events = simulate_state(
        SUNSET_SOON, enroll(personas=("consumer", "creator")), START + timedelta(weeks=13), script
    )
    (sunset,) = [s for s in sends(events) if s.kind is NudgeKind.SUNSET]
    quiet = next(e for e in events if isinstance(e, DormancyStarted) and e.kind == "quiet")
    assert quiet.at == sunset.at + timedelta(weeks=2)
    assert not [s for s in sends(events) if quiet.at < s.at < acts], "no email while quiet"
    state = fold(JourneyState(), [e for e in events if e.at <= quiet.at])
    assert state.mode is Mode.QUIET and journey_view(state, SUNSET_SOON).next_nudge_at is None
    woke = [e for e in events if e.at == acts]
    assert [(e.type, getattr(e, "kind", None)) for e in woke[:2]] == [
        ("dormancy_ended", "quiet"),
        ("dormancy_ended", "detected"),
    ]
    assert next(s.kind for s in sends(events) if s.at > acts) is NudgeKind.WELCOME_BACK
    assert final.completed_at is not None


def test_check_ins_never_repeat_a_text() -> None:
    # Nobody holds a track with notes left (one persona, its track done quickly): check-ins keep in touch,
    # each with a new text, and stop when the texts run out rather than repeat one.
    events = simulate(SMALL, enroll(personas=("mission",)), START + timedelta(weeks=13))
    checkins = [s.nudge_id for s in sends(events) if s.kind is NudgeKind.CHECKIN]
    assert checkins == ["checkin", "checkin-2"]


def test_conference_burst_then_the_previous_cadence() -> None:
    added = START + timedelta(days=1)
    conference = AddConference(
        command_id="conf",
        conference_id="acc26",
        name="ACC.26",
        hashtag="#ACC26",
        starts_on=date(2026, 2, 7),
        ends_on=date(2026, 2, 10),
        timezone="America/Chicago",
    )
    active = (START + timedelta(days=23), RecordMilestone(command_id="m", milestone_id="followed_ten"))
    events = simulate(
        SMALL,
        enroll(personas=("consumer", "creator", "amplifier")),
        START + timedelta(weeks=8),
        [(added, conference), active],
    )
    burst = [s for s in sends(events) if s.conference_id == "acc26"]
    chicago = [(s.kind.value, local(s, "America/Chicago")) for s in burst]
    assert chicago == [
        ("burst_prep", "Mon 2026-02-02 07:30"),  # still at home: 08:30 New York
        ("burst_daily", "Sat 2026-02-07 08:30"),
        # Sunday is a quiet day, even during a conference.
        ("burst_daily", "Mon 2026-02-09 08:30"),
        ("burst_daily", "Tue 2026-02-10 08:30"),
        ("burst_recap", "Thu 2026-02-12 07:30"),  # the participant's first slot after: 08:30 New York
    ]
    start = next(e for e in events if isinstance(e, BurstStarted))
    end = next(e for e in events if isinstance(e, BurstEnded))
    track = [s for s in sends(events) if s.kind is NudgeKind.TRACK]
    assert not [s for s in track if start.at <= s.at <= end.at]

    def pattern(items: list[NudgeDue]) -> set[tuple[str, str]]:
        return {(local(s)[:3], local(s)[-5:]) for s in items}

    before = [s for s in track if s.at < start.at]
    after = [s for s in track if s.at > end.at]
    assert pattern(before) == pattern(after) == {("Tue", "08:30"), ("Thu", "08:30")}


def test_unsubscribe_is_final() -> None:
    t = START + timedelta(days=9)
    script: list[tuple[datetime, Command]] = [
        (t, Unsubscribe(command_id="bye")),
        (t + timedelta(days=1), RecordMilestone(command_id="late", milestone_id="followed_ten")),
    ]
    state, events = simulate_state(SMALL, enroll(), START + timedelta(weeks=20), script)
    assert events[-1].type == "unsubscribed"
    assert state.mode is Mode.UNSUBSCRIBED
    assert decide(state, Tick(), START + timedelta(weeks=30), SMALL).next_wake_up is None
    assert reason(state, Resume(command_id="r"), t + timedelta(days=2), SMALL) == "already unsubscribed"


def test_program_end_recap_then_completed() -> None:
    script = [(START + timedelta(days=3), RecordMilestone(command_id="m1", milestone_id="followed_ten"))]
    state, events = simulate_state(SMALL, enroll(), START + timedelta(weeks=20), script)
    recap, completed = events[-2:]
    assert isinstance(recap, NudgeDue) and recap.kind is NudgeKind.RECAP
    assert isinstance(completed, Completed) and completed.at == recap.at
    assert recap.at >= START + timedelta(weeks=SMALL.duration_weeks)
    assert list(state.milestones) == ["followed_ten"]  # what the recap email lists
    assert state.mode is Mode.COMPLETED


def test_same_command_twice_changes_nothing() -> None:
    state = enrolled_state()
    now = START + timedelta(days=3)
    command = AdoptPersona(command_id="adopt-1", persona=Persona.AMPLIFIER)
    first, state = decide_and_evolve(state, command, now, SMALL)
    assert [e.type for e in first.events][-1] == "persona_adopted"
    again, state2 = decide_and_evolve(state, command, now, SMALL)
    assert again.events == [] and state2 == state
    assert reason(state, command, now, SMALL) is None  # accepted: a no-op, not an error
    assert decide(state, enroll(), now, SMALL).events == []


def test_late_wake_ups_produce_the_same_events() -> None:
    state = enrolled_state()
    punctual = simulate(SMALL, enroll(), START + timedelta(weeks=6))
    # Wake up a day late every time (and once not at all for a week): same events, same instants.
    late_events: list[Event] = list(decide(JourneyState(), enroll(), START, SMALL).events)
    now = START
    while now < START + timedelta(weeks=6):
        now += timedelta(days=1, minutes=7)
        decision, state = decide_and_evolve(state, Tick(), min(now, START + timedelta(weeks=6)), SMALL)
        late_events.extend(decision.events)
    assert late_events == punctual


def test_validate_rejections_read_well() -> None:
    state = enrolled_state()
    now = START + timedelta(days=2)
    conf = {"command_id": "c", "conference_id": "x", "name": "X", "starts_on": date(2026, 2, 3)}
    cases: list[tuple[Command, str]] = [
        (
            RecordMilestone(command_id="a", milestone_id="ghost"),
            "unknown milestone 'ghost' (valid: followed_ten, followed_institution, first_post)",
        ),
        (AdoptPersona(command_id="b", persona=Persona.CONSUMER), "persona 'consumer' is already held"),
        (Pause(command_id="c", until=now - timedelta(hours=1)), "the pause would end in the past"),
        (Resume(command_id="d"), "the journey is not paused by the participant"),
        (AddConference(ends_on=date(2026, 2, 1), **conf), "the conference ends before it starts"),
        (AddConference(ends_on=date(2027, 2, 1), **conf), "a conference lasts at most 31 days"),
    ]
    for command, expected in cases:
        assert reason(state, command, now, SMALL) == expected
    past = AddConference(
        command_id="p", conference_id="p", name="P", starts_on=date(2025, 5, 1), ends_on=date(2025, 5, 2)
    )
    assert reason(state, past, now, SMALL) == "the conference is in the past"
    assert reason(JourneyState(), Resume(command_id="z"), now, SMALL) == "the journey is not enrolled"
    assert reason(JourneyState(), enroll(send_time="23:00"), now, SMALL) == (
        "send_time: 23:00 is inside the quiet hours 21:00-07:00"
    )
    assert reason(JourneyState(), enroll(timezone="Mars/Base"), now, SMALL) == "unknown time zone 'Mars/Base'"
    done = simulate_state(SMALL, enroll(), START + timedelta(weeks=20))[0]
    later = START + timedelta(weeks=20)
    assert reason(done, Resume(command_id="y"), later, SMALL) == "the journey has completed"


def test_view_shows_next_nudge_pause_and_bursts() -> None:
    state = enrolled_state(personas=("consumer",))
    view = journey_view(state, SMALL)
    assert view.mode is Mode.ACTIVE
    assert (view.next_nudge_id, view.next_nudge_at) == ("welcome", datetime(2026, 1, 6, 13, 30, tzinfo=UTC))
    until = START + timedelta(days=20)
    state = fold(
        state, decide(state, Pause(command_id="p", until=until), START + timedelta(hours=1), SMALL).events
    )
    view = journey_view(state, SMALL)
    assert view.mode is Mode.PAUSED and view.paused_until == until
    assert view.next_nudge_at is not None and view.next_nudge_at > until


def test_enroll_with_own_send_days_and_time() -> None:
    events = simulate(SMALL, enroll(send_days=["mon", "fri"], send_time="12:15"), START + timedelta(weeks=2))
    assert {local(s)[:3] for s in sends(events)} == {"Mon", "Fri"}
    assert {local_datetime(s.at, NY).time() for s in sends(events)} == {time(12, 15)}


def test_rejections_carry_a_code_callers_map() -> None:
    state = enrolled_state()
    now = START + timedelta(days=2)
    conf = {"command_id": "c", "name": "X", "starts_on": date(2026, 2, 3), "ends_on": date(2026, 2, 4)}
    added = decide_and_evolve(state, AddConference(conference_id="x", **conf), now, SMALL)[1]
    cases: list[tuple[JourneyState, Command, RejectionCode]] = [
        (state, RecordMilestone(command_id="a", milestone_id="ghost"), RejectionCode.UNKNOWN_MILESTONE),
        (state, AdoptPersona(command_id="b", persona=Persona.CONSUMER), RejectionCode.PERSONA_HELD),
        (state, Resume(command_id="d"), RejectionCode.NOT_PAUSED),
        (
            added,
            AddConference(conference_id="x", **(conf | {"command_id": "c2"})),
            RejectionCode.CONFERENCE_ADDED,
        ),
        (
            added,
            AddConference(conference_id="y", **(conf | {"command_id": "c3"})),
            RejectionCode.CONFERENCE_OVERLAP,
        ),
        (JourneyState(), Resume(command_id="z"), RejectionCode.NOT_ENROLLED),
    ]
    for before, command, code in cases:
        refused = validate(before, command, now, SMALL)
        assert refused is not None and refused.code is code, (command, refused)


def test_an_email_that_did_not_go_is_an_event_of_its_own_and_not_counted_as_sent() -> None:
    """The nudge fell due (NudgeDue stays); the sender's outcome follows as EmailNotSent, once, whatever the
    journey's state by then, and the journey counts only what went. It is no sign of life."""
    state = enrolled_state(personas=("consumer",))
    welcome_at = START + timedelta(days=1, hours=14)  # Tue 08:30 in New York
    decision, state = decide_and_evolve(state, Tick(), welcome_at, SMALL)
    [welcome] = sends(decision.events)
    assert state.sends == 1
    outcome = RecordEmailOutcome(
        command_id=email_outcome_id(welcome.nudge_key),
        nudge_id=welcome.nudge_id,
        kind=welcome.kind,
        nudge_key=welcome.nudge_key,
        outcome="failed",
        reason="550 5.1.1 mailbox unavailable",
    )
    later = welcome_at + timedelta(seconds=3)
    unsubscribed = decide_and_evolve(state, Unsubscribe(command_id="u"), later, SMALL)[1]
    settled: list[JourneyState] = []
    for before in (state, unsubscribed):
        decision, after = decide_and_evolve(before, outcome, later, SMALL)
        settled.append(after)
        [refused] = decision.events
        assert isinstance(refused, EmailNotSent)
        assert (refused.nudge_key, refused.outcome, refused.reason) == (
            welcome.nudge_key,
            "failed",
            "550 5.1.1 mailbox unavailable",
        )
        assert after.sends == 0 and journey_view(after, SMALL).sends == 0
        assert after.last_activity == before.last_activity
        # Reported twice (a replayed or repeated report): nothing more.
        again, _ = decide_and_evolve(after, outcome, later, SMALL)
        assert again.events == []
    # The schedule goes on as if it had gone: the next track email is the first one.
    decision, _ = decide_and_evolve(settled[0], Tick(), START + timedelta(days=3, hours=14), SMALL)
    assert [s.nudge_id for s in sends(decision.events)] == ["consumer-01"]


def test_resubscribe_on_a_running_journey_is_recorded_by_consent_id_and_refused_once_unsubscribed() -> None:
    from domain import Resubscribe, Resubscribed

    state = enrolled_state(personas=("consumer",))
    at = START + timedelta(days=3)
    command = Resubscribe(command_id="again", consent_id="consent-1")
    decision, after = decide_and_evolve(state, command, at, SMALL)
    assert [e for e in decision.events if isinstance(e, Resubscribed)] == [
        Resubscribed(id=f"{state.journey_id}/again/0", consent_id="consent-1", at=at, command_id="again")
    ]
    assert after.mode is not Mode.UNSUBSCRIBED and not after.finished
    # The same command again adds nothing; once the unsubscribe reached the journey, it has ended.
    assert decide(after, command, at, SMALL).events == []
    gone = decide_and_evolve(state, Unsubscribe(command_id="bye"), at, SMALL)[1]
    refused = validate(gone, Resubscribe(command_id="late", consent_id="c2"), at, SMALL)
    assert refused is not None and refused.code is RejectionCode.UNSUBSCRIBED


def test_a_mentors_amplification_is_an_event_of_the_mentees_journey_once() -> None:
    from domain import MentorAmplified, RecordAmplified

    state = enrolled_state(personas=("consumer",))
    at = START + timedelta(days=3)
    milestone = SMALL.milestones[0].id
    command = RecordAmplified(command_id="mentor-m1-amplified", mentor_id="m1", milestone_id=milestone)
    decision, after = decide_and_evolve(state, command, at, SMALL)
    assert [e for e in decision.events if isinstance(e, MentorAmplified)] == [
        MentorAmplified(
            id=f"{state.journey_id}/mentor-m1-amplified/0",
            mentor_id="m1",
            milestone_id=milestone,
            at=at,
            command_id="mentor-m1-amplified",
        )
    ]
    # The same link again adds nothing; a milestone the program does not have is refused with its code.
    assert decide(after, command, at, SMALL).events == []
    unknown = RecordAmplified(command_id="x", mentor_id="m1", milestone_id="no_such_milestone")
    refused = validate(state, unknown, at, SMALL)
    assert refused is not None and refused.code is RejectionCode.UNKNOWN_MILESTONE
