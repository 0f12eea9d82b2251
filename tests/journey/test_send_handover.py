"""At most one copy, always: the send activity against scripted SMTP servers (aiosmtpd) that fail at or
after the point of no return, and a Postgres that goes away while the relay is taking the message.

Each test retries the send the way Temporal's retry policy would (a raised error is attempted again) and
counts what the relay stored.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiosmtpd.smtp import SMTP

from activities.mailer import TransientSmtpError
from activities.send_nudge import send_nudge
from activities.smtp_pool import SmtpPool
from cli.errors import EXIT_INVALID
from infra.migrations import DEFAULT_MIGRATIONS_DIR, migrate
from infra.program_files import load_program
from infra.settings import Settings
from store.cohorts import ParticipantRecord, save_cohort, save_participants
from store.programs import ProgramCache
from tests.foundation.clirun import run_cli
from worker.devstack import EmbeddedPostgres, free_port
from worker.devstack.mailsink import _StoreHandler
from workflows.contract import SendNudgeInput, SendNudgeResult, SendStatus

PROGRAM_DIR = Path(__file__).resolve().parents[2] / "programs" / "medtwitter"
WORKFLOW_ID = "journey-c1~p1"


class FaultySmtp(_StoreHandler):
    """Stores each message at the end of DATA, then does what `after_data` scripts (None: replies 250).

    `rcpt`: scripted replies to RCPT (None: accept), used one per attempt.
    """

    def __init__(self, mail_dir: Path) -> None:
        super().__init__(mail_dir)
        self.after_data: Callable[[Any], Awaitable[str | None]] | None = None
        self.rcpt: list[str | None] = []
        self.data_calls = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        reply = self.rcpt.pop(0) if self.rcpt else None
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_calls += 1
        await asyncio.to_thread(self._store, envelope.original_content or envelope.content)
        if self.after_data is not None:
            reply = await self.after_data(server)
            if reply is not None:
                return reply
        return "250 Message accepted for delivery"

    def stored(self) -> int:
        return len(list(self.mail_dir.glob("*.eml")))


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[tuple[FaultySmtp, int]]:
    mail_dir = tmp_path / "relay"
    mail_dir.mkdir()
    handler = FaultySmtp(mail_dir)
    port = free_port()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler, hostname="faulty"), host="127.0.0.1", port=port
    )
    yield handler, port
    server.close()


async def _cohort(pool: asyncpg.Pool) -> None:
    await save_cohort(pool, "c1", load_program(PROGRAM_DIR), datetime(2026, 12, 1).date())
    await save_participants(
        pool,
        "c1",
        [
            ParticipantRecord(
                participant_id="p1",
                name="Ada Okafor",
                email="ada@example.org",
                timezone="America/New_York",
                send_days=["tue", "thu"],
                send_time=time(8, 30),
            )
        ],
    )


def _input() -> SendNudgeInput:
    return SendNudgeInput(
        workflow_id=WORKFLOW_ID,
        cohort_id="c1",
        participant_id="p1",
        nudge_id="welcome",
        nudge_key="welcome",
        kind="welcome",
        scheduled_at=datetime(2026, 12, 1, 13, 30, tzinfo=UTC),
    )


async def _row(pool: asyncpg.Pool) -> asyncpg.Record:
    row = await pool.fetchrow(
        "select * from send_ledger where workflow_id = $1 and nudge_key = $2", WORKFLOW_ID, "welcome"
    )
    assert row is not None
    return row


async def _with_retries(
    settings: Settings, pool: asyncpg.Pool, smtp: SmtpPool | None = None, attempts: int = 4
) -> SendNudgeResult | None:
    """Attempt the send as Temporal would: again after each raised error, up to `attempts` times."""
    for _ in range(attempts):
        try:
            return await send_nudge(settings, pool, ProgramCache(), _input(), smtp=smtp)
        except Exception:
            await asyncio.sleep(0.05)
    return None


async def _drop(server: Any) -> str | None:
    server.transport.abort()  # the message is stored; the reply never comes
    return None


@pytest.mark.parametrize("pooled", [False, True], ids=["own connection", "pooled"])
async def test_connection_dropped_after_data_is_uncertain_and_sent_once(
    settings: Settings, db_pool: asyncpg.Pool, relay: tuple[FaultySmtp, int], pooled: bool
) -> None:
    handler, port = relay
    handler.after_data = _drop
    settings = settings.model_copy(update={"smtp_port": port})
    smtp = SmtpPool(settings) if pooled else None
    await _cohort(db_pool)
    try:
        result = await _with_retries(settings, db_pool, smtp)
    finally:
        if smtp is not None:
            await smtp.close()
    assert handler.stored() == 1
    assert result is not None and result.status is SendStatus.UNCERTAIN
    row = await _row(db_pool)
    assert row["status"] == "uncertain" and "no reply to the end of the message" in row["error"]
    assert row["handed_over_at"] is not None


async def test_reply_to_the_message_slower_than_the_client_timeout_is_uncertain_and_sent_once(
    settings: Settings, db_pool: asyncpg.Pool, relay: tuple[FaultySmtp, int]
) -> None:
    handler, port = relay

    async def slow(server: Any) -> str | None:
        await asyncio.sleep(1.5)
        return None

    handler.after_data = slow
    settings = settings.model_copy(update={"smtp_port": port, "smtp_data_end_timeout_seconds": 0.5})
    await _cohort(db_pool)
    result = await _with_retries(settings, db_pool)
    await asyncio.sleep(1.5)  # let the relay's last reply go out
    assert handler.stored() == 1
    assert result is not None and result.status is SendStatus.UNCERTAIN
    assert (await _row(db_pool))["status"] == "uncertain"


async def test_attempt_killed_after_the_handover_is_never_sent_again(
    settings: Settings, db_pool: asyncpg.Pool, relay: tuple[FaultySmtp, int]
) -> None:
    """The worker dies (here: its task is cancelled) while the relay holds the message: the next attempt
    finds the point of no return and says so instead of sending."""
    handler, port = relay
    stored = asyncio.Event()

    async def hang(server: Any) -> str | None:
        stored.set()
        await asyncio.sleep(3600)
        return None

    handler.after_data = hang
    settings = settings.model_copy(update={"smtp_port": port})
    await _cohort(db_pool)
    first = asyncio.create_task(send_nudge(settings, db_pool, ProgramCache(), _input()))
    await asyncio.wait_for(stored.wait(), 10)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    handler.after_data = None
    result = await _with_retries(settings, db_pool)
    assert handler.stored() == 1
    assert result is not None and result.status is SendStatus.UNCERTAIN
    row = await _row(db_pool)
    assert row["status"] == "uncertain" and "ended without recording a reply" in row["error"]
    assert row["attempts"] == 2


async def test_refusal_of_the_message_itself_is_definite_and_retried_freely(
    settings: Settings, db_pool: asyncpg.Pool, relay: tuple[FaultySmtp, int]
) -> None:
    """A 451 to the end of DATA is the relay's word that it kept nothing: not uncertain, sent later."""
    handler, port = relay
    replies = ["451 4.3.0 queue full, try later"]

    async def refuse_once(server: Any) -> str | None:
        if replies:
            for path in handler.mail_dir.glob("*.eml"):  # it did not keep it
                path.unlink()
            return replies.pop()
        return None

    handler.after_data = refuse_once
    settings = settings.model_copy(update={"smtp_port": port})
    await _cohort(db_pool)
    with pytest.raises(TransientSmtpError, match="451"):
        await send_nudge(settings, db_pool, ProgramCache(), _input())
    row = await _row(db_pool)
    assert row["status"] == "sending" and "451" in row["error"] and row["handed_over_at"] is None
    result = await send_nudge(settings, db_pool, ProgramCache(), _input())
    assert result.status is SendStatus.SENT and handler.stored() == 1


