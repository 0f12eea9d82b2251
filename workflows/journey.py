"""JourneyWorkflow: one participant's journey, a thin durable interpreter of the domain decider.

It holds the state, turns timer ticks and updates into `decide` calls, folds the events with `evolve`,
performs each decision (its emails, then the record of its events) in one activity, and sleeps until
the next wake-up.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    # `import pkg.mod`, not `from pkg import mod`: the latter re-imports the module in every sandbox.
    import workflows.search_attributes as sa
    from domain import (
        AddConference,
        AdoptPersona,
        ChangeConference,
        ChangeSchedule,
        Command,
        DropPersona,
        EndProgram,
        Event,
        JourneyView,
        KeepGoing,
        NudgeDue,
        Pause,
        RecordAmplified,
        RecordEmailOutcome,
        RecordMilestone,
        RemoveConference,
        Resubscribe,
        Resume,
        SettleEmail,
        SteerCommand,
        Tick,
        Unsubscribe,
        decide_and_evolve,
        email_outcome_id,
        enrol,
        journey_view,
        next_wake_up,
        shared_spec,
        validate,
    )
    from workflows.contract import (
        AppendEventsInput,
        ConferenceInfo,
        JourneyActivities,
        JourneyInput,
        PerformDecisionInput,
        SendNudgeInput,
        SendStatus,
        append_input,
        journey_id,
    )

# Transient faults (SMTP 4xx, Postgres restart) retry until they pass. Attempts are not capped here: each
# email's retries end within MENTORFLOW_SEND_RETRY_BUDGET (the activity then settles it `failed`), and the
# decision's events must reach the store however long Postgres is away.
_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=10)
)
# The activity heartbeats every third of this: a worker that dies mid-send has its emails retried
# (the ledger deciding whether they may go) within seconds, not after the start-to-close timeout.
_HEARTBEAT = timedelta(seconds=15)
# Bounds an attempt that still heartbeats: RFC 5321's timeouts for one SMTP conversation add up to 30
# minutes (10 for the reply to the message alone), and a settle waits out a Postgres restart.
_TIMEOUT = timedelta(hours=1)
# A program month: runs are cut at least this often so a history never grows past a few hundred events.
_RUN_SPAN = timedelta(days=30)
_MAX_RUN_EVENTS = 1_500


def decision_summary(events: list[Event]) -> str:
    """What an operator reads on the activity: its emails, then the events it records by name, e.g.
    "email consumer-02; record nudge due, dormancy started"."""
    emails = ", ".join(f"email {e.nudge_id}" for e in events if isinstance(e, NudgeDue))
    names = ", ".join(dict.fromkeys(e.type.replace("_", " ") for e in events))
    return f"{emails}; record {names}" if emails else f"record {names}"


@workflow.defn
class JourneyWorkflow:
    @workflow.init
    def __init__(self, data: JourneyInput) -> None:
        program = shared_spec(data.program)
        self._input = data.model_copy(update={"program": program})
        self._events_folded = data.events_folded
        self._lock = asyncio.Lock()
        # Enrol at once, so an update that arrives with the start (a roster conference) already finds the
        # journey enrolled; run() performs the enrolment's events before any update's.
        self._enrolment: list[Event] = []
        if data.state is None:
            decision, self._state = enrol(data.enroll, data.conferences, workflow.now(), program)
            self._enrolment, self._wake = list(decision.events), decision.next_wake_up
        else:
            self._state, self._wake = data.state, next_wake_up(data.state, program)
        self._run_started = workflow.now()
        self._search_attributes: sa.Values = {}

    # ---- the loop -------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, data: JourneyInput) -> JourneyView:
        if not self._enrolment and self._state.enrolled:
            # Started enrolled (by a launch, or continued as new): operators see where it stands at once.
            # Details are no command, so this changes no history; the attributes were set at the start.
            self._show_details(self._view())
        if self._enrolment:
            async with self._lock:
                await self._settle(await self._perform(self._enrolment))
            self._enrolment = []
        if not self._state.enrolled:
            # The enrolment was refused (say the program already ended): nothing will ever be due.
            workflow.logger.warning("journey not enrolled; closing", extra={"cohort": self._input.cohort_id})
            return self._view()
        while not self._state.finished:
            if self._should_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    self._input.model_copy(
                        update={
                            "state": self._state,
                            "events_folded": self._events_folded,
                        }
                    )
                )
            wake = self._wake
            # Wake at the next due instant, or at the run's end to continue as new; an update that changes
            # the plan (a pause, a conference) ends the wait early.
            run_end = self._run_started + _RUN_SPAN
            until = run_end if wake is None else min(wake, run_end)
            timeout = max(until - workflow.now(), timedelta(seconds=1))
            try:
                await workflow.wait_condition(
                    lambda wake=wake: self._wake != wake or self._state.finished,  # type: ignore[misc]
                    timeout=timeout,
                    timeout_summary=self._waiting_for(self._view()),
                )
            except TimeoutError:
                if wake is not None and workflow.now() >= wake:
                    await self._apply(Tick())
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view()

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > _MAX_RUN_EVENTS
            or workflow.now() - self._run_started >= _RUN_SPAN
        )

    async def _apply(self, command: Command) -> None:
        """Decide and fold, then perform: sends first, then the append, so the store never runs ahead."""
        async with self._lock:
            await self._settle(await self._decide_and_perform(command))

    async def _decide_and_perform(self, command: Command) -> list[RecordEmailOutcome]:
        decision, self._state = decide_and_evolve(self._state, command, workflow.now(), self._input.program)
        self._wake = decision.next_wake_up
        return await self._perform(decision.events)

    async def _settle(self, outcomes: list[RecordEmailOutcome]) -> None:
        """Each email that did not go becomes an event of its own (so the journey counts only what went);
        a decision it leads to (something fell due meanwhile) may have outcomes of its own."""
        while outcomes:
            outcomes = outcomes[1:] + await self._decide_and_perform(outcomes[0])

    async def _perform(self, events: list[Event]) -> list[RecordEmailOutcome]:
        """Send the decision's emails and record its events; what became of each email that did not go."""
        if not events:
            return []
        self._events_folded += len(events)
        due = [e for e in events if isinstance(e, NudgeDue)]
        sends = [self._send_input(e) for e in due]
        record = self._append_input(events)
        result = await workflow.execute_activity_method(
            JourneyActivities.perform_decision,
            PerformDecisionInput(sends=sends, record=record),
            start_to_close_timeout=_TIMEOUT,
            heartbeat_timeout=_HEARTBEAT,
            retry_policy=_RETRY,
            summary=decision_summary(events),
        )
        self._publish()
        return [
            RecordEmailOutcome(
                command_id=email_outcome_id(event.nudge_key),
                nudge_id=event.nudge_id,
                kind=event.kind,
                nudge_key=event.nudge_key,
                outcome=sent.status.value,
                reason=sent.detail,
            )
            for event, sent in zip(due, result.sends, strict=True)
            if sent.status is not SendStatus.SENT
        ]

    def _send_input(self, event: NudgeDue) -> SendNudgeInput:
        conference = None
        conf = self._state.conference(event.conference_id) if event.conference_id else None
        if conf is not None:
            conference = ConferenceInfo(
                name=conf.name, hashtag=conf.hashtag, starts_on=conf.starts_on, ends_on=conf.ends_on
            )
        return SendNudgeInput(
            workflow_id=workflow.info().workflow_id,
            cohort_id=self._input.cohort_id,
            participant_id=self._input.participant_id,
            nudge_id=event.nudge_id,
            nudge_key=event.nudge_key,
            kind=event.kind,
            scheduled_at=event.at,
            personas=[p.value for p in self._state.personas],
            achieved=list(self._state.milestones),
            conference=conference,
            weeks_left=max((self._state.ends_at - event.at).days // 7, 0) if self._state.ends_at else 0,
            ended_early=self._state.ended_early_at is not None,
        )

    def _append_input(self, events: list[Event]) -> AppendEventsInput:
        ids = (workflow.info().workflow_id, self._input.cohort_id, self._input.participant_id)
        return append_input(ids, events, self._state, self._input.program, self._events_folded)

    # ---- what operators see ---------------------------------------------------------------------------

    def _view(self) -> JourneyView:
        return journey_view(self._state, self._input.program)

    def _waiting_for(self, view: JourneyView) -> str:
        if view.next_nudge_at is None:
            return f"{view.mode.value}: nothing scheduled"
        what = view.next_nudge_id or "wake-up"
        return f"{view.mode.value}: next email {what} at {view.next_nudge_at:%Y-%m-%d %H:%M} UTC"

    def _publish(self) -> None:
        view = self._view()  # once per decision: the attributes and the details both read it
        current = sa.journey_values(self._input.cohort_id, self._input.program.name, view)
        if current != self._search_attributes:  # upsert only when something changed
            workflow.upsert_search_attributes(sa.updates(current))
            self._search_attributes = current
        self._show_details(view)

    def _show_details(self, view: JourneyView) -> None:
        milestones = ", ".join(self._state.milestones) or "none yet"
        workflow.set_current_details(
            f"**Participant** `{self._input.participant_id}` in cohort `{self._input.cohort_id}` "
            f"({self._input.program.name})\n\n"
            f"- **Mode:** {view.mode.value}\n"
            f"- **Personas:** {', '.join(p.value for p in view.personas) or 'none'}\n"
            f"- **Milestones:** {milestones}\n"
            f"- **Emails sent:** {view.sends}\n"
            + (f"- **Ended:** {self._ending()}\n" if self._ending() else "")
            + f"- **Waiting for:** {self._waiting_for(view)}\n"
        )

    def _ending(self) -> str:
        """How the journey ended (or is ending): unsubscribed is told apart from completing the program."""
        state = self._state
        early = (
            f" (program ended early by staff on {state.ended_early_at:%Y-%m-%d})"
            if state.ended_early_at
            else ""
        )
        if state.unsubscribed_at is not None:
            return f"unsubscribed on {state.unsubscribed_at:%Y-%m-%d %H:%M} UTC"
        if state.completed_at is not None:
            return f"completed on {state.completed_at:%Y-%m-%d %H:%M} UTC{early}"
        if state.ended_early_at is not None:
            return f"ending: the recap goes at the next send slot{early}"
        return ""

    # ---- updates and query ----------------------------------------------------------------------------

    async def _update(self, command: Command) -> JourneyView:
        # The enrolment's events reach the store before anything an update adds.
        await workflow.wait_condition(lambda: not self._enrolment)
        await self._apply(command)
        return self._view()

    def _validate(self, command: Command) -> None:
        refused = validate(self._state, command, workflow.now(), self._input.program)
        if refused is not None:
            # The type carries the domain's code to the caller (`steering` reads it back).
            raise ApplicationError(refused.message, type=refused.code.value, non_retryable=True)

    @workflow.update
    async def record_milestone(self, command: RecordMilestone) -> JourneyView:
        return await self._update(command)

    @record_milestone.validator
    def _v_record_milestone(self, command: RecordMilestone) -> None:
        self._validate(command)

    @workflow.update
    async def adopt_persona(self, command: AdoptPersona) -> JourneyView:
        return await self._update(command)

    @adopt_persona.validator
    def _v_adopt_persona(self, command: AdoptPersona) -> None:
        self._validate(command)

    @workflow.update
    async def drop_persona(self, command: DropPersona) -> JourneyView:
        return await self._update(command)

    @drop_persona.validator
    def _v_drop_persona(self, command: DropPersona) -> None:
        self._validate(command)

    @workflow.update
    async def pause(self, command: Pause) -> JourneyView:
        return await self._update(command)

    @pause.validator
    def _v_pause(self, command: Pause) -> None:
        self._validate(command)

    @workflow.update
    async def resume(self, command: Resume) -> JourneyView:
        return await self._update(command)

    @resume.validator
    def _v_resume(self, command: Resume) -> None:
        self._validate(command)

    @workflow.update
    async def keep_going(self, command: KeepGoing) -> JourneyView:
        return await self._update(command)

    @keep_going.validator
    def _v_keep_going(self, command: KeepGoing) -> None:
        self._validate(command)

    @workflow.update
    async def add_conference(self, command: AddConference) -> JourneyView:
        return await self._update(command)

    @add_conference.validator
    def _v_add_conference(self, command: AddConference) -> None:
        self._validate(command)

    @workflow.update
    async def remove_conference(self, command: RemoveConference) -> JourneyView:
        return await self._update(command)

    @remove_conference.validator
    def _v_remove_conference(self, command: RemoveConference) -> None:
        self._validate(command)

    @workflow.update
    async def change_conference(self, command: ChangeConference) -> JourneyView:
        return await self._update(command)

    @change_conference.validator
    def _v_change_conference(self, command: ChangeConference) -> None:
        self._validate(command)

    @workflow.update
    async def unsubscribe(self, command: Unsubscribe) -> JourneyView:
        return await self._update(command)

    @unsubscribe.validator
    def _v_unsubscribe(self, command: Unsubscribe) -> None:
        self._validate(command)

    @workflow.update
    async def resubscribe(self, command: Resubscribe) -> JourneyView:
        return await self._update(command)

    @resubscribe.validator
    def _v_resubscribe(self, command: Resubscribe) -> None:
        self._validate(command)

    @workflow.update
    async def record_amplified(self, command: RecordAmplified) -> JourneyView:
        return await self._update(command)

    @record_amplified.validator
    def _v_record_amplified(self, command: RecordAmplified) -> None:
        self._validate(command)

    @workflow.update
    async def change_schedule(self, command: ChangeSchedule) -> JourneyView:
        return await self._update(command)

    @change_schedule.validator
    def _v_change_schedule(self, command: ChangeSchedule) -> None:
        self._validate(command)

    @workflow.update
    async def end_program(self, command: EndProgram) -> JourneyView:
        return await self._update(command)

    @end_program.validator
    def _v_end_program(self, command: EndProgram) -> None:
        self._validate(command)

    @workflow.update
    async def settle_email(self, command: SettleEmail) -> JourneyView:
        return await self._update(command)

    @settle_email.validator
    def _v_settle_email(self, command: SettleEmail) -> None:
        self._validate(command)

    @workflow.query
    def view(self) -> JourneyView:
        return self._view()


# The one place a command chooses its update: `handle.execute_update(JOURNEY_UPDATES[type(c)], c)`.
JourneyUpdate = workflow.UpdateMethodMultiParam[[JourneyWorkflow, Any], JourneyView]
JOURNEY_UPDATES: dict[type[SteerCommand], JourneyUpdate] = {
    RecordMilestone: JourneyWorkflow.record_milestone,
    AdoptPersona: JourneyWorkflow.adopt_persona,
    DropPersona: JourneyWorkflow.drop_persona,
    Pause: JourneyWorkflow.pause,
    Resume: JourneyWorkflow.resume,
    KeepGoing: JourneyWorkflow.keep_going,
    AddConference: JourneyWorkflow.add_conference,
    RemoveConference: JourneyWorkflow.remove_conference,
    ChangeConference: JourneyWorkflow.change_conference,
    Unsubscribe: JourneyWorkflow.unsubscribe,
    Resubscribe: JourneyWorkflow.resubscribe,
    RecordAmplified: JourneyWorkflow.record_amplified,
    ChangeSchedule: JourneyWorkflow.change_schedule,
    EndProgram: JourneyWorkflow.end_program,
    SettleEmail: JourneyWorkflow.settle_email,
}

__all__ = ["JOURNEY_UPDATES", "JourneyInput", "JourneyWorkflow", "journey_id"]
