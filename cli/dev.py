"""`mentorflow dev up`: the whole embedded stack in the foreground, stopped by one Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from infra.settings import Settings
    from worker.devstack import RunningStack

app = typer.Typer(help="The embedded development stack.", no_args_is_help=True)

# Long-running services started after the worker, each returning once `stop` is set
# (the participant web app adds itself here). Signature: (settings, stack, stop) -> None.
Service = Callable[["Settings", "RunningStack", asyncio.Event], Coroutine[Any, Any, None]]


async def _web(settings: Settings, stack: RunningStack, stop: asyncio.Event) -> None:
    from web.server import serve

    await serve(settings, stop=stop)


EXTRA_SERVICES: list[Service] = [_web]


def _report(stack: RunningStack, settings: Settings) -> str:
    from worker.metrics import metrics_url

    rows = stack.summary()
    rows["Metrics"] = metrics_url(settings) or "-"
    rows["Web"] = f"http://{settings.web_host}:{settings.web_port} (links: {settings.base_url}/a/...)"
    width = max(len(k) for k in rows)
    lines = [f"{k.ljust(width)}  {v}" for k, v in rows.items()]
    lines.append("# other shells reach this stack with:")
    lines += [
        f"export MENTORFLOW_STATE_DIR={settings.state_dir.resolve()}",
        f"export MENTORFLOW_DEV_TEMPORAL_PORT={settings.dev_temporal_port}",
        f"export MENTORFLOW_DEV_UI_PORT={settings.dev_ui_port}",
        f"export MENTORFLOW_DEV_POSTGRES_PORT={settings.dev_postgres_port}",
        f"export MENTORFLOW_SMTP_PORT={settings.smtp_target[1]}",
        f"export MENTORFLOW_WEB_PORT={settings.web_port}",
    ]
    lines.append("# ready: Ctrl-C or SIGTERM stops everything")
    return "\n".join(lines)


async def _up(settings: Settings) -> None:
    from infra.temporal_client import connect
    from worker.devstack import embedded_stack
    from worker.main import run_worker
    from worker.metrics import metrics_runtime

    stop = asyncio.Event()
    main = asyncio.current_task()
    assert main is not None
    ready = False

    def on_signal() -> None:
        if stop.is_set():
            return
        print("mentorflow: stopping...", file=sys.stderr)
        stop.set()
        if not ready:
            main.cancel()  # still starting: unwinding stops what already started

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    print("mentorflow: starting the embedded stack...", file=sys.stderr)
    try:
        async with embedded_stack(settings) as stack:
            client = await connect(settings, runtime=metrics_runtime(settings))
            tasks = [asyncio.create_task(run_worker(settings, stop=stop, client=client), name="worker")]
            tasks += [asyncio.create_task(svc(settings, stack, stop)) for svc in EXTRA_SERVICES]
            ready = True
            print(_report(stack, settings), flush=True)
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({stopped, *tasks}, return_when=asyncio.FIRST_COMPLETED)
            stop.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            stopped.cancel()
            for result in results:
                if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                    raise result
    except asyncio.CancelledError:
        if not stop.is_set():
            raise
    print("mentorflow: stopped", file=sys.stderr)


@app.command()
def up(
    demo: bool = typer.Option(
        False,
        "--demo",
        help="Also launch a demo cohort from samples/roster.csv (welcome emails within a minute).",
    ),
) -> None:
    """Start Temporal + Web UI, Postgres (migrated), the mail sink and the worker; Ctrl-C stops all."""
    from infra.logging import configure_logging
    from infra.settings import get_settings

    if demo:
        from cli.cohort import demo_service

        EXTRA_SERVICES.append(demo_service)

    settings = get_settings()
    settings.require_link_secret("dev up")
    configure_logging(settings)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_up(settings))
