"""Serve the participant web app with uvicorn until `stop` is set (or, standalone, until SIGTERM/SIGINT)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Generator

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.logging import get_logger
from infra.postgres import create_pool
from infra.settings import Settings
from web.app import create_app
from worker.devstack.ports import DevStackError

log = get_logger(__name__)

# The largest form (preferences with a conference) is about 1 KB: anything far beyond is not a participant.
MAX_BODY_BYTES = 16 * 1024
# A body that trickles in slower than this is dropped (slow-body attacks hold a connection for free).
BODY_READ_TIMEOUT_SECONDS = 15.0
# Idle keep-alive connections, and requests in progress before new ones get a 503.
KEEP_ALIVE_SECONDS = 5
MAX_CONCURRENT_REQUESTS = 500
# Request line and headers together.
MAX_HEADER_BYTES = 16 * 1024


class BodyLimit:
    """Refuse a request body over `MAX_BODY_BYTES` before reading it (by Content-Length) or as soon as it
    passes the limit (chunked), and one that stalls; uvicorn itself would read any size at any pace. The
    body (small by then) is read here and handed to the app whole."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            await _refuse(send, 413 if length.isdigit() else 400)
            return
        body = bytearray()
        while True:
            try:
                message = await asyncio.wait_for(receive(), BODY_READ_TIMEOUT_SECONDS)
            except TimeoutError:
                await _refuse(send, 408)
                return
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                await _refuse(send, 413)
                return
            if not message.get("more_body", False):
                break
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()  # after the body: wait for the disconnect, as uvicorn would
            delivered = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


async def _refuse(send: Send, status: int) -> None:
    text = {400: "Bad request", 408: "Request timeout", 413: "Request body too large"}[status].encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(text)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": text})


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
        BodyLimit(app or create_app(settings, pool=pool)),
        log_config=None,
        access_log=False,
        lifespan="on",
        proxy_headers=True,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        limit_concurrency=MAX_CONCURRENT_REQUESTS,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        timeout_graceful_shutdown=10,
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
