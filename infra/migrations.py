"""A small runner for the plain SQL files in `migrations/` (`NNNN_name.sql`, applied in order).

Each file runs in its own transaction and is recorded with its sha256 in `schema_migrations`.
A session advisory lock serialises concurrent runners; an applied file whose checksum changed
stops the run before anything is applied.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from infra.postgres import Connection
from infra.settings import Settings

DEFAULT_MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
# Any constant unique to mentorflow: the key of pg_advisory_lock.
_LOCK_KEY = 0x6D656E746F72  # "mentor"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """A migration file is malformed, edited after being applied, or failed; one-line message."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_dir(settings: Settings) -> Path:
    return settings.migrations_dir or DEFAULT_MIGRATIONS_DIR


def discover(directory: Path) -> list[Migration]:
    if not directory.is_dir():
        raise MigrationError(f"migrations directory {directory} does not exist")
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration file names must look like 0001_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path}: version {version:04d} is also used by {found[version].path.name}")
        found[version] = Migration(version, match.group(2), path, path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


_CREATE_TABLE = """
create table if not exists schema_migrations (
    version    integer primary key,
    name       text not null,
    checksum   text not null,
    applied_at timestamptz not null default now()
)
"""


async def migrate(conn: Connection, directory: Path) -> list[Migration]:
    """Apply pending migrations; return the ones applied by this call (empty when up to date)."""
    migrations = discover(directory)
    await conn.execute("select pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_CREATE_TABLE)
        rows = await conn.fetch("select version, name, checksum from schema_migrations")
        applied = {r["version"]: r for r in rows}
        for m in migrations:
            row = applied.get(m.version)
            if row is not None and row["checksum"] != m.checksum:
                raise MigrationError(
                    f"{m.path}: changed after it was applied (checksum differs from schema_migrations); "
                    "restore the file and put the change in a new migration"
                )
        done: list[Migration] = []
        for m in migrations:
            if m.version in applied:
                continue
            try:
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute(
                        "insert into schema_migrations (version, name, checksum) values ($1, $2, $3)",
                        m.version,
                        m.name,
                        m.checksum,
                    )
            except asyncpg.PostgresError as err:
                raise MigrationError(f"{m.path}: {type(err).__name__}: {str(err).splitlines()[0]}") from None
            done.append(m)
        return done
    finally:
        await conn.execute("select pg_advisory_unlock($1)", _LOCK_KEY)


async def applied_versions(conn: Connection) -> list[int]:
    rows = await conn.fetch("select version from schema_migrations order by version")
    return [int(r["version"]) for r in rows]
