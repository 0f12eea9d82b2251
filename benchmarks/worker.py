"""`python -m benchmarks.worker READY_FILE`: mentorflow's worker (settings from MENTORFLOW_*) and, in the
same process with the same tuning, a worker for the raw baselines. Touches READY_FILE once both poll."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from temporalio.worker import Worker

from benchmarks.raw import RAW_ACTIVITIES, RAW_QUEUE, RAW_WORKFLOWS
from infra.settings import get_settings
from infra.temporal_client import connect
from worker.main import run_worker, tuning
from worker.metrics import metrics_runtime


async def main(ready: Path) -> None:
    settings = get_settings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    client = await connect(settings, runtime=metrics_runtime(settings))
    raw = Worker(
        client,
        task_queue=RAW_QUEUE,
        workflows=RAW_WORKFLOWS,
        activities=RAW_ACTIVITIES,
        **tuning(settings),
    )
    async with raw:
        ours = asyncio.create_task(run_worker(settings, stop=stop, client=client))
        await asyncio.to_thread(ready.touch)
        await ours


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
