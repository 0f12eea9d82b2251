"""The journey's record follows the send ledger's final word: an email the relay left `uncertain` counts as
not sent until staff settle it (`mail resolve`, `mail resend`) or the relay's late reply does; then
`participant show`, the journey's view and the cohort report count it as the ledger says, once, on a
running journey and on one that has ended. Real dev server (real time), worker, Postgres, CLI and a
scripted relay."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiosmtpd.smtp import SMTP
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.launch import cohort_inputs, launch_journeys
from activities.send_nudge import send_nudge
from benchmarks.fanout import burst_program
from infra.settings import Settings
from store.cohort_report import cohort_report
from store.cohorts import ParticipantRecord, save_roster
from store.programs import ProgramCache
from tests.cli.stack import cli
from tests.journey.test_send_handover import FaultySmtp
from worker.devstack import free_port
from worker.main import build_worker, run_worker
from workflows.contract import JourneyInput, SendNudgeInput, SendStatus
from workflows.journey import JourneyWorkflow

WAIT = 60.0


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[FaultySmtp]:
    mail_dir = tmp_path / "relay"
    mail_dir.mkdir()
    handler = FaultySmtp(mail_dir)
    port = free_port()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler, hostname="scripted"), host="127.0.0.1", port=port
    )
    handler.port = port  # type: ignore[attr-defined]
    yield handler
    server.close()


async def _drop(server: Any) -> str | None:
    server.transport.abort()  # the message is stored; the reply never comes
    return None


async def _launch(pool: asyncpg.Pool, settings: Settings, client: Any) -> JourneyInput:
    """One participant whose welcome falls due in a few seconds."""
    program = burst_program()
    due = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    cohort = f"st{uuid.uuid4().hex[:6]}"
    participant = ParticipantRecord(
        participant_id="p",
        name="Ines Duarte",
        email="ines@example.org",
        timezone="UTC",
        send_days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        send_time=time(9),
    )
    await save_roster(pool, cohort, program, due.date(), [participant])
    [data] = await cohort_inputs(pool, cohort, program.spec, due.date(), first_send_at=due)
    await launch_journeys(pool, client, settings.task_queue, [data], datetime.now(UTC))
    return data


async def _until(what: Callable[[], Awaitable[Any]], seconds: float = WAIT) -> Any:
    """Poll until `what()` is truthy (the journey works in real time); its value."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await what()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.2)


async def _recorded_uncertain(pool: asyncpg.Pool, data: JourneyInput) -> int:
    """Wait for the ledger's `uncertain` row and the journey's `email_not_sent`; the row's id."""
    wid = data.enroll.journey_id

    async def recorded() -> Any:
        return await pool.fetchval(
            """
            select l.id from send_ledger l where l.workflow_id = $1 and l.status = 'uncertain' and exists
                (select 1 from journey_events e where e.workflow_id = $1 and e.type = 'email_not_sent')
            """,
            wid,
        )

    row_id: int = await _until(recorded)
    return row_id


async def _shown(settings: Settings, tmp_path: Path, data: JourneyInput) -> dict[str, Any]:
    shown = await cli(
        settings, "participant", "show", "p", "--cohort", data.cohort_id, "--json", cwd=tmp_path
    )
    assert shown.returncode == 0, shown.stderr
    result: dict[str, Any] = json.loads(shown.stdout)
    return result


def _settlements(shown: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (e["detail"]["outcome"], e["by"])
        for e in shown["participant"]["events"]
        if e["type"] == "email_settled"
    ]


async def test_staff_resolving_an_uncertain_email_as_sent_is_counted_by_the_journey_once(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    database: str,
    relay: FaultySmtp,
    tmp_path: Path,
) -> None:
    relay.after_data = _drop
    settings = settings.model_copy(update={"smtp_port": relay.port})  # type: ignore[attr-defined]
    pool = await asyncpg.create_pool(database, min_size=1, max_size=4)
    try:
        async with build_worker(temporal_env.client, pool, settings):
            data = await _launch(pool, settings, temporal_env.client)
            row_id = await _recorded_uncertain(pool, data)
            before = await _shown(settings, tmp_path, data)
            assert before["journey"]["sends"] == 0 and before["participant"]["emails_sent"] == 0

            resolved = await cli(settings, "mail", "resolve", str(row_id), "--sent", "--json", cwd=tmp_path)
            assert resolved.returncode == 0, resolved.stderr
            said = json.loads(resolved.stdout)
            assert (said["status"], said["journey"]) == ("sent", "the journey records it")

            after = await _shown(settings, tmp_path, data)
            handle = temporal_env.client.get_workflow_handle(data.enroll.journey_id)
            live = await handle.query(JourneyWorkflow.view)
            report = await cohort_report(pool, data.cohort_id, now=datetime.now(UTC))
            await handle.terminate("test done")
    finally:
        await pool.close()
    assert relay.stored() == 1
    assert live.sends == 1 and after["journey"]["sends"] == 1 and after["participant"]["emails_sent"] == 1
    assert _settlements(after) == [("sent", "staff")]
    assert report is not None and [p.emails_sent for p in report.people] == [1]