async def test_transient_faults_end_in_failed_after_the_retry_budget(
    settings: Settings, db_pool: asyncpg.Pool, relay: tuple[FaultySmtp, int]
) -> None:
    handler, port = relay
    handler.rcpt = ["451 4.7.1 greylisted"] * 3
    settings = settings.model_copy(update={"smtp_port": port})
    await _cohort(db_pool)
    with pytest.raises(TransientSmtpError):
        await send_nudge(settings, db_pool, ProgramCache(), _input())
    # Why it is still in flight is on the row, for `mail list --stuck`.
    assert "451 4.7.1 greylisted" in (await _row(db_pool))["error"]
    # Three days and a minute after the first claim (the default budget is three days):
    await db_pool.execute("update send_ledger set claimed_at = now() - interval '3 days 1 minute'")
    result = await send_nudge(settings, db_pool, ProgramCache(), _input())
    assert result.status is SendStatus.FAILED
    assert "retried for 3 days" in result.detail and "451 4.7.1 greylisted" in result.detail
    row = await _row(db_pool)
    assert row["status"] == "failed" and "451" in row["error"]
    assert handler.stored() == 0


async def test_settle_waits_for_postgres_instead_of_sending_again(
    relay: tuple[FaultySmtp, int], settings: Settings
) -> None:
    """Postgres stops while the relay takes the message: the attempt waits for it to return and records
    `sent`; no retry ever sends a second copy."""
    handler, port = relay
    root = Path(tempfile.mkdtemp(prefix="mentorflow-test-pg-settle-"))
    server = EmbeddedPostgres(root / "data", port=free_port(), unsafe_fast=True)
    await server.start()
    pool: asyncpg.Pool | None = None
    restarted: list[asyncio.Task[None]] = []
    try:
        dsn = await server.ensure_database("mentorflow")
        conn = await asyncpg.connect(dsn)
        await migrate(conn, DEFAULT_MIGRATIONS_DIR)
        await conn.close()
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        await _cohort(pool)

        async def restart_later() -> None:
            await asyncio.sleep(2)
            await server.start()

        async def stop_postgres(smtp_server: Any) -> str | None:
            if not restarted:
                await asyncio.to_thread(server.stop)
                restarted.append(asyncio.create_task(restart_later()))
            return None

        handler.after_data = stop_postgres
        settings = settings.model_copy(update={"smtp_port": port, "database_url": dsn})
        result = None
        for _ in range(40):  # the policy's retries while Postgres is away
            try:
                result = await send_nudge(settings, pool, ProgramCache(), _input())
                break
            except Exception:
                await asyncio.sleep(0.25)
        assert result is not None and result.status is SendStatus.SENT
        assert handler.stored() == 1
        assert (await _row(pool))["status"] == "sent"
    finally:
        for task in restarted:
            await task
        if pool is not None:
            await pool.close()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


