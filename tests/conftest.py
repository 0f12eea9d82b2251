"""Shared fixtures, all on real components from worker/devstack (never mocks), all on free ports.

- `pg_server` (session): one embedded Postgres for the run; `database` (per test): a fresh DSN of a
  database created from a migrated template (fast); `db_pool`: an asyncpg pool on it.
- `temporal_env` (session): Temporal dev server with mentorflow's search attributes, pydantic converter.
- `time_skipping_env` (session): the time-skipping test server, pydantic converter.
- `mail_sink` (per test): the SMTP sink storing .eml files in a temporary directory.
- `settings` (per test): Settings pointing at all of the above.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from infra.migrations import DEFAULT_MIGRATIONS_DIR, migrate
from infra.settings import Settings, load_settings
from worker.devstack import (
    EmbeddedPostgres,
    ExternalPostgres,
    MailSink,
    PostgresServer,
    free_port,
    temporal_cli,
    temporal_test_server,
)
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

TEMPLATE_DB = "mentorflow_template"


def _docker_reachable() -> bool:
    if importlib.util.find_spec("testcontainers") is None:
        return False
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return not host.startswith("unix://") or Path(host.removeprefix("unix://")).exists()


@pytest.fixture(scope="session")
async def pg_server() -> AsyncIterator[PostgresServer]:
    """The run's Postgres: MENTORFLOW_TEST_POSTGRES_URL if set, else a testcontainers Postgres when a
    Docker engine is reachable, else the embedded one (the only choice on machines without Docker)."""
    if url := os.environ.get("MENTORFLOW_TEST_POSTGRES_URL"):
        yield ExternalPostgres(url)
        return
    if _docker_reachable():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:18", driver=None) as container:
            yield ExternalPostgres(container.get_connection_url())
        return
    # Not under pytest's tmp dir: every pytest session resets that to 0700, which locks out the
    # unprivileged user Postgres runs as (when tests run as root) if another session starts meanwhile.
    root = Path(tempfile.mkdtemp(prefix="mentorflow-test-pg-"))
    server = EmbeddedPostgres(root / "data", port=free_port(), unsafe_fast=True)
    try:
        await server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
async def migrated_template(pg_server: PostgresServer) -> str:
    """A database with every migration applied, the template of each test's database."""
    dsn = await pg_server.ensure_database(TEMPLATE_DB)
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn, DEFAULT_MIGRATIONS_DIR)
    finally:
        await conn.close()
    return TEMPLATE_DB


async def create_database(pg_server: PostgresServer, template: str = "template0") -> str:
    return await pg_server.ensure_database(f"t_{uuid.uuid4().hex[:16]}", template=template)


async def drop_database(pg_server: PostgresServer, dsn: str) -> None:
    name = dsn.rsplit("/", 1)[1]
    conn = await asyncpg.connect(pg_server.dsn())
    try:
        await conn.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await conn.close()


@pytest.fixture
async def database(pg_server: PostgresServer, migrated_template: str) -> AsyncIterator[str]:
    """DSN of a fresh, fully migrated database for this test alone."""
    dsn = await create_database(pg_server, migrated_template)
    yield dsn
    await drop_database(pg_server, dsn)


@pytest.fixture
async def empty_database(pg_server: PostgresServer) -> AsyncIterator[str]:
    """DSN of a fresh database with no migrations applied."""
    dsn = await create_database(pg_server)
    yield dsn
    await drop_database(pg_server, dsn)


@pytest.fixture
async def db_pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database, min_size=1, max_size=5)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()


async def _time_skipping_server() -> WorkflowEnvironment:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server(),
        data_converter=pydantic_data_converter,
    )
    # Journeys upsert their search attributes; the test server needs them registered too (it can add
    # but not list them, so this is the bare add).
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="default",
            search_attributes={
                k.name: IndexedValueType.ValueType(k.indexed_value_type.value) for k in SEARCH_ATTRIBUTES
            },
        )
    )
    return env


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await _time_skipping_server()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
async def own_time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of the test's own: the weeks it skips move no other test's clock."""
    env = await _time_skipping_server()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
async def mail_sink(tmp_path: Path) -> AsyncIterator[MailSink]:
    sink = MailSink(tmp_path / "mail", port=free_port())
    await sink.start()
    yield sink
    await sink.stop()


@pytest.fixture
def settings(
    tmp_path: Path, database: str, temporal_env: WorkflowEnvironment, mail_sink: MailSink
) -> Settings:
    """Settings pointing at this test's database, the session's Temporal and this test's mail sink."""
    return load_settings(
        state_dir=tmp_path / "state",
        database_url=database,
        temporal_address=temporal_env.client.service_client.config.target_host,
        smtp_port=mail_sink.port,
        metrics_port=0,
        task_queue=f"test-{uuid.uuid4().hex[:8]}",
    )
