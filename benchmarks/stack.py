"""The benchmark's own stack: Temporal dev server (SQLite, WAL), Postgres, mail sink, all on free ports
in a temporary state directory, and the worker as a separate process whose memory can be read."""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import psutil
from temporalio.client import Client

from infra.migrations import DEFAULT_MIGRATIONS_DIR, migrate
from infra.settings import Settings, load_settings
from infra.temporal_client import connect
from worker.devstack import EmbeddedPostgres, MailSink, TemporalDevServer, free_port
from worker.devstack.process import ChildProcess

REPO = Path(__file__).resolve().parents[1]
# The SDK's per-workflow-type count of workflow tasks run (a Prometheus histogram's count).
_WFT_COUNT = "temporal_workflow_task_execution_latency_count"


def settings_env(settings: Settings, metrics_port: int = 0) -> dict[str, str]:
    """The environment a mentorflow process needs to use this stack (nothing inherited from MENTORFLOW_*)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MENTORFLOW_")}
    values: dict[str, object] = {
        "state_dir": settings.state_dir,
        "database_url": settings.postgres_dsn,
        "temporal_address": settings.temporal_target,
        "smtp_port": settings.smtp_target[1],
        "task_queue": settings.task_queue,
        "metrics_port": metrics_port,
        "log_level": "warning",
        "log_format": "json",
    }
    env.update({f"MENTORFLOW_{k.upper()}": str(v) for k, v in values.items()})
    return env


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process and its living children have used."""
    proc = psutil.Process(pid)
    total = 0.0
    for p in (proc, *proc.children(recursive=True)):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(p.cpu_times()[:2])
    return total


