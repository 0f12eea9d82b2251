"""User errors are one line on stderr with a documented exit code, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

from cli.errors import (
    EXIT_INVALID,
    EXIT_MIGRATION,
    EXIT_POSTGRES_UNREACHABLE,
    EXIT_TEMPORAL_UNREACHABLE,
)
from infra.migrations import DEFAULT_MIGRATIONS_DIR
from tests.foundation.clirun import run_cli
from worker.devstack import free_port


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_bad_database_url_names_the_setting(tmp_path: Path) -> None:
    result = run_cli("db", "migrate", cwd=tmp_path, database_url="mysql://db.example/x")
    assert result.returncode == EXIT_INVALID
    line = one_line(result.stderr)
    assert "MENTORFLOW_DATABASE_URL (got 'mysql://db.example/x')" in line
    assert "must start with postgresql://" in line


def test_bad_port_names_the_setting(tmp_path: Path) -> None:
    result = run_cli("dev", "up", cwd=tmp_path, dev_temporal_port="seven")
    assert result.returncode == EXIT_INVALID
    assert "setting MENTORFLOW_DEV_TEMPORAL_PORT (got 'seven')" in one_line(result.stderr)


def test_secret_values_are_not_echoed(tmp_path: Path) -> None:
    result = run_cli("db", "migrate", cwd=tmp_path, link_secret="short-secret")
    assert result.returncode == EXIT_INVALID
    line = one_line(result.stderr)
    assert "MENTORFLOW_LINK_SECRET" in line and "at least 16 characters" in line
    assert "short-secret" not in line


def test_half_tls_configuration_is_refused(tmp_path: Path) -> None:
    cert = tmp_path / "client.pem"
    cert.write_text("not really a cert")
    result = run_cli("temporal", "setup", cwd=tmp_path, temporal_tls_cert=str(cert))
    assert result.returncode == EXIT_INVALID
    assert "MENTORFLOW_TEMPORAL_TLS_KEY: set both or neither" in one_line(result.stderr)


def test_unreachable_postgres(tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql://postgres:hunter2secret@127.0.0.1:{port}/mentorflow"
    result = run_cli("db", "migrate", cwd=tmp_path, database_url=url)
    assert result.returncode == EXIT_POSTGRES_UNREACHABLE
    line = one_line(result.stderr)
    assert f"Postgres at postgresql://postgres:***@127.0.0.1:{port}/mentorflow is unreachable" in line
    assert "hunter2secret" not in line


def test_unreachable_temporal(tmp_path: Path) -> None:
    port = free_port()
    result = run_cli("temporal", "setup", cwd=tmp_path, temporal_address=f"127.0.0.1:{port}")
    assert result.returncode == EXIT_TEMPORAL_UNREACHABLE
    assert f"Temporal at 127.0.0.1:{port} (namespace 'default') is unreachable" in one_line(result.stderr)


async def test_edited_migration_via_cli(empty_database: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    shutil.copytree(DEFAULT_MIGRATIONS_DIR, directory)
    ok = run_cli("db", "migrate", cwd=tmp_path, database_url=empty_database, migrations_dir=str(directory))
    assert ok.returncode == 0, ok.stderr
    again = run_cli("db", "migrate", cwd=tmp_path, database_url=empty_database, migrations_dir=str(directory))
    assert again.returncode == 0 and "schema is up to date" in again.stderr
    edited = directory / "0001_participants.sql"
    edited.write_text(edited.read_text().replace("not null", "null", 1))
    refused = run_cli(
        "db", "migrate", cwd=tmp_path, database_url=empty_database, migrations_dir=str(directory)
    )
    assert refused.returncode == EXIT_MIGRATION
    assert f"{edited}: changed after it was applied" in one_line(refused.stderr)
