"""`mentorflow db ...`: schema migrations."""

from __future__ import annotations

import asyncio
import sys

import typer

app = typer.Typer(help="Postgres schema.", no_args_is_help=True)


@app.command()
def migrate() -> None:
    """Apply pending migrations from migrations/ (safe to run twice, or concurrently)."""
    from infra.migrations import migrate as run_migrations
    from infra.migrations import migrations_dir
    from infra.postgres import create_pool
    from infra.settings import get_settings

    settings = get_settings()

    async def go() -> None:
        pool = await create_pool(settings, min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn:
                done = await run_migrations(conn, migrations_dir(settings))
        finally:
            await pool.close()
        if done:
            for m in done:
                print(f"applied {m.path.name}", file=sys.stderr)
        else:
            print("schema is up to date", file=sys.stderr)

    asyncio.run(go())
