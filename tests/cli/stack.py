"""The CLI as a subprocess against this test's Postgres, the session's Temporal dev server and a worker
running in-process (so launches and journeys really run)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from infra.settings import Settings
from tests.domain.small_program import small_files
from tests.foundation.clirun import MENTORFLOW, clean_env
from worker.main import run_worker


def write_program(root: Path) -> Path:
    for rel, text in small_files().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def cli_env(settings: Settings) -> dict[str, str]:
    return clean_env(
        state_dir=str(settings.state_dir),
        database_url=settings.postgres_dsn,
        temporal_address=settings.temporal_target,
        smtp_port=settings.smtp_target[1],
        task_queue=settings.task_queue,
        metrics_port=0,
    )


async def cli(
    settings: Settings, *args: str, cwd: Path, seconds: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `mentorflow ARGS` without blocking the event loop the worker runs on."""
    return await asyncio.to_thread(
        subprocess.run,
        [MENTORFLOW, *args],
        cwd=cwd,
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=seconds,
        check=False,
    )


def popen(settings: Settings, *args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [MENTORFLOW, *args],
        cwd=cwd,
        env=cli_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@asynccontextmanager
async def worker(settings: Settings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(settings, stop=stop))
    try:
        yield
    finally:
        stop.set()
        await task


def roster(path: Path, rows: list[str]) -> Path:
    header = (
        "participant_id,name,email,timezone,send_days,send_time,personas,mentor_email,mission,conferences"
    )
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path
