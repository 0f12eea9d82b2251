"""`mentorflow mail list|show`: what the dev mail sink received (`<state>/mail/*.eml`)."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import typer

from cli.errors import CliError
from cli.output import JSON_OPTION, emit_json, err, table

app = typer.Typer(help="The development mail sink.", no_args_is_help=True)


def mail_dir() -> Path:
    from infra.settings import get_settings

    return get_settings().mail_dir


def _parse(path: Path) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(msg, EmailMessage)
    return msg


def _summary(path: Path, msg: EmailMessage) -> dict[str, Any]:
    return {
        "id": path.stem,
        "date": str(msg.get("Date", "")),
        "to": str(msg.get("To", "")),
        "subject": str(msg.get("Subject", "")),
        "message_id": str(msg.get("Message-ID", "")),
    }


@app.command("list")
def list_(
    to: str | None = typer.Option(None, "--to", help="Only messages to this address."),
    limit: int = typer.Option(50, "--limit", min=1, help="The newest N messages."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Messages in the sink, newest last."""
    directory = mail_dir()
    files = sorted(directory.glob("*.eml")) if directory.is_dir() else []
    rows = []
    for path in files:
        summary = _summary(path, _parse(path))
        if to is None or to.lower() in summary["to"].lower():
            rows.append(summary)
    rows = rows[-limit:]
    if as_json:
        emit_json(rows)
        return
    err.print(
        table(
            f"{len(rows)} message(s) in {directory}",
            ["id", "to", "subject"],
            [[r["id"], r["to"], r["subject"]] for r in rows],
        )
    )


@app.command()
def show(
    message: str = typer.Argument(..., metavar="ID", help="An id from `mail list` (or a unique part of it)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """One message: headers and the plain-text body."""
    directory = mail_dir()
    matches = [p for p in sorted(directory.glob("*.eml")) if message in p.stem] if directory.is_dir() else []
    if not matches:
        raise CliError(f"no message matching {message!r} in {directory}")
    if len(matches) > 1:
        raise CliError(f"{len(matches)} messages match {message!r}; give more of the id")
    msg = _parse(matches[0])
    part = msg.get_body(preferencelist=("plain",))
    body = part.get_content() if part is not None else ""
    data = {**_summary(matches[0], msg), "headers": {k: str(v) for k, v in msg.items()}, "text": body}
    if as_json:
        emit_json(data)
        return
    for key in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe"):
        if key in msg:
            print(f"{key}: {msg[key]}")
    print()
    print(body)
