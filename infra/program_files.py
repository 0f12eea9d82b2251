"""Read a program directory from disk and hand its files to the pure parser."""

from __future__ import annotations

from pathlib import Path

from domain.program import Problem, Program, ProgramError, parse_program


def read_program_files(path: Path) -> dict[str, str]:
    """program.toml and nudges/*.md under `path`, keyed by relative path; ProgramError when unreadable."""
    if not path.is_dir():
        reason = "not a directory" if path.exists() else "no such program directory"
        raise ProgramError([Problem(str(path), "", reason)])
    files: dict[str, str] = {}
    candidates = [path / "program.toml", *sorted((path / "nudges").glob("*.md"))]
    for file in candidates:
        if not file.is_file():
            continue
        rel = file.relative_to(path).as_posix()
        try:
            files[rel] = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProgramError([Problem(rel, "", f"cannot read: {exc}")], str(path)) from exc
    return files


def load_program(path: Path) -> Program:
    """The validated program in directory `path`; ProgramError names every problem (file, field, reason)."""
    return parse_program(read_program_files(path), origin=str(path))
