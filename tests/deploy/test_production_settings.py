"""`mentorflow` configured exactly like production: nothing may lean on the embedded defaults.

A Temporal dev server with a non-default namespace and no search attributes, a fresh Postgres
database with no tables, explicit address/namespace/task queue/database/SMTP settings, TLS off,
and the embedded ports pointed at closed ports so any fallback to them fails. Then the same
sequence the Compose file and the Kubernetes Job run: migrate, temporal setup, worker; and the
worker must stop cleanly on SIGTERM as Kubernetes stops it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, DescribeTaskQueueRequest
from temporalio.client import Client

from infra.migrations import DEFAULT_MIGRATIONS_DIR, discover
from worker.devstack import EmbeddedPostgres, MailSink, free_port, temporal_cli
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

NAMESPACE = "prod-like"
TASK_QUEUE = "mentorflow-prod-like"
# The console script next to this interpreter (CI may not have the venv on PATH).
_BESIDE = Path(sys.executable).parent / "mentorflow"
MENTORFLOW = str(_BESIDE) if _BESIDE.is_file() else shutil.which("mentorflow")


@pytest.fixture
async def bare_temporal(tmp_path: Path) -> AsyncIterator[str]:
    """A dev server on a free port with only the `prod-like` namespace: no mentorflow attributes."""
    port = free_port()
    argv = [temporal_cli(), "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port)]
    argv += ["--namespace", NAMESPACE, "--log-level", "warn"]
    log = (tmp_path / "temporal.log").open("wb")
    proc = await asyncio.create_subprocess_exec(*argv, stdout=log, stderr=subprocess.STDOUT)
    target = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.returncode is None, f"dev server exited: {(tmp_path / 'temporal.log').read_text()}"
            try:
                client = await Client.connect(target, namespace=NAMESPACE)
                request = DescribeNamespaceRequest(namespace=NAMESPACE)
                await client.workflow_service.describe_namespace(request)
                break
            except Exception:
                assert time.monotonic() < deadline, "temporal dev server did not start in 60 s"
                await asyncio.sleep(0.2)
        yield target
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
        log.close()


def _production_env(
    tmp_path: Path, temporal: str, database: str, smtp_port: int, metrics_port: int
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MENTORFLOW_")}
    closed = str(free_port())  # nothing listens here: a fallback to the embedded stack fails
    env |= {
        "MENTORFLOW_TEMPORAL_ADDRESS": temporal,
        "MENTORFLOW_TEMPORAL_NAMESPACE": NAMESPACE,
        "MENTORFLOW_TASK_QUEUE": TASK_QUEUE,
        "MENTORFLOW_DATABASE_URL": database,
        "MENTORFLOW_SMTP_HOST": "127.0.0.1",
        "MENTORFLOW_SMTP_PORT": str(smtp_port),
        "MENTORFLOW_SMTP_SECURITY": "none",
        "MENTORFLOW_SMTP_EHLO_NAME": "worker.mentorship.example.org",
        "MENTORFLOW_MAIL_FROM": "mentorship@example.org",
        "MENTORFLOW_PUBLIC_BASE_URL": "https://mentorship.example.org",
        "MENTORFLOW_LINK_SECRET": "a-production-link-secret-of-enough-length",
        "MENTORFLOW_METRICS_HOST": "127.0.0.1",
        "MENTORFLOW_METRICS_PORT": str(metrics_port),
        "MENTORFLOW_LOG_FORMAT": "json",
        "MENTORFLOW_STATE_DIR": str(tmp_path / "state"),
        "MENTORFLOW_DEV_TEMPORAL_PORT": closed,
        "MENTORFLOW_DEV_POSTGRES_PORT": closed,
    }
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    assert MENTORFLOW, "the mentorflow entry point is not installed"
    return subprocess.run(
        [MENTORFLOW, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as resp:
        body: bytes = resp.read()
    return body.decode()


async def test_worker_runs_on_production_shaped_settings_and_stops_on_sigterm(
    tmp_path: Path, bare_temporal: str, pg_server: EmbeddedPostgres, empty_database: str, mail_sink: MailSink
) -> None:
    metrics_port = free_port()
    env = _production_env(tmp_path, bare_temporal, empty_database, mail_sink.port, metrics_port)
    workdir = tmp_path / "app"  # no .env here: every setting comes from the environment
    workdir.mkdir()

    migrate = await asyncio.to_thread(_run, ["db", "migrate"], env, workdir)
    assert migrate.returncode == 0, migrate.stderr
    conn = await asyncpg.connect(empty_database)
    try:
        applied = await conn.fetchval("select count(*) from schema_migrations")
    finally:
        await conn.close()
    assert applied == len(discover(DEFAULT_MIGRATIONS_DIR))

    setup = await asyncio.to_thread(_run, ["temporal", "setup"], env, workdir)
    assert setup.returncode == 0, setup.stderr
    client = await Client.connect(bare_temporal, namespace=NAMESPACE)
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=NAMESPACE)
    )
    assert {key.name for key in SEARCH_ATTRIBUTES} <= set(listed.custom_attributes)

    worker_log = (tmp_path / "worker.log").open("w")
    assert MENTORFLOW
    proc = await asyncio.create_subprocess_exec(
        MENTORFLOW, "worker", env=env, cwd=workdir, stdout=worker_log, stderr=worker_log
    )
    try:
        # Polling the configured queue in the configured namespace, metrics labelled with both.
        deadline = time.monotonic() + 60
        pollers = 0
        metrics = ""
        while time.monotonic() < deadline and proc.returncode is None:
            described = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=NAMESPACE,
                    task_queue=TaskQueue(name=TASK_QUEUE),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
                )
            )
            pollers = len(described.pollers)
            try:
                metrics = await asyncio.to_thread(_scrape, f"http://127.0.0.1:{metrics_port}/metrics")
            except OSError:
                metrics = ""
            if pollers and "temporal_worker_task_slots_available" in metrics:
                break
            await asyncio.sleep(0.3)
        log_text = (tmp_path / "worker.log").read_text()
        assert proc.returncode is None, f"worker exited early ({proc.returncode}): {log_text[-2000:]}"
        assert pollers >= 1, f"no activity poller on {TASK_QUEUE}: {log_text[-2000:]}"
        slots = re.search(r"temporal_worker_task_slots_available\{([^}]*)\}", metrics)
        assert slots, "worker metrics endpoint has no task-slot gauge"
        assert f'namespace="{NAMESPACE}"' in slots.group(1) and f'task_queue="{TASK_QUEUE}"' in slots.group(1)

        proc.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(proc.wait(), 60)
        log_text = (tmp_path / "worker.log").read_text()
        assert returncode == 0, f"worker did not stop cleanly on SIGTERM: {log_text[-2000:]}"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        worker_log.close()
