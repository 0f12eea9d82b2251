"""`cohort report` from the event store: journeys recorded decision by decision through the real store."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from cli.report_html import CSV_COLUMNS, render_csv, render_html
from domain import AdoptPersona, Command, Pause, RecordMilestone, Unsubscribe
from store.cohort_report import CohortReport, cohort_report
from tests.domain.small_program import small_program
from tests.foundation.clirun import run_cli
from tests.reports.journeys import ledger, monday_weeks_ago, run_journey, save

COHORT = "rep1"
PROGRAM = small_program()


def at(start: datetime, weeks: float) -> datetime:
    return start + timedelta(weeks=weeks)


async def seed(pool: asyncpg.Pool, now: datetime) -> datetime:
    """Five journeys over six weeks, ending at `now`."""
    start = monday_weeks_ago(6, now)
    await save(
        pool,
        COHORT,
        PROGRAM,
        start,
        [
            ("p1", "amara@mentors.org"),
            ("p2", "bo@mentors.org"),
            ("p3", "amara@mentors.org"),
            ("p4", None),
            ("p5", None),
        ],
    )
    link = "link-abc"
    scripts: dict[str, list[tuple[datetime, Command]]] = {
        # Clicks two milestone links, then adopts the persona the program suggested.
        "p1": [
            (at(start, 1.2), RecordMilestone(command_id=f"{link}1-0", milestone_id="followed_ten")),
            (at(start, 2.2), RecordMilestone(command_id=f"{link}2-0", milestone_id="followed_institution")),
            (at(start, 3.2), AdoptPersona(command_id=f"{link}3-0", persona="creator")),
        ],
        "p2": [],  # reads, never clicks: slowed after four weeks
        # Snoozes through a link for two weeks.
        "p3": [(at(start, 1.5), Pause(command_id=f"{link}4-0", until=at(start, 3.5)))],
        # Unsubscribes through a link two days ago.
        "p4": [(now - timedelta(days=2), Unsubscribe(command_id=f"{link}5-0"))],
        # Staff recorded a milestone: not a click.
        "p5": [
            (at(start, 1.1), RecordMilestone(command_id="staff-milestone-1", milestone_id="followed_ten"))
        ],
    }
    for pid, script in scripts.items():
        await run_journey(pool, COHORT, pid, PROGRAM, start, now, script)
    await ledger(
        pool, COHORT, "p3", "consumer-09", "k-failed", "track", at(start, 5), "failed", error="550 no"
    )
    await ledger(
        pool,
        COHORT,
        "p5",
        "consumer-10",
        "k-stuck",
        "track",
        now - timedelta(hours=2),
        "sending",
        updated_at=now - timedelta(hours=2),
    )
    await ledger(
        pool,
        COHORT,
        "p5",
        "consumer-11",
        "k-fresh",
        "track",
        now - timedelta(minutes=1),
        "sending",
        updated_at=now - timedelta(minutes=1),
    )
    return start


async def test_report_funnel_weeks_attention_and_people(db_pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    start = await seed(db_pool, now)
    report = await cohort_report(db_pool, COHORT, now=now, quiet_weeks=3)
    assert report is not None and report.participants == 5

    # Funnel in program order, by persona; staff's milestone counts as reached, clicked or not.
    consumer, creator = report.funnel
    assert consumer.persona == "consumer" and [(s.milestone_id, s.reached) for s in consumer.steps] == [
        ("followed_ten", 2),
        ("followed_institution", 1),
    ]
    assert creator.persona == "creator" and creator.holders == 1 and creator.steps[0].reached == 0

    # Weeks from the cohort's start to this week; week 1 is everyone active with their welcome.
    assert report.weeks[0].week == start.date() and len(report.weeks) == 7
    first = report.weeks[0]
    assert first.modes == {"active": 5} and first.emails["sent"] >= 5
    assert sum(w.emails.get("sent", 0) for w in report.weeks) == await db_pool.fetchval(
        "select count(*) from send_ledger where status = 'sent'"
    )
    assert report.weeks[5].emails.get("failed") == 1
    # Clicks: two milestone links, one persona adoption (preferences), one snooze, one unsubscribe.
    clicks: dict[str, int] = {}
    for w in report.weeks:
        for k, n in w.clicks.items():
            clicks[k] = clicks.get(k, 0) + n
    assert clicks == {"milestones": 2, "preferences": 1, "snoozes": 1, "unsubscribes": 1}
    assert report.weeks[1].clicks == {"milestones": 1, "snoozes": 1}
    # Modes at each week's end: p3 paused in weeks 2 and 3, p2 slowed from its fifth week, p4 gone now.
    assert report.weeks[1].modes.get("paused") == 1 and report.weeks[2].modes.get("paused") == 1
    assert report.weeks[3].modes.get("paused") is None
    assert report.weeks[5].modes.get("slowed", 0) >= 1
    assert report.weeks[-1].modes.get("unsubscribed") == 1
    assert all(sum(w.modes.values()) == 5 for w in report.weeks)
    assert report.modes[0] == "active" and "unsubscribed" in report.modes

    why = {(a.kind, a.who) for a in report.attention}
    assert ("silent", "p2") in why and ("silent", "p1") not in why  # p1 clicked 3 weeks ago, within
    assert ("silent", "p4") not in why  # unsubscribed: not a silent reader
    assert ("send", "p3") in why and ("send", "p5") in why
    details = [a.detail for a in report.attention if a.kind == "send"]
    assert any("failed: 550 no" in d for d in details) and any("stuck in sending" in d for d in details)
    assert not any("consumer-11" in d for d in details)  # sending for a minute is not stuck
    assert ("unsubscribed", "p4") in why
    assert ("mentor", "bo@mentors.org") in why and ("mentor", "amara@mentors.org") not in why

    people = {p.participant_id: p for p in report.people}
    assert people["p1"].milestones == ["followed_ten", "followed_institution"]
    assert people["p1"].personas == ["consumer", "creator"] and people["p1"].last_click is not None
    assert people["p5"].last_click is None and people["p5"].milestones == ["followed_ten"]
    assert people["p4"].mode == "unsubscribed" and people["p2"].emails_sent >= 2

    # Since: the weeks start later; the funnel and the people do not change.
    later = await cohort_report(db_pool, COHORT, now=now, since=(start + timedelta(weeks=4)).date())
    assert later is not None and later.weeks[0].week == (start + timedelta(weeks=4)).date()
    assert len(later.weeks) == 3 and later.funnel == report.funnel


async def test_report_csv_loads_with_the_stdlib_reader_and_html_is_self_contained(
    db_pool: asyncpg.Pool,
) -> None:
    now = datetime.now(UTC)
    await seed(db_pool, now)
    report = await cohort_report(db_pool, COHORT, now=now)
    assert report is not None
    data = render_csv(report)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 5
    p1 = next(r for r in rows if r["participant_id"] == "p1")
    assert p1["name"] == "Dr. P1 Ñandú" and p1["milestones"] == "followed_ten; followed_institution"
    assert p1["mentor_email"] == "amara@mentors.org" and int(p1["emails_sent"]) >= 2

    page = render_html(report)
    assert "<svg" in page and "Milestone funnel" in page and "Needs attention" in page
    # Emails per week by ledger status, uncertain ones too (handed over, no reply: staff must look).
    assert "<th>failed</th><th>uncertain</th><th>suppressed</th>" in page
    for outside in ("http://", "https://", "src=", "<script", "@import", "url("):
        assert outside not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


async def test_unknown_cohort_is_none(db_pool: asyncpg.Pool) -> None:
    assert await cohort_report(db_pool, "nope", now=datetime.now(UTC)) is None


async def test_cli_cohort_report_writes_csv_html_and_json(
    db_pool: asyncpg.Pool, database: str, tmp_path: Path
) -> None:
    await seed(db_pool, datetime.now(UTC))
    csv_path, html_path = tmp_path / "r.csv", tmp_path / "r.html"
    done = run_cli(
        "cohort",
        "report",
        COHORT,
        "--json",
        "--csv",
        str(csv_path),
        "--html",
        str(html_path),
        cwd=tmp_path,
        database_url=database,
    )
    assert done.returncode == 0, done.stderr
    report = CohortReport.model_validate(json.loads(done.stdout))
    assert report.participants == 5 and report.funnel[0].steps[0].reached == 2
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf") and "<svg" in html_path.read_text()

    table = run_cli("cohort", "report", COHORT, "--quiet-weeks", "2", cwd=tmp_path, database_url=database)
    assert table.returncode == 0, table.stderr
    assert "Funnel: consumer" in table.stderr and "Needs attention" in table.stderr

    for args, message in (
        (("cohort", "report", "nope"), "no cohort 'nope'"),
        (("cohort", "report", COHORT, "--since", "monday"), "--since 'monday': expected a date"),
        (("cohort", "report", COHORT, "--csv", str(tmp_path / "no" / "dir.csv")), "cannot write"),
    ):
        bad = run_cli(*args, cwd=tmp_path, database_url=database)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr


@pytest.fixture(autouse=True)
def _no_temporal_needed() -> None:
    """The report reads Postgres only: these tests start no Temporal server."""


def test_clicks_are_the_commands_links_cause() -> None:
    """The report finds clicks by the command id a link's intent gives its command."""
    from store.cohort_report import CLICK_PREFIX
    from store.intents import intent_id_for

    assert intent_id_for("abc", 0).startswith(CLICK_PREFIX)
    assert not "staff-pause-1".startswith(CLICK_PREFIX)
