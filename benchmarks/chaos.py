"""`python -m benchmarks.chaos [--smoke] [--n N] [--kills K] [--only a,b]`: the send path under faults.

The stack as separate processes (Temporal dev server, Postgres, the worker; `benchmarks.stack`) and a
scriptable SMTP relay in this process. Each scenario launches a cohort whose `n` first emails fall due in
the same minute, injects its fault during the burst, waits until every email is settled, and prints one
row: emails expected, delivered (distinct Message-IDs the relay stored), duplicates (stored copies beyond
the first), uncertain and refused (ledger), lost (neither delivered nor uncertain nor refused by the
relay's script), and the burst's time (first to last stored, or to the last settled row) against the
fault-free burst. Goals: 0 duplicates, 0 lost; uncertain only where a conversation was in flight.
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
from benchmarks.stack import REPO, settings_env
from infra.migrations import DEFAULT_MIGRATIONS_DIR, migrate
from infra.settings import Settings, load_settings
from infra.temporal_client import connect
from store.cohorts import ParticipantRecord, save_roster
from worker.devstack import EmbeddedPostgres, TemporalDevServer, free_port
from worker.devstack.mailsink import _StoreHandler
from worker.devstack.process import ChildProcess

# The worker gives up on the reply to the end of DATA after this (RFC 5321: 600 s; short here so the
# slow-relay scenario fits a run); the scripted slow relay answers later than that.
DATA_END_TIMEOUT = 5.0
SLOW_REPLY = DATA_END_TIMEOUT + 3.0
HEADER = (
    "| scenario | expected | delivered | duplicates | uncertain | refused (5xx, by script) | lost "
    "| burst s | vs fault-free |"
)


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


def _number(address: str) -> int:
    digits = "".join(c for c in address.split("@")[0] if c.isdigit())
    return int(digits or 0)


class ScriptedRelay(_StoreHandler):
    def __init__(self, mail_dir: Path) -> None:
        super().__init__(mail_dir)
        self.script = Script()
        self.connections = 0
        self.mails = 0

    def picked(self, every: int, address: str) -> bool:
        return every > 0 and _number(address) % every == 0

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.mails += 1
        if self.mails <= self.script.mail_421:
            return "421 4.3.2 too busy, try later"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        s = self.script
        s.seen[f"rcpt:{address}"] += 1
        if self.picked(s.rcpt_550, address):
            return "550 5.1.1 mailbox unavailable"
        if self.picked(s.rcpt_451_once, address) and s.seen[f"rcpt:{address}"] == 1:
            return "451 4.7.1 greylisted, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        s = self.script
        address = envelope.rcpt_tos[0]
        s.seen[f"data:{address}"] += 1
        first = s.seen[f"data:{address}"] == 1
        await asyncio.to_thread(self._store, envelope.original_content or envelope.content)
        if first and self.picked(s.drop_after_data, address):
            server.transport.abort()
            return "250 never heard"
        if first and self.picked(s.slow_end, address):
            await asyncio.sleep(SLOW_REPLY)
        return "250 Message accepted for delivery"

    def factory(self) -> asyncio.Protocol:
        self.connections += 1
        if self.connections <= self.script.greeting_421:
            return _Refuse()
        return SMTP(self, hostname="chaos-relay")


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
    postgres: EmbeddedPostgres
    relay: ScriptedRelay
    workers: list[ChildProcess]
    worker_env: dict[str, str] = field(default_factory=dict)  # MENTORFLOW_* settings for the workers

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


@asynccontextmanager
async def chaos_stack(root: Path, worker_env: dict[str, str] | None = None) -> AsyncIterator[Chaos]:
    async with AsyncExitStack() as exits:
        temporal = TemporalDevServer(root / "temporal", port=free_port(), ui_port=None)
        exits.callback(temporal.stop)
        await temporal.start()
        postgres = EmbeddedPostgres(root / "postgres" / "data", port=free_port())
        exits.callback(postgres.stop)
        await postgres.start()
        dsn = await postgres.ensure_database("mentorflow")
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn, DEFAULT_MIGRATIONS_DIR)
        finally:
            await conn.close()
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
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        exits.push_async_callback(pool.close)
        chaos = Chaos(root, settings, await connect(settings), pool, postgres, relay, [], worker_env or {})

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
    expected: int
    delivered: int
    duplicates: int
    uncertain: int
    refused: int
    lost: int
    seconds: float

    def row(self, baseline: float | None) -> str:
        ratio = f"{self.seconds / baseline:.1f}x" if baseline else "-"
        return (
            f"| {self.name} | {self.expected} | {self.delivered} | {self.duplicates} | {self.uncertain} "
            f"| {self.refused} | {self.lost} | {self.seconds:.1f} | {ratio} |"
        )


Fault = Callable[[Chaos, datetime], Awaitable[None]]


async def _launch_burst(chaos: Chaos, n: int, cohort: str) -> datetime:
    """A cohort of `n` whose first emails all fall due at the returned instant (a few seconds ahead)."""
    program = burst_program()
    due = (datetime.now(UTC) + timedelta(seconds=6 + n / 25)).replace(microsecond=0)
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
    chaos.relay.script = script
    slug = "".join(c if c.isalnum() else "-" for c in name)[:24].strip("-")
    cohort = f"chaos-{slug}-{uuid.uuid4().hex[:4]}"
    due = await _launch_burst(chaos, n, cohort)
    if fault is not None:
        await fault(chaos, due)
    await _settled(chaos, cohort, n, wait)
    await asyncio.sleep(SLOW_REPLY if script.slow_end else 1.0)  # a slow reply's copy lands meanwhile
    ledger = await chaos.pool.fetch(
        "select message_id, status, updated_at from send_ledger where cohort_id = $1", cohort
    )
    ids = {r["message_id"]: r["status"] for r in ledger}
    stored = [(mid, at) for mid, at in _stored(chaos.relay.mail_dir) if mid in ids]
    copies = Counter(mid for mid, _ in stored)
    uncertain = sum(1 for s in ids.values() if s == "uncertain")
    refused = sum(1 for s in ids.values() if s == "failed")
    lost = (
        n
        - len(ids)
        + sum(1 for mid, s in ids.items() if mid not in copies and s not in ("uncertain", "failed"))
    )
    ends = [at for _, at in stored] + [r["updated_at"].timestamp() for r in ledger if r["status"] != "sent"]
    seconds = max(ends) - due.timestamp() if ends else float("nan")
    return Outcome(
        name,
        n,
        len(copies),
        sum(c - 1 for c in copies.values()),
        uncertain,
        refused,
        lost,
        seconds,
    )


# ---- the faults -------------------------------------------------------------------------------------


async def _at(due: datetime, offset: float) -> None:
    await asyncio.sleep(max((due - datetime.now(UTC)).total_seconds() + offset, 0))


def kill_workers(kills: int, spread: float) -> Fault:
    """`kills` times at random moments within `spread` s of the due instant: kill -9 the worker and start
    a new one (as a supervisor would)."""

    async def fault(chaos: Chaos, due: datetime) -> None:
        rng = random.Random(kills)
        for moment in sorted(rng.uniform(0.05, spread) for _ in range(kills)):
            await _at(due, moment)
            chaos.kill_worker(signal.SIGKILL)
            await chaos.start_worker()

    return fault


def sigterm_worker(chaos_offset: float = 0.3) -> Fault:
    async def fault(chaos: Chaos, due: datetime) -> None:
        await _at(due, chaos_offset)
        old = chaos.workers[0]
        chaos.kill_worker(signal.SIGTERM)  # a rolling deploy: the new one starts as the old one drains
        await chaos.start_worker()
        await asyncio.to_thread(old.stop)

    return fault


def postgres_outage(after: float, down: float) -> Fault:
    async def fault(chaos: Chaos, due: datetime) -> None:
        await _at(due, after)
        await asyncio.to_thread(chaos.postgres.stop)
        await asyncio.sleep(down)
        await chaos.postgres.start()

    return fault


@dataclass(frozen=True)
class Scenario:
    name: str
    script: Script
    fault: Fault | None = None


def scenarios(kills: int, n: int) -> list[Scenario]:
    burst = max(0.5, n / 40)  # about how long a fault-free burst of n takes here
    return [
        Scenario("fault-free", Script()),
        Scenario(f"worker kill -9 x{kills} in the burst", Script(), kill_workers(kills, burst)),
        Scenario("worker SIGTERM in the burst (rolling deploy)", Script(), sigterm_worker()),
        Scenario("Postgres stopped 5 s mid-burst", Script(), postgres_outage(0.5, 5.0)),
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
            out("|---|---|---|---|---|---|---|---|---|")
            baseline: float | None = None
            wait = 60.0 + n / 5
            for sc in scenarios(kills, n):
                if only and sc.name.split(" ")[0] not in only and sc.name != "fault-free":
                    continue
                result = await run_scenario(chaos, sc.name, n, sc.script, sc.fault, wait)
                if sc.name == "fault-free":
                    baseline = result.seconds
                results.append(result)
                out(result.row(baseline))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return results


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
    n = args.n or (20 if args.smoke else 300)
    kills = args.kills or (2 if args.smoke else 5)
    only = {o.strip() for o in args.only.split(",") if o.strip()} or None
    env = {} if args.sticky is None else {"MENTORFLOW_STICKY_TIMEOUT_SECONDS": str(args.sticky)}
    asyncio.run(run(n, kills, only, lambda line: print(line, flush=True), env))


if __name__ == "__main__":
    main()
