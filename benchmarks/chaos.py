"""`python -m benchmarks.chaos [--smoke] [--n N] [--kills K] [--only a,b]`: the send path under faults.

The stack as separate processes (Temporal dev server, Postgres, the worker; `benchmarks.stack`) and a
scriptable SMTP relay in this process. Each scenario launches a cohort whose `n` first emails fall due in
the same minute, injects its fault during the burst (worker kill -9 or SIGTERM, Postgres stopped, Temporal
kill -9 and restart on its SQLite file, or the relay's script), waits until every email is settled, and
prints one row: emails expected, delivered (distinct Message-IDs the relay stored), duplicates (stored
copies beyond the first), uncertain (ledger), in flight at faults (emails past the point of no return
with no outcome when a process was stopped, or stored and never answered by the relay), failed (ledger),
lost (neither delivered, nor uncertain, nor failed because the relay's script refuses its recipient),
journeys whose record counts their emails otherwise than the ledger once the settlements pending for
them are delivered (as the web app does), and the burst's time (due instant to the last email stored or
settled) against the fault-free burst.
Then the goals of issue 13, met or missed: 0 duplicates, 0 lost, every uncertain row among those in
flight at a fault, every journey's record agreeing with the ledger, and a burst with 5 worker kills
within 2x the fault-free burst plus 30 s.
Not a test: `tests/chaos/test_chaos_smoke.py` runs `--smoke` and checks the goals that are correctness.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiosmtpd.smtp import SMTP
from temporalio.client import Client

from activities.launch import cohort_inputs, launch_journeys
from benchmarks.fanout import burst_program
from benchmarks.roster import synthetic_rows
from benchmarks.stack import REPO, settings_env, start_servers
from infra.settings import Settings, load_settings
from infra.temporal_client import connect
from steering import Journeys, Steering
from store.cohorts import ParticipantRecord, save_roster
from worker.devstack import EmbeddedPostgres, TemporalDevServer, free_port
from worker.devstack.mailsink import _StoreHandler
from worker.devstack.process import ChildProcess
from worker.main import GRACEFUL_SHUTDOWN, SHUTDOWN_DRAIN

# The worker gives up on the reply to the end of DATA after this (RFC 5321: 600 s; short here so the
# slow-relay scenario fits a run); the scripted slow relay answers later than that.
DATA_END_TIMEOUT = 5.0
SLOW_REPLY = DATA_END_TIMEOUT + 3.0
HEADER = (
    "| scenario | faults | expected | delivered | duplicates | uncertain | in flight at faults | failed "
    "| lost | journey ≠ ledger | burst s | vs fault-free |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
)
# A burst with this many worker kills must deliver within 2x the fault-free burst plus 30 s (issue 13).
GOAL_KILLS = 5
# The smoke size (CI): small bursts, and a short sticky timeout so that the journeys a killed worker had
# cached move on within seconds rather than the default minute (correctness is what the smoke checks).
SMOKE_N = 20
SMOKE_KILLS = 2
SMOKE_STICKY = 5.0


# ---- the scriptable relay ---------------------------------------------------------------------------


@dataclass
class Script:
    """What the relay does. Recipients are picked by `every`: each one whose number (in the address)
    is a multiple of it meets the fault."""

    greeting_421: int = 0  # the first N connections get "421" at the greeting
    mail_421: int = 0  # the first N MAIL FROMs get "421"
    rcpt_451_once: int = 0  # every-th recipient: "451" on its first RCPT
    rcpt_550: int = 0  # every-th recipient: "550" always
    drop_after_data: int = 0  # every-th recipient: stored, then the connection dropped (first time)
    slow_end: int = 0  # every-th recipient: stored, reply after SLOW_REPLY s (first time)
    seen: Counter[str] = field(default_factory=Counter)

    def refuses(self, address: str) -> bool:
        """Whether this script refuses `address` for good (a `failed` row for it is legitimate)."""
        return self.rcpt_550 > 0 and _number(address) % self.rcpt_550 == 0


def _message_id(content: bytes | str) -> str:
    raw = content.encode() if isinstance(content, str) else content
    return str(email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"])


def _number(address: str) -> int:
    digits = "".join(c for c in address.split("@")[0] if c.isdigit())
    return int(digits or 0)


class ScriptedRelay(_StoreHandler):
    def __init__(self, mail_dir: Path) -> None:
        super().__init__(mail_dir)
        self.script = Script()
        self.connections = 0
        self.mails = 0
        self.faults = 0  # replies and hang-ups the script made
        # Message-IDs the relay stored and then never answered for: the only ones it may leave uncertain.
        self.unanswered: set[str] = set()
        self.sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def restart(self, script: Script) -> None:
        """A new script from a clean slate, as a relay just restarted: the workers' pooled connections
        are hung up, so "the first N connections" counts this scenario's."""
        self.script = script
        self.connections = self.mails = self.faults = 0
        self.unanswered = set()
        for session in list(self.sessions):
            if session.transport is not None and not session.transport.is_closing():
                session.transport.close()

    def fault(self, reply: str) -> str:
        self.faults += 1
        return reply

    def picked(self, every: int, address: str) -> bool:
        return every > 0 and _number(address) % every == 0

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.mails += 1
        if self.mails <= self.script.mail_421:
            return self.fault("421 4.3.2 too busy, try later")
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        s = self.script
        s.seen[f"rcpt:{address}"] += 1
        if self.picked(s.rcpt_550, address):
            return self.fault("550 5.1.1 mailbox unavailable")
        if self.picked(s.rcpt_451_once, address) and s.seen[f"rcpt:{address}"] == 1:
            return self.fault("451 4.7.1 greylisted, try later")
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        s = self.script
        address = envelope.rcpt_tos[0]
        s.seen[f"data:{address}"] += 1
        first = s.seen[f"data:{address}"] == 1
        await asyncio.to_thread(self._store, envelope.original_content or envelope.content)
        if first and self.picked(s.drop_after_data, address):
            self.unanswered.add(_message_id(envelope.original_content or envelope.content))
            self.faults += 1
            server.transport.abort()
            return "250 never heard"
        if first and self.picked(s.slow_end, address):
            self.unanswered.add(_message_id(envelope.original_content or envelope.content))
            self.faults += 1
            await asyncio.sleep(SLOW_REPLY)
        return "250 Message accepted for delivery"

    def factory(self) -> asyncio.Protocol:
        self.connections += 1
        if self.connections <= self.script.greeting_421:
            self.faults += 1
            return _Refuse()
        session = SMTP(self, hostname="chaos-relay")
        self.sessions.add(session)
        return session


