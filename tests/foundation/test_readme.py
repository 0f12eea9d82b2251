"""The README's contract with a new user and with CI: it opens with the two commands, CI runs the second."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sh_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"^```sh\n(.*?)^```$", text, flags=re.S | re.M)]


def test_readme_opens_with_run_and_test_commands() -> None:
    text = (ROOT / "README.md").read_text()
    before_first_section = text.split("\n## ", 1)[0]
    blocks = sh_blocks(before_first_section)
    assert len(blocks) == 2
    run, test = blocks
    assert "\n" not in run and ".venv/bin/mentorflow dev up" in run
    assert "\n" not in test and test.endswith(".venv/bin/pytest")
    assert ".venv/bin/ruff check ." in test and ".venv/bin/mypy" in test


def test_ci_runs_exactly_the_readme_test_command() -> None:
    awk = re.search(r"awk '([^']+)' README.md", (ROOT / ".ci" / "run").read_text())
    assert awk is not None
    extracted = subprocess.run(
        ["awk", awk.group(1), "README.md"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert extracted == sh_blocks((ROOT / "README.md").read_text())[1]
