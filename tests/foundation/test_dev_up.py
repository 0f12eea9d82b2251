"""`mentorflow dev up` as a user runs it: everything answers, SIGTERM stops every child, state survives."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import asyncpg
import httpx
import psutil
import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import ListNamespacesRequest
from temporalio.client import Client, WorkflowExecutionStatus

from cli.errors import EXIT_DEVSTACK
from tests.foundation.clirun import MENTORFLOW, clean_env, run_cli
from worker.devstack import free_port, port_in_use
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES


class DevUp:
    """A running `mentorflow dev up`; `ready()` waits for its report on stdout."""

    def __init__(self, cwd: Path, settings: dict[str, str | int]) -> None:
        self.proc = subprocess.Popen(
            [MENTORFLOW, "dev", "up"],
            cwd=cwd,
            env=clean_env(**settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._ready = threading.Event()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout.append(line)
            if line.startswith("# ready"):
                self._ready.set()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"dev up not ready (exit {self.proc.returncode}): {''.join(self.stderr)[-2000:]}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture
def stack_settings(tmp_path: Path) -> dict[str, str | int]:
    return {
        "state_dir": str(tmp_path / "state"),
        "dev_temporal_port": free_port(),
        "dev_ui_port": free_port(),
        "dev_postgres_port": free_port(),
        "smtp_port": free_port(),
        "metrics_port": free_port(),
        "web_port": free_port(),
        "log_format": "json",
    }


@pytest.fixture
def dev_up(tmp_path: Path, stack_settings: dict[str, str | int]) -> Iterator[DevUp]:
    running: list[DevUp] = []

    def start() -> DevUp:
        up = DevUp(tmp_path, stack_settings)
        running.append(up)
        up.ready()
        return up

    yield start  # type: ignore[misc]
    for up in running:
        up.stop()


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


async def test_dev_up_serves_everything_and_stops_cleanly(
    dev_up, stack_settings: dict[str, str | int], tmp_path: Path
) -> None:
    s = stack_settings
    up = dev_up()
    report = "".join(up.stdout)
    assert f"http://127.0.0.1:{s['dev_ui_port']}" in report
    assert f"postgresql://postgres@127.0.0.1:{s['dev_postgres_port']}/mentorflow" in report
    assert str(tmp_path / "state" / "mail") in report

    # Temporal answers, with the namespace and every search attribute.
    client = await Client.connect(f"127.0.0.1:{s['dev_temporal_port']}")
    namespaces = await client.workflow_service.list_namespaces(ListNamespacesRequest())
    assert "default" in [n.namespace_info.name for n in namespaces.namespaces]
    attrs = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace="default")
    )
    assert {k.name for k in SEARCH_ATTRIBUTES} <= set(attrs.custom_attributes)

    # Postgres answers with the migrations applied.
    dsn = f"postgresql://postgres@127.0.0.1:{s['dev_postgres_port']}/mentorflow"
    conn = await asyncpg.connect(dsn)
    try:
        assert 1 in [r["version"] for r in await conn.fetch("select version from schema_migrations")]
        await conn.execute("insert into cohorts values ('fall2026', 'medtwitter', '2026-09-01')")
    finally:
        await conn.close()

    # The UI serves HTML; the worker exposes Prometheus metrics.
    async with httpx.AsyncClient(timeout=10) as http:
        ui = await http.get(f"http://127.0.0.1:{s['dev_ui_port']}/")
        assert ui.status_code == 200 and "<html" in ui.text.lower()
        metrics = await http.get(f"http://127.0.0.1:{s['metrics_port']}/metrics")
        assert "temporal_" in metrics.text

    # A message sent to the sink lands as an .eml file.
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "mentorflow@example.org", "p1@example.org", "Welcome"
    msg["Message-ID"] = "<nudge-1.fall2026@mentorflow>"
    msg.set_content("Hello from the smoke test")
    await aiosmtplib.send(msg, hostname="127.0.0.1", port=int(s["smtp_port"]))
    files = list((tmp_path / "state" / "mail").glob("*.eml"))
    assert [f.name.split("-", 1)[1] for f in files] == ["nudge-1.fall2026-mentorflow.eml"]
    assert b"Hello from the smoke test" in files[0].read_bytes()

    # A workflow nobody works on stays open: the restart must find it.
    await client.start_workflow("NoSuchWorkflow", id="smoke-restart", task_queue="nobody-listens")

    children = psutil.Process(up.proc.pid).children(recursive=True)
    names = " ".join(" ".join(c.cmdline()) for c in children)
    assert "start-dev" in names and "postgres" in names
    assert up.stop() == 0
    assert alive(children) == [], [c.cmdline() for c in alive(children)]
    for key in stack_settings:
        if not key.endswith("_port"):
            continue
        assert not port_in_use(int(s[key])), key

    # Restart on the same state directory: yesterday's workflow and rows are there.
    up2 = dev_up()
    client = await Client.connect(f"127.0.0.1:{s['dev_temporal_port']}")
    desc = await client.get_workflow_handle("smoke-restart").describe()
    assert desc.status == WorkflowExecutionStatus.RUNNING
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("select program from cohorts where cohort_id = 'fall2026'") == "medtwitter"
    finally:
        await conn.close()
    assert up2.stop() == 0


async def test_port_in_use_is_named_and_nothing_starts(
    stack_settings: dict[str, str | int], tmp_path: Path
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        settings = {**stack_settings, "dev_postgres_port": taken}
        result = await asyncio.to_thread(run_cli, "dev", "up", cwd=tmp_path, **settings)
    assert result.returncode == EXIT_DEVSTACK
    assert (
        f"port {taken} (Postgres) is already in use; stop what holds it or set MENTORFLOW_DEV_POSTGRES_PORT"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not port_in_use(int(stack_settings["dev_temporal_port"]))
    assert not (tmp_path / "state" / "temporal.db").exists()
