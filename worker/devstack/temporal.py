"""The Temporal dev server (`temporal server start-dev`) with its Web UI, state in SQLite (WAL)."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from worker.devstack.binaries import temporal_cli
from worker.devstack.process import ChildProcess
from workflows import search_attributes

_SA_TYPE_NAMES = {
    "KEYWORD": "Keyword",
    "KEYWORD_LIST": "KeywordList",
    "DATETIME": "Datetime",
    "TEXT": "Text",
    "INT": "Int",
    "FLOAT": "Double",
    "BOOL": "Bool",
}


def search_attribute_flags() -> list[str]:
    flags: list[str] = []
    for key in search_attributes.ALL:
        flags += ["--search-attribute", f"{key.name}={_SA_TYPE_NAMES[key.indexed_value_type.name]}"]
    return flags


class TemporalDevServer:
    def __init__(
        self, state_dir: Path, *, port: int, ui_port: int | None, namespace: str = "default"
    ) -> None:
        self.state_dir = state_dir
        self.port = port
        self.ui_port = ui_port
        self.namespace = namespace
        self.process: ChildProcess | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return f"http://127.0.0.1:{self.ui_port}" if self.ui_port else None

    def argv(self) -> list[str]:
        argv = [
            temporal_cli(),
            "server",
            "start-dev",
            "--db-filename",
            str(self.state_dir / "temporal.db"),
            # WAL: persisted state without serialising every write (see DESIGN.md section 3).
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--namespace",
            self.namespace,
            "--log-level",
            "warn",
            *search_attribute_flags(),
        ]
        argv += ["--ui-port", str(self.ui_port)] if self.ui_port else ["--headless"]
        return argv

    async def start(self, startup_seconds: float = 60.0) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.process = ChildProcess("temporal", self.argv(), log_path=self.state_dir / "temporal.log")
        await self._wait_ready(startup_seconds)

    async def _wait_ready(self, seconds: float) -> None:
        assert self.process is not None

        async def answers() -> bool:
            client = await Client.connect(self.target, namespace=self.namespace)
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=self.namespace)
            )
            return self.ui_url is None or await asyncio.to_thread(_http_ok, self.ui_url)

        await self.process.wait_ready("Temporal dev server", self.target, answers, seconds)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False
