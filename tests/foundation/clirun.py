"""Run the installed `mentorflow` command as a user would: a clean MENTORFLOW_* environment, own cwd."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MENTORFLOW = str(Path(sys.executable).parent / "mentorflow")


def clean_env(**settings: str | int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MENTORFLOW_")}
    env.update({f"MENTORFLOW_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def run_cli(
    *args: str, cwd: Path, timeout: float = 60, **settings: str | int
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MENTORFLOW, *args],
        cwd=cwd,
        env=clean_env(**settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
