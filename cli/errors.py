"""One place that turns expected failures into one line on stderr and a documented exit code."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

# Exit codes (documented in README.md).
EXIT_FAILURE = 1  # an unexpected error (a bug): traceback shown
EXIT_INVALID = 2  # bad input or settings
EXIT_TEMPORAL_UNREACHABLE = 3
EXIT_POSTGRES_UNREACHABLE = 4
EXIT_MIGRATION = 5  # a migration refused (edited after applying) or failed
EXIT_DEVSTACK = 6  # the embedded stack could not start (e.g. a port is taken)
EXIT_PARTIAL = 7  # a launch started only part of the roster (--skip-invalid, or rows that cannot start)
EXIT_REJECTED = 8  # a journey rejected a staff command (the reason is printed)
EXIT_PENDING = 9  # a staff command was recorded but the journey could not take it yet (retried)
EXIT_INTERRUPTED = 130  # Ctrl-C: the CLI detached; a launch goes on in Temporal


class CliError(Exception):
    """Raise from a command for a user-facing failure: one line, chosen exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_INVALID) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def exit_code_for(err: BaseException) -> int | None:
    """The exit code of an expected error, None for a bug. Imports are lazy: the CLI starts fast."""
    from infra.migrations import MigrationError
    from infra.postgres import PostgresUnreachableError
    from infra.settings import SettingsError
    from infra.temporal_client import TemporalUnreachableError
    from worker.devstack.ports import DevStackError

    table: list[tuple[type[BaseException], int]] = [
        (CliError, getattr(err, "exit_code", EXIT_INVALID)),
        (SettingsError, EXIT_INVALID),
        (TemporalUnreachableError, EXIT_TEMPORAL_UNREACHABLE),
        (PostgresUnreachableError, EXIT_POSTGRES_UNREACHABLE),
        (MigrationError, EXIT_MIGRATION),
        (DevStackError, EXIT_DEVSTACK),
    ]
    for kind, code in table:
        if isinstance(err, kind):
            return code
    if _temporal_failure(err):
        return EXIT_TEMPORAL_UNREACHABLE
    if _postgres_failure(err):
        return EXIT_POSTGRES_UNREACHABLE
    return None


def _temporal_failure(err: BaseException) -> bool:
    """An RPC to Temporal failed after the client connected (the server went away, timed out, refused)."""
    if "temporalio.service" not in sys.modules:
        return False
    from temporalio.service import RPCError

    return isinstance(err, RPCError)


def _postgres_failure(err: BaseException) -> bool:
    """Postgres failed us mid-command: the connection was lost, the server shuts down or cannot take more
    (a full disk, too many connections), or an I/O error. Not a statement it refused: that is a bug."""
    if "asyncpg" not in sys.modules:
        return False
    import asyncpg
    from asyncpg import exceptions as pg

    return isinstance(
        err,
        asyncpg.InterfaceError
        | asyncpg.PostgresConnectionError
        | pg.InsufficientResourcesError
        | pg.OperatorInterventionError
        | pg.PostgresSystemError,
    )


def one_line(err: BaseException) -> str:
    """The error on one line, without any credential (whatever put it in the message)."""
    from infra.settings import get_settings, redact_secrets

    text = " ".join(str(err).split()) or type(err).__name__
    if _temporal_failure(err):
        status = getattr(getattr(err, "status", None), "name", "")
        text = f"Temporal failed the request ({status}): {text}" if status else f"Temporal: {text}"
    elif _postgres_failure(err):
        code = getattr(err, "sqlstate", None)
        text = f"Postgres failed ({code}): {text}" if code else f"Postgres failed: {text}"
    try:
        known = get_settings().secret_values
    except Exception:  # the settings themselves are what is wrong: their message is redacted already
        known = []
    return f"mentorflow: error: {redact_secrets(text, known)}"


def handle_errors(func: Callable[[], Any]) -> Any:
    """Call `func`; expected errors become one stderr line and their exit code."""
    try:
        result = func()
    except SystemExit as done:
        _exit(done.code)
    except Exception as err:
        code = exit_code_for(err)
        if code is None:
            raise
        print(one_line(err), file=sys.stderr)
        _exit(code)
    _exit(0)
    return result


def _exit(code: object) -> None:
    """Exit with `code`. After the Temporal client was used, skip interpreter teardown: its Rust threads
    can abort a finalizing interpreter (temporalio/sdk-python#300, ~1 in 6 short CLI runs here)."""
    if "temporalio.bridge.temporal_sdk_bridge" not in sys.modules:
        raise SystemExit(code)
    status = code if isinstance(code, int) else (0 if code is None else 1)
    if isinstance(code, str):
        print(code, file=sys.stderr)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
