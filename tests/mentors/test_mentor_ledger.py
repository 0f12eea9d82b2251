"""Mentor emails live in the one send ledger: a digest the relay took without replying is `uncertain`, listed
by `mail list --uncertain` (as a mentor's email, with no address shown), counted by the worker's gauge and
`cohort status|report`, settled by `mail resolve`, sent once more by `mail resend --yes` through the same
guarded path; a mentor's email stuck behind 451s is listed by `mail list --stuck` and counted as stuck.
Real Postgres, a scripted aiosmtpd relay, the installed `mentorflow` command, the worker's real gauges."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from activities.deps import ActivityDeps
from activities.mentor import MentorActivities
from cli.errors import EXIT_INVALID
from domain.timing import local_datetime
from infra.settings import Settings
from store.cohort_report import cohort_report
from store.mentors import mentor_id_for, sync_mentors
from store.reports import cohort_status
from tests.domain.small_program import small_program
from tests.foundation.clirun import run_cli
from tests.journey.test_ledger_watch import ledger_gauges
from tests.journey.test_send_handover import FaultySmtp, _drop, relay  # noqa: F401 - its fixture
from tests.reports.journeys import monday_weeks_ago, run_journey, save
from workflows.contract import MentorSlotInput, mentor_workflow_id

COHORT = "led1"
LEE, KIM = "lee@mentors.org", "kim@mentors.org"


async def _cohort_with_news(pool: asyncpg.Pool) -> datetime:
    """Two mentors, each with a mentee quiet for six weeks (news for a digest); today is their digest day."""
    now = datetime.now(UTC)
    start = monday_weeks_ago(6, now)
    await save(pool, COHORT, small_program(), start, [("p1", LEE), ("p2", KIM)])
    for pid in ("p1", "p2"):
        await run_journey(pool, COHORT, pid, small_program(), start, now)
    await sync_mentors(pool, COHORT)
    today = local_datetime(now, "America/New_York").strftime("%a").lower()
    await pool.execute("update mentors set digest_day = $1", today)
    return now


async def _slot(settings: Settings, pool: asyncpg.Pool, port: int, mentor: str, now: datetime) -> list[str]:
    """The mentor's slot as Temporal runs it: attempted again after each raised error (three attempts)."""
    activities = MentorActivities(
        ActivityDeps(settings=settings.model_copy(update={"smtp_port": port}), pool=pool)
    )
    mentor_id = mentor_id_for(mentor)
    ask = MentorSlotInput(
        workflow_id=mentor_workflow_id(COHORT, mentor_id), cohort_id=COHORT, mentor_id=mentor_id, slot=now
    )
    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(str((await activities.perform_slot(ask)).status))
        except Exception as err:
            outcomes.append(type(err).__name__)
    return outcomes