@dataclass
class BenchStack:
    root: Path
    settings: Settings
    client: Client
    pool: asyncpg.Pool
    mail: MailSink
    worker: ChildProcess
    metrics_port: int
    # The other processes whose CPU a figure reports: the parts of the stack that share the 2 cores.
    parts: dict[str, int]  # name -> pid (its children count too)

    def cpu(self) -> dict[str, float]:
        """CPU seconds each part has used so far: the stack's processes with their children, and this
        process (the mail sink and the benchmark's own client)."""
        used = {name: _tree_cpu(pid) for name, pid in {**self.parts, "worker": self.worker.pid}.items()}
        # Not its children: they are the stack's other parts.
        used["benchmark + mail sink"] = sum(psutil.Process().cpu_times()[:2])
        return used

    def worker_cpu(self) -> float:
        """CPU seconds the worker process has used so far (user + system)."""
        return _tree_cpu(self.worker.pid)

    async def worker_quiet(self, seconds: float = 600) -> None:
        """Wait until the worker has gone quiet (under 5% of a core for 2 s): every journey started so far
        has run its first task, so the next figure does not pay for this one's backlog."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            before = self.worker_cpu()
            await asyncio.sleep(2.0)
            if self.worker_cpu() - before < 0.1:
                return

    async def workflow_tasks(self, workflow_type: str) -> int:
        """Workflow tasks the worker has completed for `workflow_type` so far (its Prometheus endpoint)."""
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{self.metrics_port}/metrics")).text
        return sum(
            int(float(line.rsplit(" ", 1)[1]))
            for line in text.splitlines()
            if line.startswith(_WFT_COUNT) and f'workflow_type="{workflow_type}"' in line
        )

    async def first_tasks_done(self, workflow_type: str, before: int, n: int, seconds: float = 900) -> float:
        """Wait until `n` more workflow tasks of `workflow_type` than `before` have completed (each new
        journey's first task: it is then live, its timer set); the perf_counter instant they had."""
        deadline = time.monotonic() + seconds
        while await self.workflow_tasks(workflow_type) < before + n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{workflow_type}: {n} first workflow tasks not done in {seconds:.0f} s")
            await asyncio.sleep(0.05)
        return time.perf_counter()

    def worker_rss(self) -> int:
        """Resident set size of the worker process, bytes."""
        rss: int = psutil.Process(self.worker.pid).memory_info().rss
        return rss


async def _start_worker(
    root: Path, settings: Settings, profile: Path | None, metrics_port: int, env: dict[str, str]
) -> ChildProcess:
    # Bytecode as the production image has it (Dockerfile: compileall). Where PYTHONDONTWRITEBYTECODE is
    # set (as on these machines) there would be none, and the sandbox would compile the workflow module
    # from source for every new workflow run.
    for package in ("domain", "workflows", "activities", "worker", "benchmarks"):
        compileall.compile_dir(REPO / package, quiet=1)
    ready = root / "worker.ready"
    argv = [sys.executable, "-m", "benchmarks.worker", str(ready)]
    if profile is not None:
        # pyinstrument writes its text report when the worker exits (SIGTERM stops it gracefully).
        argv[1:1] = ["-m", "pyinstrument", "-r", "text", "-o", str(profile / "worker.txt")]
    worker = ChildProcess(
        "bench-worker",
        argv,
        log_path=root / "worker.log",
        env=settings_env(settings, metrics_port) | env,
        cwd=REPO,
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        if not worker.running() or time.monotonic() > deadline:
            worker.stop()
            raise RuntimeError(f"benchmark worker did not start: {worker.log_tail()}")
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # let its pollers reach the server
    return worker


async def migrated_database(postgres: EmbeddedPostgres) -> str:
    """The `mentorflow` database on a started Postgres, migrated; its DSN."""
    dsn = await postgres.ensure_database("mentorflow")
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn, DEFAULT_MIGRATIONS_DIR)
    finally:
        await conn.close()
    return dsn


async def start_servers(exits: AsyncExitStack, root: Path) -> tuple[TemporalDevServer, EmbeddedPostgres, str]:
    """A Temporal dev server and a migrated Postgres under `root`, stopped with `exits`; and the DSN."""
    temporal = TemporalDevServer(root / "temporal", port=free_port(), ui_port=None)
    exits.callback(temporal.stop)
    await temporal.start()
    postgres = EmbeddedPostgres(root / "postgres" / "data", port=free_port())
    exits.callback(postgres.stop)
    await postgres.start()
    return temporal, postgres, await migrated_database(postgres)


@asynccontextmanager
async def bench_stack(
    root: Path, *, profile: Path | None = None, worker_env: dict[str, str] | None = None
) -> AsyncIterator[BenchStack]:
    """The stack, its worker process started; with `profile`, the worker runs under pyinstrument;
    `worker_env` adds MENTORFLOW_* settings of the worker's own (e.g. its sticky timeout)."""
    async with AsyncExitStack() as exits:
        temporal, postgres, dsn = await start_servers(exits, root)
        mail = MailSink(root / "mail", port=free_port())
        await mail.start()
        exits.push_async_callback(mail.stop)
        settings = load_settings(
            state_dir=root / "state",
            database_url=dsn,
            temporal_address=temporal.target,
            smtp_port=mail.port,
            metrics_port=0,
            task_queue="bench",
        )
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=8)
        exits.push_async_callback(pool.close)
        client = await connect(settings)
        metrics_port = free_port()
        worker = await _start_worker(root, settings, profile, metrics_port, worker_env or {})
        exits.callback(worker.stop)
        assert temporal.process is not None and postgres.process is not None
        parts = {"Temporal server": temporal.process.pid, "Postgres": postgres.process.pid}
        yield BenchStack(root, settings, client, pool, mail, worker, metrics_port, parts)


class CpuSampler:
    """Samples `stack.cpu()` every `interval` s while it runs, so a figure can tell what each part spent
    inside a window it only knows afterwards (a burst's first and last email)."""

    def __init__(self, stack: BenchStack, interval: float = 0.25) -> None:
        self._stack, self._interval = stack, interval
        self._samples: list[tuple[float, dict[str, float]]] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> CpuSampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._samples.append((time.time(), self._stack.cpu()))

    async def _run(self) -> None:
        while True:
            self._samples.append((time.time(), await asyncio.to_thread(self._stack.cpu)))
            await asyncio.sleep(self._interval)

    def between(self, first: float, last: float) -> dict[str, float]:
        """CPU seconds each part used from the last sample at or before `first` (epoch seconds) to the
        first sample at or after `last`."""
        lo = max((s for s in self._samples if s[0] <= first), key=lambda s: s[0], default=self._samples[0])
        hi = min((s for s in self._samples if s[0] >= last), key=lambda s: s[0], default=self._samples[-1])
        return {name: hi[1][name] - lo[1].get(name, 0.0) for name in hi[1]}
