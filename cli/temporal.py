"""`mentorflow temporal ...`: prepare an existing Temporal cluster (namespace search attributes)."""

from __future__ import annotations

import asyncio
import sys

import typer

app = typer.Typer(help="Temporal cluster setup.", no_args_is_help=True)


@app.command()
def setup() -> None:
    """Register mentorflow's search attributes on the namespace (idempotent)."""
    from infra.settings import get_settings
    from infra.temporal_client import connect
    from worker.temporal_setup import ensure_search_attributes

    settings = get_settings()

    async def go() -> None:
        client = await connect(settings)
        added = await ensure_search_attributes(client, settings.temporal_namespace)
        if added:
            print(f"registered {', '.join(added)} on {settings.temporal_namespace}", file=sys.stderr)
        else:
            print(f"search attributes already registered on {settings.temporal_namespace}", file=sys.stderr)

    asyncio.run(go())
