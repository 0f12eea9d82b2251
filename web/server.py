"""Serve the participant web app with uvicorn until `stop` is set (or, standalone, until SIGTERM/SIGINT)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Generator

import uvicorn
from starlette.applications import Starlette

from infra.logging import get_logger
from infra.postgres import create_pool
from infra.settings import Settings
from web.app import create_app
from worker.devstack.ports import DevStackError

log = get_logger(__name__)


class _Server(uvicorn.Server):
    # uvicorn would replace the process's signal handlers; the caller owns them (`dev up`, `run_web`).
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class WebPortInUseError(DevStackError):
    """The web port is taken; the message names it and the setting to change."""


def bind(host: str, port: int) -> socket.socket:
    """Bind before serving, so a taken port is a clear one-line error instead of a uvicorn log."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise WebPortInUseError(
            f"port {port} on {host} (web app) is not available: {err.strerror}; "
            "stop what holds it or set MENTORFLOW_WEB_PORT"
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve(settings: Settings, *, stop: asyncio.Event, app: Starlette | None = None) -> None:
    """Run the app on settings.web_host:web_port until `stop` is set."""
    sock = bind(settings.web_host, settings.web_port)
    # Opened here, not in the app's lifespan, so an unreachable Postgres is a one-line error.
    try:
        pool = None if app is not None else await create_pool(settings)
    except BaseException:
        sock.close()
        raise
    config = uvicorn.Config(
        app or create_app(settings, pool=pool),
        log_config=None,
        access_log=False,
        lifespan="on",
        proxy_headers=True,
    )
    server = _Server(config)
    run = asyncio.create_task(server.serve(sockets=[sock]))
    stopped = asyncio.create_task(stop.wait())
    log.info("web app started", url=f"http://{settings.web_host}:{settings.web_port}")
    try:
        await asyncio.wait({run, stopped}, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        await run  # re-raises a crash (e.g. Postgres unreachable at startup)
    finally:
        stopped.cancel()
        sock.close()
        if pool is not None:
            await pool.close()
    if server.started is False and not stop.is_set():
        raise RuntimeError("the web app failed to start; see the log above")
    log.info("web app stopped")


async def run_web(settings: Settings) -> None:
    """`mentorflow web`: serve until SIGTERM/SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop=stop)
