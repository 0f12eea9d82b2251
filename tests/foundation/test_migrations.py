"""The migration runner: order, checksums, advisory lock, idempotence."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
import pytest

from infra.migrations import DEFAULT_MIGRATIONS_DIR, MigrationError, applied_versions, discover, migrate


def copy_migrations(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(DEFAULT_MIGRATIONS_DIR, target)
    return target


async def test_fresh_database_gets_every_migration_once(empty_database: str) -> None:
    conn = await asyncpg.connect(empty_database)
    try:
        first = await migrate(conn, DEFAULT_MIGRATIONS_DIR)
        second = await migrate(conn, DEFAULT_MIGRATIONS_DIR)
        expected = [m.version for m in discover(DEFAULT_MIGRATIONS_DIR)]
        assert [m.version for m in first] == expected
        assert second == []
        assert await applied_versions(conn) == expected
        # The participants schema is there and enforces one email per cohort.
        await conn.execute("insert into cohorts values ('c1', 'medtwitter', '2026-09-01')")
        row = "insert into participants"
        row += " (cohort_id, participant_id, name, email, timezone, send_days, send_time)"
        await conn.execute(row + " values ('c1', 'p1', 'A', 'a@x.org', 'UTC', '{mon}', '08:30')")
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(row + " values ('c1', 'p2', 'B', 'a@x.org', 'UTC', '{mon}', '08:30')")
    finally:
        await conn.close()


async def test_new_file_is_applied_on_next_run(empty_database: str, tmp_path: Path) -> None:
    directory = copy_migrations(tmp_path)
    conn = await asyncpg.connect(empty_database)
    try:
        await migrate(conn, directory)
        (directory / "9000_extra.sql").write_text("create table extra (id int primary key);")
        applied = await migrate(conn, directory)
        assert [m.name for m in applied] == ["extra"]
        assert await conn.fetchval("select count(*) from extra") == 0
    finally:
        await conn.close()


async def test_edited_applied_migration_is_refused_naming_the_file(
    empty_database: str, tmp_path: Path
) -> None:
    directory = copy_migrations(tmp_path)
    conn = await asyncpg.connect(empty_database)
    try:
        await migrate(conn, directory)
        first = sorted(directory.glob("0001_*.sql"))[0]
        first.write_text(first.read_text() + "\n-- edited\n")
        (directory / "9000_after_edit.sql").write_text("create table after_edit (id int);")
        with pytest.raises(MigrationError) as caught:
            await migrate(conn, directory)
        assert str(first) in str(caught.value)
        assert "changed after it was applied" in str(caught.value)
        # Nothing after the refusal was applied.
        assert await conn.fetchval("select to_regclass('after_edit')") is None
    finally:
        await conn.close()


async def test_failing_migration_rolls_back_and_names_the_file(empty_database: str, tmp_path: Path) -> None:
    directory = copy_migrations(tmp_path)
    bad = directory / "9000_broken.sql"
    bad.write_text("create table half_done (id int);\nselect * from no_such_table;")
    conn = await asyncpg.connect(empty_database)
    try:
        with pytest.raises(MigrationError, match=r"9000_broken\.sql.*no_such_table"):
            await migrate(conn, directory)
        assert await conn.fetchval("select to_regclass('half_done')") is None
        assert 9000 not in await applied_versions(conn)
    finally:
        await conn.close()


async def test_concurrent_runners_apply_each_file_exactly_once(empty_database: str) -> None:
    conns = [await asyncpg.connect(empty_database) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c, DEFAULT_MIGRATIONS_DIR) for c in conns))
        applied = sorted(m.version for r in results for m in r)
        assert applied == [m.version for m in discover(DEFAULT_MIGRATIONS_DIR)]
        assert await conns[0].fetchval("select count(*) from schema_migrations") == len(applied)
    finally:
        for c in conns:
            await c.close()


def test_badly_named_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "add_stuff.sql").write_text("select 1;")
    with pytest.raises(MigrationError, match=r"add_stuff\.sql: migration file names must look like"):
        discover(tmp_path)
