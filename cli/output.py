"""Shared rendering: tables and progress on stderr for people, `--json` documents on stdout for machines."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

# Messages, tables and progress: stderr, so stdout stays clean for data and --json.
err = Console(stderr=True, highlight=False, soft_wrap=True)

JSON_OPTION = typer.Option(False, "--json", help="Print a JSON document on stdout instead of tables.")


def emit_json(data: BaseModel | dict[str, Any] | list[Any]) -> None:
    if isinstance(data, BaseModel):
        text = data.model_dump_json(indent=2)
    else:
        text = json.dumps(data, indent=2, default=str)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
    """Cells and title are shown as typed: participant text such as `[phish]` or `[/]` is never markup."""
    out = Table(title=Text(title), title_justify="left", show_lines=False)
    for col in columns:
        out.add_column(escape(col))
    for row in rows:
        out.add_row(*(Text("-" if v is None else str(v)) for v in row))
    return out


def bold_line(bold: str, rest: str = "") -> None:
    """One line with a bold lead, both shown as typed (names and emails come from participants)."""
    line = Text(bold, style="bold")
    line.append(rest)
    err.print(line)


def say(message: str) -> None:
    err.print(message, markup=False)
