"""`mentorflow web`: serve the participant links (confirmation pages, actions, one-click unsubscribe)."""

from __future__ import annotations

import asyncio

import typer

app = typer.Typer(help="Serve the participant web app (links from emails) until SIGTERM/Ctrl-C.")


@app.callback(invoke_without_command=True)
def web() -> None:
    """Serve on MENTORFLOW_WEB_HOST:MENTORFLOW_WEB_PORT; also retries intents the journeys have not heard."""
    from infra.logging import configure_logging
    from infra.settings import get_settings
    from web.server import run_web

    settings = get_settings()
    settings.require_link_secret("web")
    configure_logging(settings)
    asyncio.run(run_web(settings))