async def test_staff_list_resolve_and_resend_uncertain_emails(
    settings: Settings, db_pool: asyncpg.Pool, database: str, relay: tuple[FaultySmtp, int], tmp_path: Path
) -> None:
    """`mail list --uncertain|--stuck`, `mail resolve ID --sent|--not-sent`, `mail resend ID --yes`."""
    handler, port = relay
    handler.after_data = _drop
    await _cohort(db_pool)
    result = await _with_retries(settings.model_copy(update={"smtp_port": port}), db_pool)
    assert result is not None and result.status is SendStatus.UNCERTAIN
    # A second email that has met nothing but 451s for an hour.
    await db_pool.execute(
        """
        insert into send_ledger (workflow_id, nudge_key, cohort_id, participant_id, nudge_id, kind,
                                 scheduled_at, status, message_id, attempts, error, claimed_at)
        values ($1, 'track-1', 'c1', 'p1', 'consumer-01', 'track', now(), 'sending', '<x@y>', 9,
                '451 4.7.1 greylisted', now() - interval '1 hour')
        """,
        WORKFLOW_ID,
    )

    def cli(*args: str) -> Any:
        return run_cli(*args, cwd=tmp_path, database_url=database, smtp_port=port, metrics_port=0)

    listed = await asyncio.to_thread(cli, "mail", "list", "--uncertain", "--json")
    [row] = json.loads(listed.stdout)
    assert row["status"] == "uncertain" and "no reply to the end of the message" in row["error"]
    stuck = await asyncio.to_thread(cli, "mail", "list", "--stuck", "--cohort", "c1", "--json")
    assert [(r["nudge_id"], r["error"]) for r in json.loads(stuck.stdout)] == [
        ("consumer-01", "451 4.7.1 greylisted")
    ]
    row_id = str(row["id"])

    unsaid = await asyncio.to_thread(cli, "mail", "resolve", row_id)
    assert unsaid.returncode == EXIT_INVALID and "--sent or --not-sent" in unsaid.stderr
    unconfirmed = await asyncio.to_thread(cli, "mail", "resend", row_id)
    assert unconfirmed.returncode == EXIT_INVALID and "--yes" in unconfirmed.stderr
    assert handler.stored() == 1

    handler.after_data = None
    resent = await asyncio.to_thread(cli, "mail", "resend", row_id, "--yes")
    assert resent.returncode == 0 and "sent" in resent.stderr, resent.stderr
    assert handler.stored() == 2  # staff's explicit choice: a second copy
    row_after = await _row(db_pool)
    assert row_after["status"] == "sent" and row_after["resolution"].startswith("resent")
    again = await asyncio.to_thread(cli, "mail", "resolve", row_id, "--sent")
    assert again.returncode == EXIT_INVALID and "only an uncertain email can be resolved" in again.stderr

    await db_pool.execute("update send_ledger set status = 'uncertain' where nudge_key = 'track-1'")
    track_id = await db_pool.fetchval("select id from send_ledger where nudge_key = 'track-1'")
    settled = await asyncio.to_thread(cli, "mail", "resolve", str(track_id), "--not-sent", "--json")
    assert settled.returncode == 0 and json.loads(settled.stdout)["status"] == "failed"
    status = await db_pool.fetchval("select status from send_ledger where nudge_key = 'track-1'")
    assert status == "failed"


