"""SMTP faults at journey level (time-skipping server, real worker, Postgres and SMTP conversations).

A 4xx is retried until the server accepts: one email, nothing lost. A 5xx ends that send as failed and
the journey goes on to its next email.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiosmtpd.smtp import SMTP
from temporalio.testing import WorkflowEnvironment

from activities.launch import journey_input, start_journey
from domain.timing import start_of_local_day
from infra.program_files import load_program
from infra.settings import load_settings
from store.cohorts import ParticipantRecord, read_enrolees, save_cohort, save_participants
from worker.devstack import free_port
from worker.devstack.mailsink import _StoreHandler
from worker.main import build_worker
from workflows.journey import JourneyWorkflow

PROGRAM = load_program(Path(__file__).resolve().parents[2] / "programs" / "medtwitter")
TZ = "Europe/Berlin"


class ScriptedSmtp(_StoreHandler):
    """Answers RCPT with the scripted replies first (None: accept), then accepts and stores."""

    def __init__(self, mail_dir: Path, replies: list[str | None]) -> None:
        super().__init__(mail_dir)
        self.replies = replies
        self.rcpt_calls = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.rcpt_calls += 1
        reply = self.replies.pop(0) if self.replies else None
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
async def scripted_smtp(tmp_path: Path) -> AsyncIterator[tuple[ScriptedSmtp, int]]:
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    handler = ScriptedSmtp(mail_dir, [])
    port = free_port()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler, hostname="scripted"), host="127.0.0.1", port=port
    )
    yield handler, port
    server.close()
    await server.wait_closed()


async def _run_first_week(
    env: WorkflowEnvironment, database: str, port: int, tmp_path: Path
) -> list[asyncpg.Record]:
    """Launch one journey, let its first week pass, and return its ledger rows."""
    settings = load_settings(
        state_dir=tmp_path / "state",
        database_url=database,
        smtp_port=port,
        metrics_port=0,
        task_queue=f"faults-{uuid.uuid4().hex[:8]}",
    )
    pool = await asyncpg.create_pool(database, min_size=1, max_size=5)
    try:
        now = await env.get_current_time()
        today = now.astimezone(ZoneInfo(TZ)).date()
        start = today + timedelta(days=7 - today.weekday())  # next Monday: welcome Tue, first track Thu
        cohort = f"c{uuid.uuid4().hex[:8]}"  # journeys share the session's server: ids must not repeat
        await save_cohort(pool, cohort, PROGRAM, start)
        await save_participants(
            pool,
            cohort,
            [
                ParticipantRecord(
                    participant_id="p",
                    name="Lea Vogel",
                    email="lea@example.org",
                    timezone=TZ,
                    send_days=["tue", "thu"],
                    send_time=time(8, 30),
                    personas=["consumer"],
                )
            ],
        )
        (row,) = await read_enrolees(pool, cohort)
        data = journey_input(cohort, row, PROGRAM.spec, start)
        async with build_worker(env.client, pool, settings):
            assert await start_journey(env.client, settings.task_queue, data)
            handle = env.client.get_workflow_handle(data.enroll.journey_id)
            await env.sleep(_until(now, start + timedelta(days=4)))  # past Thursday's send
            _WATCHED["view"] = await handle.query(JourneyWorkflow.view)
            await handle.terminate("test done")
        _WATCHED["events"] = await pool.fetch(
            "select type, payload from journey_events where workflow_id = $1 order by seq", handle.id
        )
        return list(await pool.fetch("select * from send_ledger order by scheduled_at"))
    finally:
        await pool.close()


# What the last `_run_first_week` saw of the journey: its view (as `participant show` reads it) and the
# events it recorded.
_WATCHED: dict[str, Any] = {}


def _until(now: datetime, day: date) -> timedelta:
    return start_of_local_day(day, TZ) - now


async def test_4xx_is_retried_until_accepted_once(
    time_skipping_env: WorkflowEnvironment,
    database: str,
    scripted_smtp: tuple[ScriptedSmtp, int],
    tmp_path: Path,
) -> None:
    handler, port = scripted_smtp
    handler.replies = ["451 4.7.1 greylisted, try later"] * 3
    ledger = await _run_first_week(time_skipping_env, database, port, tmp_path)
    assert [(r["kind"], r["status"]) for r in ledger] == [("welcome", "sent"), ("track", "sent")]
    assert ledger[0]["attempts"] == 4
    assert len(list(handler.mail_dir.glob("*.eml"))) == 2


async def test_5xx_fails_that_send_and_the_journey_goes_on(
    time_skipping_env: WorkflowEnvironment,
    database: str,
    scripted_smtp: tuple[ScriptedSmtp, int],
    tmp_path: Path,
) -> None:
    handler, port = scripted_smtp
    handler.replies = ["550 5.1.1 no such mailbox"]
    ledger = await _run_first_week(time_skipping_env, database, port, tmp_path)
    assert [(r["kind"], r["status"]) for r in ledger] == [("welcome", "failed"), ("track", "sent")]
    assert "550" in ledger[0]["error"] and ledger[0]["attempts"] == 1
    assert len(list(handler.mail_dir.glob("*.eml"))) == 1
    # The journey records what happened: the welcome fell due and did not go; only the track email counts.
    types = [r["type"] for r in _WATCHED["events"]]
    assert types.count("nudge_due") == 2 and "nudge_sent" not in types
    [refused] = [json.loads(r["payload"]) for r in _WATCHED["events"] if r["type"] == "email_not_sent"]
    assert refused["nudge_key"] == ledger[0]["nudge_key"] and refused["outcome"] == "failed"
    assert "550" in refused["reason"] and "lea@example.org" not in refused["reason"]
    assert _WATCHED["view"].sends == 1


async def test_worker_replaced_mid_journey_loses_and_repeats_nothing(
    time_skipping_env: WorkflowEnvironment,
    database: str,
    scripted_smtp: tuple[ScriptedSmtp, int],
    tmp_path: Path,
) -> None:
    """A worker that goes away (deploy, crash) and a fresh one that replays from history: same emails."""
    env = time_skipping_env
    handler, port = scripted_smtp
    settings = load_settings(
        state_dir=tmp_path / "state",
        database_url=database,
        smtp_port=port,
        metrics_port=0,
        task_queue=f"faults-{uuid.uuid4().hex[:8]}",
    )
    pool = await asyncpg.create_pool(database, min_size=1, max_size=5)
    try:
        now = await env.get_current_time()
        today = now.astimezone(ZoneInfo(TZ)).date()
        start = today + timedelta(days=7 - today.weekday())
        cohort = f"c{uuid.uuid4().hex[:8]}"
        await save_cohort(pool, cohort, PROGRAM, start)
        await save_participants(
            pool,
            cohort,
            [
                ParticipantRecord(
                    participant_id="p",
                    name="Lea Vogel",
                    email="lea@example.org",
                    timezone=TZ,
                    send_days=["tue", "thu"],
                    send_time=time(8, 30),
                    personas=["consumer"],
                )
            ],
        )
        (row,) = await read_enrolees(pool, cohort)
        data = journey_input(cohort, row, PROGRAM.spec, start)
        handle = env.client.get_workflow_handle(data.enroll.journey_id)
        # The first worker keeps no sticky cache, so the test server hands the journey straight to the
        # next worker instead of waiting out the sticky queue's timeout on a frozen clock.
        first = settings.model_copy(update={"max_cached_workflows": 0})
        async with build_worker(env.client, pool, first):
            assert await start_journey(env.client, settings.task_queue, data)
            await env.sleep(_until(now, start + timedelta(days=4)))
        # A fresh worker has nothing cached: it rebuilds the journey by replaying its history.
        async with build_worker(env.client, pool, settings):
            await env.sleep(_until(await env.get_current_time(), start + timedelta(weeks=3)))
            await handle.terminate("test done")
        ledger = await pool.fetch(
            "select nudge_key, status from send_ledger where workflow_id = $1 order by scheduled_at",
            handle.id,
        )
    finally:
        await pool.close()
    assert [r["status"] for r in ledger] == ["sent"] * len(ledger)
    # At most two emails in any seven days, the welcome counted; consumer-03 and -04 wait for weeks 2 and 3.
    assert len(ledger) == 5, [r["nudge_key"] for r in ledger]
    assert len(list(handler.mail_dir.glob("*.eml"))) == len(ledger)
    assert handler.rcpt_calls == len(ledger)


REPLY_550 = "550 5.1.1 <lea@example.org>: Recipient address rejected: User unknown in virtual alias table"


async def test_smtp_replies_naming_the_address_stay_in_postgres(
    time_skipping_env: WorkflowEnvironment,
    database: str,
    scripted_smtp: tuple[ScriptedSmtp, int],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 451 then a 550 that name the recipient: the full replies in the ledger row; in the journey's
    history (activity results and failures) and the worker's log only `<address>`."""
    handler, port = scripted_smtp
    handler.replies = [
        "451 4.2.0 <lea@example.org>: Recipient address rejected: greylisted",
        REPLY_550,
    ]
    caplog.set_level(logging.DEBUG)
    ledger = await _run_first_week(time_skipping_env, database, port, tmp_path)
    assert [(r["kind"], r["status"]) for r in ledger] == [("welcome", "failed"), ("track", "sent")]
    assert ledger[0]["error"] == REPLY_550
    # Every run of the journey (it continues as new), newest first.
    raw, run_id = b"", ""
    while True:
        handle = time_skipping_env.client.get_workflow_handle(ledger[0]["workflow_id"], run_id=run_id or None)
        history = await handle.fetch_history()
        # Payloads sit in the serialized events as they are (the JSON form would base64 them).
        raw += b"".join(event.SerializeToString() for event in history.events)
        started = history.events[0].workflow_execution_started_event_attributes
        if not (run_id := started.continued_execution_run_id):
            break
    assert b"User unknown" in raw  # the 550 is there, redacted
    assert b"lea@example.org" not in raw and b"lea@" not in raw
    # The worker's log: everything but the scripted relay's own (aiosmtpd's "mail.log").
    worker_records = [r for r in caplog.records if not r.name.startswith("mail.log")]
    formatter = logging.Formatter()
    logged = "".join(formatter.format(r) + repr(vars(r)) for r in worker_records)
    assert "greylisted" in logged and "User unknown" in logged  # the worker logged both replies...
    assert "lea@example.org" not in logged  # ...without the address
