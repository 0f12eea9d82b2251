"""The send ledger's final word on an email reaches the journey as `SettleEmail` -> `EmailSettled`: the
journey counts each email once, as the ledger says, whatever order the sender's report and the settlement
arrive in, on a running or an ended journey; the same word twice changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import (
    EmailNotSent,
    EmailSettled,
    JourneyState,
    NudgeDue,
    RecordEmailOutcome,
    RejectionCode,
    SettleEmail,
    Tick,
    Unsubscribe,
    decide_and_evolve,
    email_outcome_id,
    journey_view,
    validate,
)
from domain.commands import Command
from tests.domain.small_program import SMALL, START, enroll

WELCOME_AT = START + timedelta(days=1, hours=14)  # Tue 08:30 in New York
LATER = WELCOME_AT + timedelta(minutes=5)
OUTCOMES = ("sent", "failed", "suppressed", "uncertain")


def _welcome_due() -> tuple[JourneyState, NudgeDue]:
    _, state = decide_and_evolve(JourneyState(), enroll(personas=("consumer",)), START, SMALL)
    decision, state = decide_and_evolve(state, Tick(), WELCOME_AT, SMALL)
    [welcome] = [e for e in decision.events if isinstance(e, NudgeDue)]
    return state, welcome


def _report(welcome: NudgeDue, outcome: str = "uncertain") -> RecordEmailOutcome:
    return RecordEmailOutcome(
        command_id=email_outcome_id(welcome.nudge_key),
        nudge_id=welcome.nudge_id,
        kind=welcome.kind,
        nudge_key=welcome.nudge_key,
        outcome=outcome,
        reason="no reply to the end of the message",
    )


def _settle(welcome: NudgeDue, outcome: str, command_id: str = "staff-settle-1") -> SettleEmail:
    return SettleEmail(
        command_id=command_id,
        nudge_id=welcome.nudge_id,
        kind=welcome.kind,
        nudge_key=welcome.nudge_key,
        outcome=outcome,
        reason="resolved by staff",
    )


def test_staff_settling_an_uncertain_email_as_sent_counts_it_once() -> None:
    state, welcome = _welcome_due()
    state = decide_and_evolve(state, _report(welcome), LATER, SMALL)[1]
    assert state.sends == 0 and state.email_outcome(welcome.nudge_key) == "uncertain"
    decision, after = decide_and_evolve(state, _settle(welcome, "sent"), LATER, SMALL)
    [settled] = decision.events
    assert isinstance(settled, EmailSettled)
    assert (settled.nudge_key, settled.outcome, settled.command_id) == (
        welcome.nudge_key,
        "sent",
        "staff-settle-1",
    )
    assert after.sends == 1 and journey_view(after, SMALL).sends == 1
    assert after.last_activity == state.last_activity  # no sign of life from the participant
    # Delivered again (same intent): nothing; the same word under another id: refused, nothing changes.
    assert decide_and_evolve(after, _settle(welcome, "sent"), LATER, SMALL)[0].events == []
    again = validate(after, _settle(welcome, "sent", "staff-settle-2"), LATER, SMALL)
    assert again is not None and again.code is RejectionCode.EMAIL_SETTLED
    assert decide_and_evolve(after, _settle(welcome, "sent", "staff-settle-2"), LATER, SMALL)[1].sends == 1


def test_settled_not_sent_stays_uncounted_and_a_later_resend_counts_it() -> None:
    state, welcome = _welcome_due()
    state = decide_and_evolve(state, _report(welcome), LATER, SMALL)[1]
    failed = decide_and_evolve(state, _settle(welcome, "failed"), LATER, SMALL)[1]
    assert failed.sends == 0 and failed.email_outcome(welcome.nudge_key) == "failed"
    resent = decide_and_evolve(failed, _settle(welcome, "sent", "staff-resend-1"), LATER, SMALL)[1]
    assert resent.sends == 1 and resent.not_sent == {}


def test_a_settlement_that_overtakes_the_senders_report_is_not_undone_by_it() -> None:
    """The relay's late 250 settles the row while the retry's `uncertain` is still on its way to the
    journey: the report, arriving second, is refused and counts nothing."""
    state, welcome = _welcome_due()
    decision, state = decide_and_evolve(state, _settle(welcome, "sent", "relay-settle-1"), LATER, SMALL)
    assert [e.type for e in decision.events] == ["email_settled"] and state.sends == 1
    refused = validate(state, _report(welcome), LATER, SMALL)
    assert refused is not None and refused.code is RejectionCode.EMAIL_SETTLED
    decision, after = decide_and_evolve(state, _report(welcome), LATER, SMALL)
    assert decision.events == [] and after.sends == 1


def test_an_ended_journey_accepts_a_settlement_and_an_unknown_email_is_refused() -> None:
    state, welcome = _welcome_due()
    state = decide_and_evolve(state, _report(welcome), LATER, SMALL)[1]
    gone = decide_and_evolve(state, Unsubscribe(command_id="bye"), LATER, SMALL)[1]
    assert gone.finished
    assert validate(gone, _settle(welcome, "sent"), LATER, SMALL) is None
    assert decide_and_evolve(gone, _settle(welcome, "sent"), LATER, SMALL)[1].sends == 1
    unknown = _settle(welcome, "sent").model_copy(update={"nudge_id": "consumer-09", "nudge_key": "x"})
    refused = validate(gone, unknown, LATER, SMALL)
    assert refused is not None and refused.code is RejectionCode.UNKNOWN_EMAIL


@settings(max_examples=200, deadline=None)
@given(
    report=st.sampled_from(("failed", "suppressed", "uncertain", None)),
    words=st.lists(st.sampled_from(OUTCOMES), max_size=4),
    report_at=st.integers(min_value=0, max_value=4),
    repeat=st.booleans(),
)
def test_the_journey_counts_the_ledgers_last_word_once_in_any_order(
    report: str | None, words: list[str], report_at: int, repeat: bool
) -> None:
    """Property: whatever the sender reported and wherever its report falls among the ledger's
    settlements (each delivered once or twice), the email is counted as the last settlement says (the
    report only while nothing settled it), never twice."""
    state, welcome = _welcome_due()
    commands: list[Command] = [_settle(welcome, w, f"settle-{i}") for i, w in enumerate(words)]
    if repeat:
        commands = [c for c in commands for _ in (0, 1)]
    if report is not None:
        commands.insert(min(report_at, len(commands)), _report(welcome, report))
    at: datetime = LATER
    for command in commands:
        state = decide_and_evolve(state, command, at, SMALL)[1]
        at += timedelta(seconds=1)
    # A report before any settlement is overridden by it; one after a settlement is refused.
    expected = words[-1] if words else (report or "sent")
    assert state.email_outcome(welcome.nudge_key) == expected
    assert state.sends == (1 if expected == "sent" else 0)
    assert journey_view(state, SMALL).sends == state.sends


def test_settlements_are_events_with_their_own_id_and_no_email_not_sent_after_one() -> None:
    state, welcome = _welcome_due()
    decision, state = decide_and_evolve(state, _settle(welcome, "failed", "relay-x"), LATER, SMALL)
    assert [e.id for e in decision.events] == [f"{state.journey_id}/relay-x/0"]
    decision, _ = decide_and_evolve(state, _report(welcome), LATER, SMALL)
    assert not any(isinstance(e, EmailNotSent) for e in decision.events)
