"""`python -m benchmarks.cohort_report [--quick|--smoke]`: `cohort report` on a cohort with a year of events.

A Postgres of its own (embedded, free port, temporary directory), migrated; a cohort of 10,000 participants
(`--quick` 1,000) with 52 weeks of journey events written in bulk by SQL at a denser pace than the preview
gives the default program (one email a week each, a click every two months, a mode change every two
months), then the report timed: the store call (what every output is built from) and the whole
`mentorflow cohort report --json --csv --html` command. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import psutil

from benchmarks.report import Row, table
from benchmarks.stack import migrated_database
from infra.program_files import load_program
from store.cohort_report import cohort_report
from store.cohorts import save_cohort
from worker.devstack import EmbeddedPostgres, free_port

REPO = Path(__file__).resolve().parents[1]
COHORT = "bench-report"
GOAL_SECONDS = 2.0
WEEKS = 52

# Everything in SQL: participants, a year of events per journey (enrolment, one email a week, a click every
# eight weeks, mode changes), the projections, the ledger. $1 cohort, $2 participants, $3 start.
_SEED = [
    """
    insert into participants (cohort_id, participant_id, name, email, timezone, send_days, send_time,
                              personas, mentor_email)
    select $1::text, format('p%s', lpad(i::text, 6, '0')), format('Participant %s', i),
           format('p%s@example.org', i),
           'America/Chicago', '{tue,thu}'::text[], '08:30'::time,
           (case i % 3 when 0 then '{consumer}' when 1 then '{consumer,creator}'
                else '{consumer,amplifier}' end)::text[],
           format('mentor%s@example.org', i % 500)
    from generate_series(1, $2::int) i
    """,
    # Enrolled, then one nudge_due a week for a year.
    """
    insert into journey_events (event_id, workflow_id, cohort_id, participant_id, type, at, payload)
    select format('journey-%s~%s/%s', $1::text, p, w), format('journey-%s~%s', $1::text, p), $1::text, p,
           case when w = 0 then 'enrolled' else 'nudge_due' end,
           $3::date + (w || ' weeks')::interval + interval '14 hours',
           case when w = 0 then '{"command_id": "enroll"}'::jsonb
                else jsonb_build_object('nudge_id', format('consumer-%s', w % 40), 'kind', 'track',
                                        'nudge_key', format('w%s', w)) end
    from (select format('p%s', lpad(i::text, 6, '0')) as p from generate_series(1, $2::int) i) ps,
         generate_series(0, 52) w
    """,
    # A click every eight weeks (a milestone link), shifted per participant.
    """
    insert into journey_events (event_id, workflow_id, cohort_id, participant_id, type, at, payload)
    select format('journey-%s~%s/link-%s-0/0', $1::text, p, w), format('journey-%s~%s', $1::text, p),
           $1::text, p,
           'milestone_achieved',
           $3::date + (w || ' weeks')::interval + ((i % 7) || ' days')::interval,
           jsonb_build_object('command_id', format('link-%s-%s-0', p, w),
                              'milestone_id', format('m%s', w / 8))
    from (select i, format('p%s', lpad(i::text, 6, '0')) as p from generate_series(1, $2::int) i) ps,
         generate_series(1, 49, 8) w
    where i % 5 <> 0
    """,
    """
    insert into participant_milestones (cohort_id, participant_id, milestone_id, achieved_at)
    select $1::text, participant_id, payload ->> 'milestone_id', at from journey_events
    where cohort_id = $1::text and type = 'milestone_achieved'
    """,
    """
    insert into send_ledger (workflow_id, nudge_key, cohort_id, participant_id, nudge_id, kind, scheduled_at,
                             status, message_id, sent_at, updated_at)
    select workflow_id, payload ->> 'nudge_key', cohort_id, participant_id, payload ->> 'nudge_id',
           'track', at,
           case when hashtext(event_id) % 97 = 0 then 'failed' when hashtext(event_id) % 89 = 0
                then 'suppressed' else 'sent' end,
           event_id, at, at
    from journey_events where cohort_id = $1::text and type = 'nudge_due'
    """,
    # Mode history: active, then a change every eight weeks through the modes a year sees.
    """
    insert into journey_modes (cohort_id, participant_id, mode, at)
    select $1::text, format('p%s', lpad(i::text, 6, '0')),
           (array['active','slowed','active','paused','active','burst','active'])[w / 8 + 1],
           $3::date + (w || ' weeks')::interval + ((i % 5) || ' days')::interval
    from generate_series(1, $2::int) i, generate_series(0, 48, 8) w
    """,
    """
    insert into journey_status (cohort_id, participant_id, workflow_id, version, mode, personas)
    select $1::text, participant_id, format('journey-%s~%s', $1::text, participant_id), 60,
           case when i % 50 = 0 then 'unsubscribed' when i % 7 = 0 then 'slowed' else 'active' end, personas
    from (select participant_id, personas, row_number() over (order by participant_id) i
          from participants where cohort_id = $1::text) ps
    """,
]


async def seed(pool: asyncpg.Pool, participants: int, start: date) -> int:
    program = load_program(REPO / "programs" / "medtwitter")
    await save_cohort(pool, COHORT, program, start)
    for sql in _SEED:
        args = (COHORT, participants, start)[: 3 if "$3" in sql else 2 if "$2" in sql else 1]
        await pool.execute(sql, *args)
    await pool.execute("vacuum analyze")  # as autovacuum leaves a live database: index-only scans work
    count: int = await pool.fetchval("select count(*) from journey_events where cohort_id = $1", COHORT)
    return count


async def bench(participants: int, runs: int) -> list[Row]:
    root = Path(tempfile.mkdtemp(prefix="mentorflow-bench-report-"))
    postgres = EmbeddedPostgres(root / "data", port=free_port())
    try:
        await postgres.start()
        dsn = await migrated_database(postgres)
        now = datetime.now(UTC)
        start = (now - timedelta(weeks=WEEKS)).date()
        pool = await asyncpg.create_pool(dsn, min_size=4, max_size=10)
        try:
            began = time.perf_counter()
            events = await seed(pool, participants, start)
            seeded = time.perf_counter() - began
            ledger = await pool.fetchval("select count(*) from send_ledger")
            store: list[float] = []
            store_cpu: list[float] = []
            for _ in range(runs):
                c0, t0 = _postgres_cpu(postgres) + time.process_time(), time.perf_counter()
                report = await cohort_report(pool, COHORT, now=now)
                store.append(time.perf_counter() - t0)
                store_cpu.append(_postgres_cpu(postgres) + time.process_time() - c0)
            assert report is not None and report.participants == participants
        finally:
            await pool.close()
        cli: list[float] = []
        cli_cpu: list[float] = []
        for _ in range(runs):
            c0 = _postgres_cpu(postgres)
            seconds, cpu = cli_seconds(dsn, root)
            cli.append(seconds)
            cli_cpu.append(cpu + _postgres_cpu(postgres) - c0)
    finally:
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)
    what = (
        f"{participants:,} participants, {len(report.weeks)} weeks, {events:,} journey events, "
        f"{ledger:,} ledger rows"
    )
    goal = participants >= 10_000
    print(
        f"seeded in {seeded:.1f} s; store runs {[round(s, 3) for s in store]}; cli runs "
        f"{[round(s, 3) for s in cli]}; load average {os.getloadavg()[0]:.1f}",
        file=sys.stderr,
    )
    return [
        Row(
            f"cohort report, store query ({what}), {os.cpu_count()} cores",
            f"{statistics.median(store):.2f} s median of {runs} (best {min(store):.2f} s; CPU "
            f"{statistics.median(store_cpu):.2f} s, Postgres and Python)",
            goal=f"< {GOAL_SECONDS:.0f} s" if goal else "-",
            met=statistics.median(store) < GOAL_SECONDS if goal else None,
        ),
        Row(
            "`mentorflow cohort report --json --csv --html` (the same cohort), whole command",
            f"{statistics.median(cli):.2f} s median of {runs} (best {min(cli):.2f} s; CPU "
            f"{statistics.median(cli_cpu):.2f} s, Postgres and the command)",
            goal=f"< {GOAL_SECONDS:.0f} s" if goal else "-",
            met=statistics.median(cli) < GOAL_SECONDS if goal else None,
        ),
    ]


def _postgres_cpu(postgres: EmbeddedPostgres) -> float:
    """CPU seconds Postgres has used: the postmaster, its ended backends (reaped), its living ones."""
    assert postgres.process is not None
    root = psutil.Process(postgres.process.pid)
    total = sum(root.cpu_times()[:4])
    for child in root.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(child.cpu_times()[:2])
    return float(total)


def cli_seconds(dsn: str, root: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds of one `cohort report` command."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MENTORFLOW_")}
    env["MENTORFLOW_DATABASE_URL"] = dsn
    mentorflow = str(Path(sys.executable).parent / "mentorflow")
    args = [mentorflow, "cohort", "report", COHORT, "--json", "--csv", str(root / "r.csv")]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(
        [*args, "--html", str(root / "r.html")], env=env, capture_output=True, timeout=120, check=False
    )
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode()[-500:])
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cohort_report", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="1,000 participants.")
    size.add_argument("--smoke", action="store_true", help="100 participants, one run (the test suite).")
    args = parser.parse_args(argv)
    participants, runs = (100, 1) if args.smoke else (1_000, 3) if args.quick else (10_000, 5)
    print(table(asyncio.run(bench(participants, runs))))


if __name__ == "__main__":
    main()
