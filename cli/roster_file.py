"""Read a roster CSV as Excel and other tools write it, then hand it to the pure validator.

Accepted: UTF-8 with or without a byte-order mark, UTF-16 with a BOM (Excel's "Unicode text"), comma,
semicolon (Excel in many European locales) or tab delimiters, quoted fields (also across lines), CRLF line
ends and Excel's trailing empty rows.
"""

from __future__ import annotations

import codecs
import csv
import io
from datetime import date
from pathlib import Path

from cli.errors import CliError
from domain.program import ProgramSpec
from domain.roster import COLUMNS, Roster, normalize_column, validate_roster

_DELIMITERS = (",", ";", "\t")


def decode(path: Path, data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CliError(
            f"{path}: line {line}: not UTF-8 text (byte {data[exc.start]:#04x}); "
            "in Excel choose 'CSV UTF-8 (Comma delimited)'"
        ) from None


def _delimiter(first_line: str) -> str:
    """The delimiter that splits the header into the most known column names."""

    def known(delim: str) -> int:
        row = next(csv.reader([first_line], delimiter=delim), [])
        return sum(normalize_column(c) in COLUMNS for c in row)

    return max(_DELIMITERS, key=known)


def read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and every non-blank data row with the line it starts on."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"{path}: cannot read the roster: {exc.strerror or exc}") from None
    text = decode(path, data)
    if not text.strip():
        raise CliError(f"{path}: the roster is empty (expected a header line: {', '.join(COLUMNS[:4])}, ...)")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text.splitlines()[0]))
    try:
        header = next(reader)
        rows: list[tuple[int, list[str]]] = []
        start = reader.line_num + 1
        for values in reader:
            if any(v.strip() for v in values):
                rows.append((start, values))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise CliError(f"{path}: line {reader.line_num}: malformed CSV: {exc}") from None
    return header, rows


def load_roster(path: Path, *, program: ProgramSpec, today: date, smtputf8: bool | None = None) -> Roster:
    header, rows = read_rows(path)
    if smtputf8 is None:
        from infra.settings import get_settings

        # The mailer's rule: a non-ASCII local part is sendable unless MENTORFLOW_SMTP_UTF8=off.
        smtputf8 = get_settings().smtp_utf8 != "off"
    return validate_roster(header, rows, program=program, today=today, smtputf8=smtputf8)