class _Refuse(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(b"421 4.3.2 service not available, closing\r\n")
        transport.close()


# ---- the stack --------------------------------------------------------------------------------------


@dataclass
class Chaos:
    root: Path
    settings: Settings
    client: Client
    pool: asyncpg.Pool
    temporal: TemporalDevServer
    postgres: EmbeddedPostgres
    relay: ScriptedRelay
    workers: list[ChildProcess]
    worker_env: dict[str, str] = field(default_factory=dict)  # MENTORFLOW_* settings for the workers
    # Message-IDs past the point of no return at some fault of the current scenario (`in_flight`).
    in_flight_at_faults: set[str] = field(default_factory=set)
    cohort: str = ""
    faults: int = 0  # processes killed or stopped in the current scenario
    # How long the fault-free burst took (until measured: a guess): faults strike within it.
    burst: float = 1.0

    async def start_worker(self) -> ChildProcess:
        ready = self.root / f"worker-{uuid.uuid4().hex[:6]}.ready"
        env = (
            settings_env(self.settings, 0)
            | {"MENTORFLOW_SMTP_DATA_END_TIMEOUT_SECONDS": str(DATA_END_TIMEOUT)}
            | self.worker_env
        )
        worker = ChildProcess(
            "chaos-worker",
            [sys.executable, "-m", "benchmarks.worker", str(ready)],
            log_path=self.root / f"{ready.stem}.log",
            env=env,
            cwd=REPO,
        )
        deadline = time.monotonic() + 60
        while not ready.exists():
            if not worker.running() or time.monotonic() > deadline:
                worker.stop()
                raise RuntimeError(f"chaos worker did not start: {worker.log_tail()}")
            await asyncio.sleep(0.1)
        self.workers.append(worker)
        return worker

    def kill_worker(self, sig: int = signal.SIGKILL) -> None:
        worker = self.workers.pop(0)
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, sig)
        if sig == signal.SIGKILL:
            worker.popen.wait()  # gone for good: nothing of it writes to Postgres any more

    async def kill_temporal(self, down: float) -> None:
        """kill -9 the Temporal server; `down` s later start it again on the same port and SQLite file."""
        assert self.temporal.process is not None
        os.kill(self.temporal.process.pid, signal.SIGKILL)
        await asyncio.to_thread(self.temporal.process.popen.wait)
        await self.note_in_flight()
        await asyncio.sleep(down)
        await self.temporal.start()

    async def note_in_flight(self) -> None:
        """Remember the emails past the point of no return with no outcome yet: the ones a fault now may
        leave `uncertain` (and no others)."""
        rows = await self.pool.fetch(
            "select message_id from send_ledger where cohort_id = $1 and status = 'sending'"
            " and handed_over_at is not null",
            self.cohort,
        )
        self.in_flight_at_faults |= {r["message_id"] for r in rows}


