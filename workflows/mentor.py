"""MentorWorkflow: one mentor of one cohort, durable. It wakes at the mentor's send slots (their local
send time, quiet hours in their zone) and lets an activity decide from Postgres whether the slot carries
the weekly digest, an amplify prompt, or nothing. Ids only: who the mentor is stays in Postgres."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.contract import MentorActivities, MentorInput, MentorSlotInput, NextMentorSlot

_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=10)
)
_TIMEOUT = timedelta(minutes=2)
# Slots per run: a run stays at a few hundred events.
_SLOTS_PER_RUN = 30
# With nothing planned (unsubscribed, everything off), look again this often: preferences can change.
_IDLE = timedelta(days=7)


@workflow.defn
class MentorWorkflow:
    def __init__(self) -> None:
        self._replan = False
        self._now: list[str] = []  # staff asked for these now (digest | amplify), in order

    @workflow.signal
    def send_now(self, kind: str) -> None:
        """Staff: send the digest (or a pending amplify prompt) now instead of at the next slot; still
        nothing when there is no news."""
        if kind in ("digest", "amplify"):
            self._now.append(kind)
            self._replan = True

    @workflow.signal
    def preferences_changed(self) -> None:
        """Staff or the mentor changed zone, send time, digest day or switches: plan the next slot again."""
        self._replan = True

    async def _wait(self, span: timedelta, summary: str) -> bool:
        """Sleep `span`; False when a preferences change cut it short."""
        self._replan = False
        try:
            await workflow.wait_condition(lambda: self._replan, timeout=span, timeout_summary=summary)
        except TimeoutError:
            return True
        return False

    @workflow.run
    async def run(self, data: MentorInput) -> MentorInput:
        wid = workflow.info().workflow_id
        done = data.slots_done
        for _ in range(_SLOTS_PER_RUN):
            ask = MentorSlotInput(
                workflow_id=wid, cohort_id=data.cohort_id, mentor_id=data.mentor_id, slot=workflow.now()
            )
            if self._now:  # staff asked for an email now
                ask = ask.model_copy(update={"force": self._now.pop(0)})
            else:
                nxt: NextMentorSlot = await workflow.execute_activity_method(
                    MentorActivities.next_slot,
                    ask,
                    start_to_close_timeout=_TIMEOUT,
                    retry_policy=_RETRY,
                    summary="next mentor slot",
                )
                if nxt.ended:
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    workflow.set_current_details(
                        f"**Mentor** `{data.mentor_id}` in cohort `{data.cohort_id}`: every mentee's journey "
                        "has ended"
                    )
                    return data.model_copy(update={"slots_done": done})
                if nxt.at is None:
                    await self._wait(_IDLE, "nothing planned: look again in a week")
                    continue
                wait = nxt.at - workflow.now()
                if wait > timedelta(0) and not await self._wait(
                    wait, f"next slot {nxt.at:%Y-%m-%d %H:%M} UTC"
                ):
                    continue  # preferences changed, or staff asked for an email now: plan again
                ask = ask.model_copy(update={"slot": nxt.at})
            why = f"{ask.force} asked by staff" if ask.force else "digest or amplify prompt if there is news"
            result = await workflow.execute_activity_method(
                MentorActivities.perform_slot,
                ask,
                start_to_close_timeout=_TIMEOUT,
                retry_policy=_RETRY,
                summary=f"mentor slot {ask.slot:%Y-%m-%d %H:%M} UTC: {why}",
            )
            done += 1
            if result.sent:
                workflow.set_current_details(
                    f"**Mentor** `{data.mentor_id}` in cohort `{data.cohort_id}`\n\n"
                    f"- **Last email:** {result.sent} ({result.status}) at {ask.slot:%Y-%m-%d %H:%M} UTC\n"
                    f"- **Slots:** {done}\n"
                )
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(data.model_copy(update={"slots_done": done}))
