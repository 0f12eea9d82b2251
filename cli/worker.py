"""`mentorflow worker`: run the Temporal worker until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio

import typer

app = typer.Typer(help="Run the Temporal worker (workflows and activities) until SIGTERM/Ctrl-C.")


@app.callback(invoke_without_command=True)
def worker() -> None:
    """Run the worker against the configured Temporal and Postgres."""
    from infra.logging import configure_logging
    from infra.settings import get_settings
    from worker.main import run_worker

    settings = get_settings()
    settings.require_link_secret("worker")
    configure_logging(settings)
    asyncio.run(run_worker(settings))