@asynccontextmanager
async def chaos_stack(root: Path, worker_env: dict[str, str] | None = None) -> AsyncIterator[Chaos]:
    async with AsyncExitStack() as exits:
        temporal, postgres, dsn = await start_servers(exits, root)
        relay = ScriptedRelay(root / "mail")
        relay.mail_dir.mkdir(parents=True)
        port = free_port()
        server = await asyncio.get_running_loop().create_server(relay.factory, host="127.0.0.1", port=port)
        exits.callback(server.close)
        settings = load_settings(
            state_dir=root / "state",
            database_url=dsn,
            temporal_address=temporal.target,
            smtp_port=port,
            metrics_port=0,
            task_queue="chaos",
        )
        # No connection floor: it would log a traceback a second while Postgres is stopped.
        pool = await asyncpg.create_pool(dsn, min_size=0, max_size=4)
        exits.push_async_callback(pool.close)
        client = await connect(settings)
        chaos = Chaos(root, settings, client, pool, temporal, postgres, relay, [], worker_env or {})

        def stop_workers() -> None:
            for w in chaos.workers:
                w.stop()

        exits.callback(stop_workers)
        await chaos.start_worker()
        yield chaos


# ---- one scenario -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    faults: int  # injected: processes killed or stopped, relay replies and hang-ups by script
    expected: int
    delivered: int  # distinct Message-IDs the relay stored
    duplicates: int  # stored copies beyond the first
    uncertain: int
    failed: int
    lost: int  # neither delivered, nor uncertain, nor failed because the relay's script refused it
    in_flight: int  # past the point of no return with no outcome at some fault (relay: never answered)
    uncertain_elsewhere: int  # uncertain rows not among those: an uncertain the fault cannot explain
    seconds: float  # due instant to the last email stored or settled
    message_ids: frozenset[str] = frozenset()
    disagree: int = 0  # journeys whose record counts their emails otherwise than the ledger

    def row(self, baseline: float | None) -> str:
        ratio = f"{self.seconds / baseline:.1f}x" if baseline else "-"
        return (
            f"| {self.name} | {self.faults} | {self.expected} | {self.delivered} | {self.duplicates} "
            f"| {self.uncertain} | {self.in_flight} | {self.failed} | {self.lost} | {self.disagree} "
            f"| {self.seconds:.1f} "
            f"| {ratio} |"
        )

    @property
    def correct(self) -> bool:
        """The goals that are correctness: never two copies, nothing lost outside `uncertain`, and
        uncertain only where a conversation was past the point of no return at a fault."""
        return (
            self.duplicates == 0 and self.lost == 0 and self.uncertain_elsewhere == 0 and self.disagree == 0
        )


