"""Child processes we own: own process group, stopped with a signal, then SIGKILL, never orphaned."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import psutil

from worker.devstack.ports import DevStackError

_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int) -> Callable[[], None]:
    """In the child: get `sig` if mentorflow itself is killed (SIGKILL leaves no chance to clean up)."""

    def set_pdeathsig() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig)

    return set_pdeathsig


class ChildProcess:
    """A foreground child in its own process group, output appended to `log_path`."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        stop_signal: signal.Signals = signal.SIGTERM,
        user: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self.stop_signal = stop_signal
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            # Popen from the main thread: PDEATHSIG fires when the *thread* that forked exits.
            self.popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
                env=env,
                cwd=cwd,
                preexec_fn=_die_with_parent(stop_signal) if sys.platform == "linux" else None,
            )
        self.pid = self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text[-lines:])

    async def wait_ready(
        self, what: str, where: str, probe: Callable[[], Awaitable[bool]], seconds: float
    ) -> None:
        """Poll `probe` until it answers True; stop the child and raise DevStackError if it exits or
        does not answer in time."""
        deadline = time.monotonic() + seconds
        last = ""
        while time.monotonic() < deadline:
            if not self.running():
                raise DevStackError(
                    f"{what} exited with code {self.popen.returncode}: {self.log_tail()} "
                    f"(log: {self.log_path})"
                )
            try:
                if await probe():
                    return
            except Exception as err:  # any failure to answer is "not ready yet"
                last = str(err).splitlines()[0] if str(err) else type(err).__name__
            await asyncio.sleep(0.2)
        self.stop()
        raise DevStackError(f"{what} did not answer on {where} within {seconds:.0f}s: {last}")

    def descendants(self) -> list[psutil.Process]:
        try:
            children: list[psutil.Process] = psutil.Process(self.pid).children(recursive=True)
            return children
        except psutil.NoSuchProcess:
            return []

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the process to stop; SIGKILL its whole group after `timeout` seconds."""
        children = self.descendants()
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, self.stop_signal)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        # Anything the child left behind in its group, or that it spawned elsewhere.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        _, alive = psutil.wait_procs(children, timeout=5)
        if alive:
            time.sleep(0.1)
