"""`mentorflow cohort start` as staff run it: validated, durable, idempotent, and steerable afterwards."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import date, timedelta

import asyncpg
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowExecutionStatus

from cli.errors import EXIT_INVALID, EXIT_PARTIAL, EXIT_REJECTED
from tests.cli.stack import cli, popen, roster, worker, write_program
from workflows import search_attributes as sa
from workflows.launch import LaunchProgress, launch_id

START = (date.today() + timedelta(days=3)).isoformat()


def rows(n: int, prefix: str = "p") -> list[str]:
    return [
        f"{prefix}{i:04d},Person {i},{prefix}{i}@example.org,America/Chicago,tue,08:30,consumer,,,"
        for i in range(n)
    ]


async def journeys(client: Client, cohort: str) -> dict[str, int]:
    """workflow id -> number of runs started with it (any status)."""
    seen: dict[str, int] = {}
    async for wf in client.list_workflows(f'MentorflowCohort = "{cohort}"'):
        seen[wf.id] = seen.get(wf.id, 0) + 1
    return seen


async def test_clean_launch_then_rerun_starts_nothing_new_and_json_parses(
    settings, temporal_env, tmp_path, database
):
    program = write_program(tmp_path / "program")
    conf_start = date.today() + timedelta(days=20)
    conference = f"Kidney Week|{conf_start}|{conf_start + timedelta(days=2)}|America/Denver|KidneyWk"
    path = roster(tmp_path / "roster.csv", [*rows(4), f"p0004,Zed,z@example.org,UTC,,,,,,{conference}"])
    args = ["cohort", "start", str(path), "--cohort", "c1", "--program", str(program), "--start-date", START]
    async with worker(settings):
        first = await cli(settings, *args, "--json", cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        report = json.loads(first.stdout)
        assert report["launch"]["processed"] == 5 and report["launch"]["done"]
        client = temporal_env.client
        runs = {}
        for i in range(5):
            desc = await client.get_workflow_handle(f"journey-c1~p{i:04d}").describe()
            runs[desc.id] = desc.run_id
            assert desc.status == WorkflowExecutionStatus.RUNNING
            assert await desc.static_summary() == f"participant p{i:04d} · cohort c1 · program small"
        # The roster's conference reached the journey (decided with its enrolment).
        shown = json.loads(
            (await cli(settings, "participant", "show", "p0004", "--json", cwd=tmp_path)).stdout
        )
        assert [b["name"] for b in shown["journey"]["upcoming_bursts"]] == ["Kidney Week"]
        # The launch recorded the enrolments itself, and each journey started with its operator view set:
        # search attributes filled in, no event-store activity of its own before its first email.
        conn = await asyncpg.connect(database)
        try:
            stored = await conn.fetch(
                "select participant_id, type from journey_events where cohort_id = 'c1' order by seq"
            )
            status_rows = await conn.fetchval("select count(*) from journey_status where cohort_id = 'c1'")
        finally:
            await conn.close()
        assert sorted(r["participant_id"] for r in stored if r["type"] == "enrolled") == [
            f"p{i:04d}" for i in range(5)
        ]
        p4 = [r["type"] for r in stored if r["participant_id"] == "p0004"]
        assert p4 == ["enrolled", "conference_added"]
        assert status_rows == 5
        p0 = client.get_workflow_handle("journey-c1~p0000")
        assert (await p0.describe()).typed_search_attributes.get(sa.MODE) == "active"
        history = await p0.fetch_history()
        assert not [e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")]
        metadata = await p0.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        details = metadata.current_details
        assert "`p0000`" in details and "**Mode:** active" in details and "next email welcome" in details
        second = await cli(settings, *args, cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        assert "0 new" in second.stderr and "--update-contacts" not in second.stderr
        # A re-run whose roster changed an address: reported, kept; applied only when asked.
        moved = roster(
            tmp_path / "moved.csv", [*rows(4), f"p0004,Zed,zed@new.example.org,UTC,,,,,,{conference}"]
        )
        moved_args = [*args[:2], str(moved), *args[3:]]
        third = await cli(settings, *moved_args, cwd=tmp_path)
        assert third.returncode == EXIT_INVALID, third.stderr
        assert (
            f"mentorflow: differs: {moved}: line 6, participant p0004: "
            "email 'z@example.org' -> 'zed@new.example.org'"
        ) in third.stderr
        assert "nothing saved, nothing started (--update-contacts applies the roster's" in third.stderr
        saved = "select email from participants where cohort_id = 'c1' and participant_id = 'p0004'"
        conn = await asyncpg.connect(database)
        try:
            assert await conn.fetchval(saved) == "z@example.org"
            applied = await cli(settings, *moved_args, "--update-contacts", cwd=tmp_path)
            assert applied.returncode == 0, applied.stderr
            assert f"applied: {moved}: line 6, participant p0004: email" in applied.stderr
            assert await conn.fetchval(saved) == "zed@new.example.org"
            # Another participant's address: refused as a whole, the new row of the same run not saved.
            taken = roster(
                tmp_path / "taken.csv",
                ["p0004,Zed,p0@example.org,UTC,,,,,,", "p0005,New,new@example.org,UTC,,,,,,"],
            )
            clash = await cli(settings, *args[:2], str(taken), *args[3:], "--update-contacts", cwd=tmp_path)
            assert clash.returncode == EXIT_INVALID, clash.stderr
            assert "--update-contacts: another participant of cohort 'c1' has the email" in clash.stderr
            assert await conn.fetchval(saved) == "zed@new.example.org"
            assert await conn.fetchval("select count(*) from participants where cohort_id = 'c1'") == 5
        finally:
            await conn.close()
        for wid, run_id in runs.items():
            assert (await client.get_workflow_handle(wid).describe()).run_id == run_id

        status = await cli(settings, "cohort", "status", "c1", "--json", cwd=tmp_path)
        assert status.returncode == 0, status.stderr
        data = json.loads(status.stdout)
        assert data["cohort"]["participants"] == 5
        assert data["launch"]["processed"] == 5
        listed = json.loads((await cli(settings, "cohort", "list", "--json", cwd=tmp_path)).stdout)
        assert [c["cohort_id"] for c in listed] == ["c1"]


async def test_dry_run_and_invalid_roster_start_nothing(settings, temporal_env, tmp_path, database):
    program = write_program(tmp_path / "program")
    good = roster(tmp_path / "good.csv", rows(3))
    bad = roster(
        tmp_path / "bad.csv",
        [
            "a1,Ann,ann@example.org,UTC,,,,,,",
            "a2,Ben,ben@,UTC,,,,,,",
            "a3,Cat,cat@example.org,Nowhere/City,,,,,,",
            "a4,Dan,dan@example.org,UTC,,,poet,,,",
            "a1,Eve,eve@example.org,UTC,,,,,,",
            "a6,Fay,ANN@example.org,UTC,,,,,,",
            "a7,Gil,gil@example.org,UTC,,,,,,Old|2020-01-01|2020-01-02",
        ],
    )
    base = ["cohort", "start", "--program", str(program), "--start-date", START]
    dry = await cli(settings, *base, str(good), "--cohort", "dry", "--dry-run", "--json", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert [r["journey_id"] for r in json.loads(dry.stdout)["would_start"]] == [
        "journey-dry~p0000",
        "journey-dry~p0001",
        "journey-dry~p0002",
    ]
    invalid = await cli(settings, *base, str(bad), "--cohort", "bad", cwd=tmp_path)
    assert invalid.returncode == EXIT_INVALID
    err = invalid.stderr
    for expected in [
        "bad.csv: line 3, column email: 'ben@': not a valid email address",
        "bad.csv: line 4, column timezone: 'Nowhere/City': unknown time zone",
        "bad.csv: line 5, column personas: 'poet': unknown persona 'poet'",
        "bad.csv: line 6, column participant_id: 'a1': duplicate participant id (first on line 2)",
        "bad.csv: line 7, column email: 'ANN@example.org': duplicate email (first on line 2)",
        "bad.csv: line 8, column conferences: 'Old|2020-01-01|2020-01-02': "
        "conference 'Old': it ended on 2020-01-02 (in the past)",
        "6 invalid row(s) of 7; nothing started",
    ]:
        assert expected in err, err
    missing = roster(tmp_path / "missing.csv", [])
    missing.write_text("participant_id,name,timezone\nx,X,UTC\n")
    no_col = await cli(settings, *base, str(missing), "--cohort", "bad", cwd=tmp_path)
    assert no_col.returncode == EXIT_INVALID and "line 1, column email: missing column" in no_col.stderr
    conn = await asyncpg.connect(database)
    try:
        assert await conn.fetchval("select count(*) from participants") == 0
        assert await conn.fetchval("select count(*) from cohorts") == 0
    finally:
        await conn.close()
    assert await journeys(temporal_env.client, "dry") == {}


async def test_launch_survives_a_killed_cli_and_rerun_finishes(settings, temporal_env, tmp_path, database):
    program = write_program(tmp_path / "program")
    n = 120
    path = roster(tmp_path / "roster.csv", rows(n))
    args = [
        "cohort",
        "start",
        str(path),
        "--cohort",
        "big",
        "--program",
        str(program),
        "--start-date",
        START,
        "--batch-size",
        "10",
    ]
    client = temporal_env.client
    async with worker(settings):
        proc = popen(settings, *args, cwd=tmp_path)
        handle = client.get_workflow_handle(launch_id("big"), result_type=LaunchProgress)
        progress = None
        for _ in range(600):
            await asyncio.sleep(0.05)
            try:
                progress = await handle.query("progress", result_type=LaunchProgress)
            except Exception:
                continue
            if progress.processed > 0:
                break
        assert progress is not None and 0 < progress.processed < n
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        result = await handle.result()
        assert result.processed == n and result.done
        rerun = await cli(settings, *args, cwd=tmp_path)
        assert rerun.returncode == 0, rerun.stderr
        seen = await journeys(client, "big")
        assert len(seen) == n and set(seen.values()) == {1}


async def test_steering_changes_the_journey_and_a_rejection_exits_with_the_reason(
    settings, temporal_env, tmp_path
):
    program = write_program(tmp_path / "program")
    path = roster(tmp_path / "roster.csv", rows(1))
    async with worker(settings):
        launched = await cli(
            settings,
            "cohort",
            "start",
            str(path),
            "--cohort",
            "s1",
            "--program",
            str(program),
            "--start-date",
            START,
            cwd=tmp_path,
        )
        assert launched.returncode == 0, launched.stderr
        done = await cli(
            settings, "participant", "milestone", "p0000", "followed_ten", "--json", cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
        assert "followed_ten" in json.loads(done.stdout)["milestones"]
        again = await cli(settings, "participant", "milestone", "p0000", "followed_ten", cwd=tmp_path)
        assert again.returncode == EXIT_REJECTED
        assert "milestone 'followed_ten' is already recorded" in again.stderr
        adopt = await cli(
            settings,
            "participant",
            "persona",
            "p0000",
            "adopt",
            "creator",
            "--cohort",
            "s1",
            "--json",
            cwd=tmp_path,
        )
        assert adopt.returncode == 0, adopt.stderr
        assert set(json.loads(adopt.stdout)["personas"]) == {"consumer", "creator"}
        resume = await cli(settings, "participant", "resume", "p0000", cwd=tmp_path)
        assert resume.returncode == EXIT_REJECTED and "the journey is not paused" in resume.stderr
        paused = await cli(settings, "participant", "pause", "p0000", "--json", cwd=tmp_path)
        assert paused.returncode == 0, paused.stderr
        assert json.loads(paused.stdout)["mode"] == "paused"
        show = await cli(settings, "participant", "show", "p0000", "--json", cwd=tmp_path)
        assert show.returncode == 0, show.stderr
        shown = json.loads(show.stdout)
        assert shown["participant"]["email"] == "p0@example.org"
        assert shown["journey"]["mode"] == "paused"
        types = [e["type"] for e in shown["participant"]["events"]]
        assert types[:1] == ["enrolled"] and "milestone_achieved" in types


async def test_skip_invalid_starts_the_valid_rows_and_exits_partial(settings, temporal_env, tmp_path):
    program = write_program(tmp_path / "program")
    path = roster(tmp_path / "roster.csv", [*rows(2), "x1,Bad,bad-email,UTC,,,,,,"])
    async with worker(settings):
        done = await cli(
            settings,
            "cohort",
            "start",
            str(path),
            "--cohort",
            "sk",
            "--program",
            str(program),
            "--start-date",
            START,
            "--skip-invalid",
            "--json",
            cwd=tmp_path,
        )
    assert done.returncode == EXIT_PARTIAL, done.stderr
    assert "skipped: " in done.stderr and "line 4, column email: 'bad-email'" in done.stderr
    assert json.loads(done.stdout)["launch"]["processed"] == 2
    assert sorted(await journeys(temporal_env.client, "sk")) == ["journey-sk~p0000", "journey-sk~p0001"]