async def test_attempt_overtaken_by_one_that_handed_over_leaves_the_row_uncertain(
    settings: Settings, db_pool: asyncpg.Pool, relay: tuple[FaultySmtp, int]
) -> None:
    """Temporal starts a second attempt while the first still runs (its heartbeats were lost): the second
    claims first, the first then hands the message over and dies waiting for the reply. The second finds
    the mark at DATA and answers `uncertain`: the ledger must say so too (not `sending` for ever, where
    `mail list --uncertain` and `mail resolve` never see it), and nothing is sent twice."""
    handler, port = relay
    first_at_rcpt, second_claimed, first_stored = asyncio.Event(), asyncio.Event(), asyncio.Event()
    rcpts = 0

    async def rcpt(server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        nonlocal rcpts
        rcpts += 1
        # The first attempt waits at RCPT until the second has claimed (it is at RCPT too); the second
        # until the first's message is stored (so the first crosses the point of no return first).
        if rcpts == 1:
            first_at_rcpt.set()
            await second_claimed.wait()
        else:
            second_claimed.set()
            await first_stored.wait()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def hang(server: Any) -> str | None:
        first_stored.set()
        await asyncio.sleep(3600)
        return None

    handler.handle_RCPT = rcpt  # type: ignore[method-assign]
    handler.after_data = hang
    settings = settings.model_copy(update={"smtp_port": port})
    await _cohort(db_pool)
    first = asyncio.create_task(send_nudge(settings, db_pool, ProgramCache(), _input()))
    await asyncio.wait_for(first_at_rcpt.wait(), 10)
    second = asyncio.create_task(send_nudge(settings, db_pool, ProgramCache(), _input()))
    result = await asyncio.wait_for(second, 20)
    first.cancel()  # the server gave up on it: the SDK cancels it at its next heartbeat
    with pytest.raises(asyncio.CancelledError):
        await first
    assert result.status is SendStatus.UNCERTAIN
    assert handler.stored() == 1
    row = await _row(db_pool)
    assert row["status"] == "uncertain" and "had not recorded a reply" in row["error"], dict(row)
