"""Credentials never printed: in settings errors, connection errors, CLI error lines and log lines."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from cli.errors import EXIT_INVALID, EXIT_POSTGRES_UNREACHABLE
from infra.logging import configure_logging, get_logger
from infra.postgres import redact
from infra.settings import load_settings, redact_secrets
from tests.foundation.clirun import run_cli
from worker.devstack import free_port


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://admin:S3cret@db.example:5432/m", "postgresql://admin:***@db.example:5432/m"),
        ("postgresql://admin@db.example/m?sslmode=require&password=S3cret", "?sslmode=require&password=***"),
        ("postgresql://admin:p@S3cret@db.example/m", "postgresql://admin:***@db.example/m"),
        ("postgresql://db.example/m?user=a&PASSWORD=S3cret", "PASSWORD=***"),
    ],
)
def test_every_form_of_database_password_is_redacted(dsn: str, shown: str) -> None:
    out = redact(dsn)
    assert "S3cret" not in out and shown in out


def test_an_invalid_database_url_is_named_without_its_password(tmp_path: Path) -> None:
    result = run_cli("db", "migrate", cwd=tmp_path, database_url="mysql://admin:S3cret@db.example/x")
    assert result.returncode == EXIT_INVALID
    assert "S3cret" not in result.stderr
    assert "MENTORFLOW_DATABASE_URL (got 'mysql://admin:***@db.example/x')" in result.stderr


def test_an_unreachable_database_with_a_query_password_is_named_without_it(tmp_path: Path) -> None:
    url = f"postgresql://admin@127.0.0.1:{free_port()}/m?password=S3cretQuery"
    result = run_cli("db", "migrate", cwd=tmp_path, database_url=url)
    assert result.returncode == EXIT_POSTGRES_UNREACHABLE, result.stderr
    assert "S3cretQuery" not in result.stderr and "password=***" in result.stderr


def test_known_secrets_are_stripped_from_any_message() -> None:
    settings = load_settings(
        smtp_password="smtp-pass-Zx81",
        temporal_api_key="tmprl-key-Q7a2",
        link_secret="link-secret-0123456789abcdef",
    )
    text = "auth failed for smtp-pass-Zx81; key tmprl-key-Q7a2; signing link-secret-0123456789abcdef"
    out = redact_secrets(text, settings.secret_values)
    assert "smtp-pass-Zx81" not in out and "tmprl-key-Q7a2" not in out and "0123456789abcdef" not in out


def test_log_lines_carry_no_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings(
        log_format="json",
        smtp_password="smtp-pass-Zx81",
        database_url="postgresql://app:DbPass-991@db.example/m",
    )
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging(settings)
    try:
        get_logger("test").warning(
            "connecting",
            dsn="postgresql://app:DbPass-991@db.example/m?password=DbPass-991",
            note="smtp-pass-Zx81",
        )
        logging.getLogger("other").error("login with password=hunter2 refused")
        try:
            raise RuntimeError("relay said no to smtp-pass-Zx81")
        except RuntimeError:
            logging.getLogger("other").exception("send failed")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert len(lines) == 3, err
    for secret in ("DbPass-991", "smtp-pass-Zx81", "hunter2"):
        assert secret not in err