def _to(handler: FaultySmtp) -> list[str]:
    out = []
    for path in sorted(handler.mail_dir.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        out.append(f"{msg['To']} | {msg['Subject']} | {msg['Message-ID']}")
    return out


async def test_uncertain_mentor_digests_are_listed_counted_resolved_and_resent_once(
    settings: Settings,
    db_pool: asyncpg.Pool,
    database: str,
    relay: tuple[FaultySmtp, int],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # a wide terminal: the tables do not wrap
    handler, port = relay
    handler.after_data = _drop  # the relay stores each digest, then the connection drops: no reply
    now = await _cohort_with_news(db_pool)
    assert await _slot(settings, db_pool, port, LEE, now) == ["uncertain"] * 3
    assert await _slot(settings, db_pool, port, KIM, now) == ["uncertain"] * 3
    assert handler.stored() == 2  # one copy each, never a second

    def cli(*args: str) -> Any:
        return run_cli(*args, cwd=tmp_path, database_url=database, smtp_port=port, metrics_port=0)

    listed = await asyncio.to_thread(cli, "mail", "list", "--uncertain", "--cohort", COHORT, "--json")
    rows = {r["recipient_id"]: r for r in json.loads(listed.stdout)}
    assert set(rows) == {mentor_id_for(LEE), mentor_id_for(KIM)}, listed.stdout
    assert {(r["recipient"], r["nudge_id"], r["status"]) for r in rows.values()} == {
        ("mentor", "digest", "uncertain")
    }
    assert "no reply to the end of the message" in rows[mentor_id_for(LEE)]["error"]
    shown = await asyncio.to_thread(cli, "mail", "list", "--uncertain")
    assert f"mentor {mentor_id_for(LEE)}" in shown.stderr
    for text in (listed.stdout, shown.stderr):  # ids only, no addresses or names
        assert LEE not in text and KIM not in text and "Ñandú" not in text

    assert (await ledger_gauges(db_pool))["mentorflow_ledger_uncertain"] == "2"
    status = await cohort_status(db_pool, COHORT)
    assert status is not None and status.emails["uncertain"] == 2
    report = await cohort_report(db_pool, COHORT, now=now)
    assert report is not None
    assert sum(w.emails.get("uncertain", 0) for w in report.weeks) == 2
    assert sum(w.mentor_emails for w in report.weeks) == 2
    assert {(a.who, a.kind) for a in report.attention if "mentor email digest" in a.detail} == {
        (LEE, "send"),
        (KIM, "send"),
    }

    # Lee's relay log shows the digest went: resolved sent, and his next digest starts after it.
    lee_id, kim_id = str(rows[mentor_id_for(LEE)]["id"]), str(rows[mentor_id_for(KIM)]["id"])
    resolved = await asyncio.to_thread(cli, "mail", "resolve", lee_id, "--sent", "--json")
    assert resolved.returncode == 0, resolved.stderr
    assert json.loads(resolved.stdout)["status"] == "sent"
    last = await db_pool.fetchval("select last_digest_at from mentors where email = $1", LEE)
    assert last is not None and abs(last - now) < timedelta(seconds=1)

    # Kim's did not arrive: without --yes nothing goes; with it, exactly one more copy, then no more.
    handler.after_data = None
    refused = await asyncio.to_thread(cli, "mail", "resend", kim_id)
    assert refused.returncode == EXIT_INVALID and "--yes" in refused.stderr
    assert handler.stored() == 2
    resent = await asyncio.to_thread(cli, "mail", "resend", kim_id, "--yes")
    assert resent.returncode == 0 and "sent" in resent.stderr, resent.stderr
    assert handler.stored() == 3
    copies = [m for m in _to(handler) if KIM in m]
    assert len(copies) == 2 and copies[0] == copies[1], copies  # the same digest, the same Message-ID
    assert "Your mentees this week" in copies[1]
    again = await asyncio.to_thread(cli, "mail", "resend", kim_id, "--yes")
    assert again.returncode == EXIT_INVALID and "is sent" in again.stderr
    assert handler.stored() == 3
    row = await db_pool.fetchrow(
        "select status, resolution from send_ledger where id = $1 and recipient = 'mentor'", int(kim_id)
    )
    assert row is not None and row["status"] == "sent" and row["resolution"].startswith("resent")
    assert (await ledger_gauges(db_pool))["mentorflow_ledger_uncertain"] == "0"
    # A mentor's email is no journey's: resolving or resending it tells no journey anything.
    assert json.loads(resolved.stdout)["journey"] == ""
    assert await db_pool.fetchval("select count(*) from participant_intents") == 0
    status = await cohort_status(db_pool, COHORT)
    assert status is not None and status.emails["sent"] >= 2 and status.emails["uncertain"] == 0
    assert {m.email: m.digests_sent for m in status.mentors} == {KIM: 1, LEE: 1}


async def test_a_mentor_email_stuck_behind_451s_is_listed_and_counted_as_stuck(
    settings: Settings,
    db_pool: asyncpg.Pool,
    database: str,
    relay: tuple[FaultySmtp, int],  # noqa: F811
    tmp_path: Path,
) -> None:
    handler, port = relay
    handler.rcpt = ["451 4.7.1 greylisted"] * 3
    now = await _cohort_with_news(db_pool)
    assert await _slot(settings, db_pool, port, LEE, now) == ["TransientSmtpError"] * 3
    assert handler.stored() == 0
    # An hour after its first claim, still in flight.
    await db_pool.execute(
        "update send_ledger set claimed_at = now() - interval '1 hour' where recipient = 'mentor'"
    )
    assert (await ledger_gauges(db_pool))["mentorflow_ledger_sending_stuck"] == "1"
    stuck = await asyncio.to_thread(
        run_cli, "mail", "list", "--stuck", "--json", cwd=tmp_path, database_url=database, metrics_port=0
    )
    [row] = json.loads(stuck.stdout)
    assert (row["recipient"], row["recipient_id"], row["status"]) == ("mentor", mentor_id_for(LEE), "sending")
    assert row["error"] == "451 4.7.1 greylisted" and row["attempts"] == 3