Fault = Callable[[Chaos, datetime], Awaitable[None]]


async def _launch_burst(chaos: Chaos, n: int, cohort: str) -> datetime:
    """A cohort of `n` whose first emails all fall due at the returned instant (a few seconds ahead)."""
    program = burst_program()
    due = (datetime.now(UTC) + timedelta(seconds=3 + n / 25)).replace(microsecond=0)
    start = due.date()
    rows = [
        r.model_copy(update={"timezone": "UTC", "conferences": (), "email": f"p{i + 1}@example.org"})
        for i, r in enumerate(synthetic_rows(n, start))
    ]
    await save_roster(chaos.pool, cohort, program, start, [ParticipantRecord.from_roster(r) for r in rows])
    inputs = await cohort_inputs(chaos.pool, cohort, program.spec, start, first_send_at=due)
    await launch_journeys(chaos.pool, chaos.client, chaos.settings.task_queue, inputs, datetime.now(UTC))
    return due


async def _settled(chaos: Chaos, cohort: str, n: int, seconds: float) -> None:
    """Until every journey's email has a ledger row that is no longer 'sending' (or `seconds` pass)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            done = await chaos.pool.fetchval(
                "select count(*) from send_ledger where cohort_id = $1 and status <> 'sending'", cohort
            )
            if done >= n:
                return
        await asyncio.sleep(0.5)


def _stored(mail_dir: Path) -> list[tuple[str, float]]:
    out = []
    for path in mail_dir.glob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        at = datetime.strptime(path.name[:23], "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC).timestamp()
        out.append((str(msg["Message-ID"]), at))
    return out


async def run_scenario(
    chaos: Chaos, name: str, n: int, script: Script, fault: Fault | None, wait: float
) -> Outcome:
    chaos.relay.restart(script)
    chaos.in_flight_at_faults = set()
    chaos.faults = 0
    slug = "".join(c if c.isalnum() else "-" for c in name)[:24].strip("-")
    chaos.cohort = cohort = f"chaos-{slug}-{uuid.uuid4().hex[:4]}"
    due = await _launch_burst(chaos, n, cohort)
    if fault is not None:
        await fault(chaos, due)
    await _settled(chaos, cohort, n, wait)
    await asyncio.sleep(SLOW_REPLY if script.slow_end else 1.0)  # a slow reply's copy lands meanwhile
    result = await outcome(chaos, name, n, script, due)
    result.disagree = await disagreeing(chaos, wait)
    return result


async def disagreeing(chaos: Chaos, seconds: float) -> int:
    """Journeys of the scenario whose record (`journey_status.emails_sent`) counts their emails otherwise
    than the ledger, once the settlements pending for them (the relay's late replies) are delivered as
    the web app would; waited for up to `seconds` (a journey records an email's outcome after its send)."""
    steering = Steering(chaos.pool, Journeys(chaos.settings, chaos.client))
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            await steering.deliver_due()
        n: int = await chaos.pool.fetchval(
            """
            select count(*) from participants p left join journey_status s using (cohort_id, participant_id)
            where p.cohort_id = $1 and coalesce(s.emails_sent, 0) <> (
                select count(*) from send_ledger l
                where l.cohort_id = p.cohort_id and l.participant_id = p.participant_id and l.status = 'sent')
            """,
            chaos.cohort,
        )
        if n == 0 or time.monotonic() > deadline:
            return n
        await asyncio.sleep(0.5)


async def outcome(chaos: Chaos, name: str, n: int, script: Script, due: datetime) -> Outcome:
    """The scenario's figures from the ledger and the relay's mailbox (read again at the end of the run:
    a copy that lands late still counts)."""
    ledger = await chaos.pool.fetch(
        """
        select l.message_id, l.status, l.updated_at, p.email
        from send_ledger l join participants p using (cohort_id, participant_id)
        where l.cohort_id = $1
        """,
        chaos.cohort,
    )
    ids = {r["message_id"] for r in ledger}
    stored = [(mid, at) for mid, at in _stored(chaos.relay.mail_dir) if mid in ids]
    copies = Counter(mid for mid, _ in stored)
    uncertain = {r["message_id"] for r in ledger if r["status"] == "uncertain"}
    failed = [r for r in ledger if r["status"] == "failed"]
    explained = uncertain | {r["message_id"] for r in failed if script.refuses(r["email"])}
    lost = n - len(ids) + len(ids - copies.keys() - explained)
    in_flight = chaos.in_flight_at_faults | chaos.relay.unanswered
    ends = [at for _, at in stored] + [r["updated_at"].timestamp() for r in ledger if r["status"] != "sent"]
    return Outcome(
        name,
        chaos.faults + chaos.relay.faults,
        n,
        len(copies),
        sum(c - 1 for c in copies.values()),
        len(uncertain),
        len(failed),
        lost,
        len(in_flight),
        len(uncertain - in_flight),
        max(ends) - due.timestamp() if ends else float("nan"),
        frozenset(ids),
    )


# ---- the faults -------------------------------------------------------------------------------------


async def _at(due: datetime, offset: float) -> None:
    await asyncio.sleep(max((due - datetime.now(UTC)).total_seconds() + offset, 0))


def kill_workers(kills: int) -> Fault:
    """`kills` times at random moments within the fault-free burst's time after the due instant: kill -9
    the worker and start a new one (as a supervisor would; a kill whose moment passed while the worker
    restarted strikes as soon as it is up)."""

    async def fault(chaos: Chaos, due: datetime) -> None:
        rng = random.Random(kills)
        for moment in sorted(rng.uniform(0.05, chaos.burst) for _ in range(kills)):
            await _at(due, moment)
            chaos.kill_worker(signal.SIGKILL)
            chaos.faults += 1
            await chaos.note_in_flight()
            await chaos.start_worker()

    return fault


def sigterm_worker(chaos_offset: float = 0.3) -> Fault:
    async def fault(chaos: Chaos, due: datetime) -> None:
        await _at(due, chaos_offset)
        old = chaos.workers[0]
        await chaos.note_in_flight()
        chaos.kill_worker(signal.SIGTERM)
        chaos.faults += 1  # a rolling deploy: the new one starts as the old one drains
        await chaos.start_worker()
        # It stops by itself (worker/main.py): after its drain and in-flight activities.
        await asyncio.to_thread(old.stop, (SHUTDOWN_DRAIN + GRACEFUL_SHUTDOWN).total_seconds() + 10)

    return fault


def postgres_outage(after: float, down: float) -> Fault:
    async def fault(chaos: Chaos, due: datetime) -> None:
        await _at(due, after)
        await chaos.note_in_flight()  # nothing crosses the point of no return while Postgres is away
        await asyncio.to_thread(chaos.postgres.stop)
        chaos.faults += 1
        await asyncio.sleep(down)
        await chaos.postgres.start()

    return fault


def temporal_outage(down: float) -> Fault:
    """kill -9 the Temporal server a third into the burst; it comes back `down` s later on the same
    SQLite file."""

    async def fault(chaos: Chaos, due: datetime) -> None:
        await _at(due, chaos.burst / 3)
        await chaos.kill_temporal(down)
        chaos.faults += 1

    return fault


@dataclass(frozen=True)
class Scenario:
    name: str
    script: Script
    fault: Fault | None = None


def scenarios(kills: int) -> list[Scenario]:
    return [
        Scenario("fault-free", Script()),
        Scenario(f"worker kill -9 x{kills} in the burst", Script(), kill_workers(kills)),
        Scenario("worker SIGTERM in the burst (rolling deploy)", Script(), sigterm_worker()),
        Scenario("Postgres stopped 5 s mid-burst", Script(), postgres_outage(0.5, 5.0)),
        Scenario("Temporal kill -9 mid-burst, restarted", Script(), temporal_outage(5.0)),
        Scenario("421 at greeting (first 3 connections)", Script(greeting_421=3)),
        Scenario("421 at MAIL (first 3)", Script(mail_421=3)),
        Scenario("451 at RCPT (every 3rd, once)", Script(rcpt_451_once=3)),
        Scenario("550 at RCPT (every 10th)", Script(rcpt_550=10)),
        Scenario("drop after DATA (every 10th, once)", Script(drop_after_data=10)),
        Scenario(
            f"reply to end of DATA after {SLOW_REPLY:g} s > {DATA_END_TIMEOUT:g} s timeout (every 10th)",
            Script(slow_end=10),
        ),
    ]


async def run(
    n: int,
    kills: int,
    only: set[str] | None,
    out: Callable[[str], None],
    worker_env: dict[str, str] | None = None,
) -> list[Outcome]:
    root = Path(tempfile.mkdtemp(prefix="mentorflow-chaos-"))
    results: list[Outcome] = []
    try:
        async with chaos_stack(root, worker_env) as chaos:
            out(HEADER)
            baseline: float | None = None
            wait = 60.0 + n / 5
            chaos.burst = max(0.5, n / 80)
            for sc in scenarios(kills):
                if only and sc.name.split(" ")[0] not in only and sc.name != "fault-free":
                    continue
                result = await run_scenario(chaos, sc.name, n, sc.script, sc.fault, wait)
                if sc.name == "fault-free":
                    baseline = result.seconds
                    chaos.burst = max(0.5, baseline)
                results.append(result)
                out(result.row(baseline))
            late = _late_copies(chaos.relay.mail_dir, results)
            for line in goals(results, baseline, kills) + late:
                out(line)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return results


def _late_copies(mail_dir: Path, results: list[Outcome]) -> list[str]:
    """Copies that landed after their scenario was counted (a retry still under way): added to it."""
    copies = Counter(mid for mid, _ in _stored(mail_dir))
    lines = []
    for r in results:
        duplicates = sum(copies[m] - 1 for m in r.message_ids if copies[m] > 1)
        if duplicates > r.duplicates:
            lines.append(f"late copies: {r.name}: {duplicates - r.duplicates} more duplicates")
            r.duplicates = duplicates
    return lines


def goals(results: list[Outcome], baseline: float | None, kills: int) -> list[str]:
    """One line per goal of issue 13 that the run checks, met or missed."""
    lines = []
    for r in results:
        if not r.correct:
            lines.append(
                f"MISSED {r.name}: {r.duplicates} duplicates, {r.lost} lost, "
                f"{r.uncertain_elsewhere} uncertain outside the {r.in_flight} in flight at faults, "
                f"{r.disagree} journeys counting otherwise than the ledger"
            )
    if not lines:
        lines.append(
            "met: 0 duplicates, 0 lost, uncertain only among the emails in flight at a fault, every "
            "journey's record agreeing with the ledger"
        )
    killed = next((r for r in results if r.name.startswith("worker kill -9")), None)
    if killed is not None and baseline is not None and kills >= GOAL_KILLS:
        limit = 2 * baseline + 30
        verdict = "met" if killed.seconds <= limit else "MISSED"
        lines.append(f"{verdict}: {kills} worker kills: burst {killed.seconds:.1f} s, goal <= {limit:.1f} s")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes (CI)")
    parser.add_argument("--n", type=int, default=None, help="journeys per burst")
    parser.add_argument("--kills", type=int, default=None, help="worker kill -9s in the kill scenario")
    parser.add_argument("--only", default="", help="comma-separated first words of scenario names")
    parser.add_argument(
        "--sticky", type=float, default=None, help="workers' MENTORFLOW_STICKY_TIMEOUT_SECONDS"
    )
    args = parser.parse_args()
    n = args.n or (SMOKE_N if args.smoke else 300)
    kills = args.kills or (SMOKE_KILLS if args.smoke else GOAL_KILLS)
    only = {o.strip() for o in args.only.split(",") if o.strip()} or None
    sticky = args.sticky or (SMOKE_STICKY if args.smoke else None)
    env = {} if sticky is None else {"MENTORFLOW_STICKY_TIMEOUT_SECONDS": str(sticky)}
    asyncio.run(run(n, kills, only, lambda line: print(line, flush=True), env))


if __name__ == "__main__":
    main()
