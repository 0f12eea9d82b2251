"""The reusable real components: mail sink, search-attribute setup, time-skipping server, logging."""

from __future__ import annotations

import io
import json
import logging
import uuid
from datetime import timedelta
from pathlib import Path

import aiosmtplib
from temporalio import workflow
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from infra.logging import configure_logging
from infra.settings import load_settings
from tests.foundation.clirun import run_cli
from worker.devstack import MailSink, temporal_cli
from worker.temporal_setup import ensure_search_attributes
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES


async def test_mail_sink_stores_each_message_as_eml(mail_sink: MailSink) -> None:
    for n in (1, 2):
        await aiosmtplib.send(
            f"From: a@example.org\r\nTo: b@example.org\r\nMessage-ID: <send-{n}@mentorflow>\r\n"
            f"Subject: nudge {n}\r\n\r\nbody {n}\r\n",
            sender="a@example.org",
            recipients=["b@example.org"],
            hostname="127.0.0.1",
            port=mail_sink.port,
        )
    files = mail_sink.messages()
    assert [f.name.split("-", 1)[1] for f in files] == ["send-1-mentorflow.eml", "send-2-mentorflow.eml"]
    assert b"body 2" in files[1].read_bytes()
    assert [p.name for p in mail_sink.mail_dir.iterdir() if not p.name.endswith(".eml")] == []


async def test_temporal_setup_registers_missing_search_attributes_once(tmp_path: Path) -> None:
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=temporal_cli(), ui=False)
    try:
        added = await ensure_search_attributes(env.client, "default")
        assert added == sorted(k.name for k in SEARCH_ATTRIBUTES)
        assert await ensure_search_attributes(env.client, "default") == []
        target = env.client.service_client.config.target_host
        again = run_cli("temporal", "setup", cwd=tmp_path, temporal_address=target)
        assert again.returncode == 0
        assert "already registered" in again.stderr
    finally:
        await env.shutdown()


@workflow.defn(sandboxed=False)
class LongSleep:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(timedelta(days=365))
        return "a year later"


async def test_time_skipping_env_skips_a_year(time_skipping_env: WorkflowEnvironment) -> None:
    client = time_skipping_env.client
    assert client.data_converter is pydantic_data_converter
    async with Worker(
        client, task_queue="skip", workflows=[LongSleep], workflow_runner=UnsandboxedWorkflowRunner()
    ):
        result = await client.execute_workflow(
            LongSleep.run, id=f"sleep-{uuid.uuid4().hex[:6]}", task_queue="skip"
        )
    assert result == "a year later"


def test_json_logs_carry_temporal_context(monkeypatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        configure_logging(load_settings(log_format="auto"))  # not a TTY: JSON
        logging.getLogger("temporalio.activity").info(
            "sending nudge",
            extra={"temporal_activity": {"activity_type": "send_nudge", "workflow_id": "journey-c1~p1"}},
        )
        record = json.loads(stream.getvalue().strip().splitlines()[-1])
        assert record["event"] == "sending nudge"
        assert record["workflow_id"] == "journey-c1~p1"
        assert record["activity_type"] == "send_nudge"
        assert record["level"] == "info"
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