async def test_a_resend_that_goes_is_recorded_sent_and_an_ended_journey_takes_staffs_word(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    database: str,
    relay: FaultySmtp,
    tmp_path: Path,
) -> None:
    """Two journeys: one whose uncertain welcome staff send again (it goes: sent, counted once), one that
    ended (unsubscribed) before staff resolved its welcome as sent: its record in Postgres takes it."""
    relay.after_data = _drop
    settings = settings.model_copy(update={"smtp_port": relay.port})  # type: ignore[attr-defined]
    pool = await asyncpg.create_pool(database, min_size=1, max_size=4)
    try:
        async with build_worker(temporal_env.client, pool, settings):
            resent = await _launch(pool, settings, temporal_env.client)
            resent_row = await _recorded_uncertain(pool, resent)
            ended = await _launch(pool, settings, temporal_env.client)
            ended_row = await _recorded_uncertain(pool, ended)
            relay.after_data = None

            again = await cli(settings, "mail", "resend", str(resent_row), "--yes", cwd=tmp_path)
            assert again.returncode == 0, again.stderr
            assert "sent" in again.stderr and "the journey records it" in again.stderr
            shown_resent = await _shown(settings, tmp_path, resent)

            gone = await cli(
                settings, "participant", "unsubscribe", "p", "--cohort", ended.cohort_id, cwd=tmp_path
            )
            assert gone.returncode == 0, gone.stderr
            handle = temporal_env.client.get_workflow_handle(ended.enroll.journey_id)
            await handle.result()
            assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED
            resolved = await cli(settings, "mail", "resolve", str(ended_row), "--sent", cwd=tmp_path)
            assert resolved.returncode == 0, resolved.stderr
            assert "the journey records it" in resolved.stderr
            shown_ended = await _shown(settings, tmp_path, ended)
            # The same word again changes nothing: the ledger refuses it, and so would the journey.
            twice = await cli(settings, "mail", "resolve", str(ended_row), "--sent", cwd=tmp_path)
            assert twice.returncode != 0 and "only an uncertain email" in twice.stderr
            await temporal_env.client.get_workflow_handle(resent.enroll.journey_id).terminate("test done")
    finally:
        await pool.close()
    assert relay.stored() == 3  # two welcomes, and staff's explicit second copy of one
    assert shown_resent["journey"]["sends"] == 1 and shown_resent["participant"]["emails_sent"] == 1
    assert _settlements(shown_resent) == [("sent", "staff")]
    assert shown_ended["journey"]["sends"] == 1 and shown_ended["participant"]["emails_sent"] == 1
    assert _settlements(shown_ended) == [("sent", "staff")]
    assert shown_ended["participant"]["mode"] == "unsubscribed"


async def test_the_relays_late_reply_to_an_attempt_given_up_on_reaches_the_journey(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    database: str,
    relay: FaultySmtp,
    tmp_path: Path,
) -> None:
    """An attempt hands the message over and waits for the reply (Temporal has given up on it: here it
    runs outside the worker); the journey's own attempt finds the mark and records `uncertain`; then the
    relay's 250 reaches the first attempt, which settles the row `sent`. The journey ends up counting it
    sent, once, as the ledger says."""
    reply = asyncio.Event()

    async def hold(server: Any) -> str | None:
        await reply.wait()
        return None

    relay.after_data = hold
    settings = settings.model_copy(update={"smtp_port": relay.port})  # type: ignore[attr-defined]
    pool = await asyncpg.create_pool(database, min_size=1, max_size=4)
    stop = asyncio.Event()
    # The worker process as deployed, with no web app: it delivers the journeys' pending intents itself.
    worker = asyncio.create_task(
        run_worker(settings, stop=stop, client=temporal_env.client, retry_every=timedelta(seconds=0.2))
    )
    try:
        data = await _launch(pool, settings, temporal_env.client)
        wid = data.enroll.journey_id
        welcome = SendNudgeInput(
            workflow_id=wid,
            cohort_id=data.cohort_id,
            participant_id="p",
            nudge_id="welcome",
            nudge_key="welcome",
            kind="welcome",
            scheduled_at=data.enroll.first_send_at or datetime.now(UTC),
        )
        first = asyncio.create_task(send_nudge(settings, pool, ProgramCache(), welcome))
        await _until(
            lambda: pool.fetchval("select handed_over_at from send_ledger where workflow_id = $1", wid)
        )
        await _recorded_uncertain(pool, data)
        reply.set()
        result = await asyncio.wait_for(first, WAIT)
        assert result.status is SendStatus.SENT
        applied = await _until(
            lambda: pool.fetchval(
                "select count(*) from participant_intents where workflow_id = $1 and status = 'applied'",
                wid,
            )
        )
        handle = temporal_env.client.get_workflow_handle(wid)
        live = await handle.query(JourneyWorkflow.view)
        shown = await _shown(settings, tmp_path, data)
        await handle.terminate("test done")
        ledger = await pool.fetchval("select status from send_ledger where workflow_id = $1", wid)
    finally:
        stop.set()
        await worker
        await pool.close()
    assert relay.stored() == 1
    assert ledger == "sent" and applied == 1
    assert live.sends == 1 and shown["participant"]["emails_sent"] == 1
    assert _settlements(shown) == [("sent", "relay")]
