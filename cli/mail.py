"""`mentorflow mail list|show`: what the dev mail sink received (`<state>/mail/*.eml`); `mail list --stuck|
--uncertain`, `mail resolve`, `mail resend`: the send ledger's rows that need staff."""

from __future__ import annotations

import asyncio
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cli.errors import CliError
from cli.output import JSON_OPTION, emit_json, err, say, table
from cli.pool import with_pool

if TYPE_CHECKING:
    from steering import Steering
    from store.ledger import LedgerRow

app = typer.Typer(
    help="The development mail sink; emails in the send ledger that need staff.", no_args_is_help=True
)


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


def _ledger_table(title: str, rows: list[LedgerRow]) -> None:
    err.print(
        table(
            title,
            ["id", "cohort", "to", "email", "status", "attempts", "first claimed (UTC)", "why"],
            [
                [
                    r.id,
                    r.cohort_id,
                    f"{r.recipient} {r.recipient_id}",
                    r.nudge_id,
                    r.status,
                    r.attempts,
                    f"{r.claimed_at:%Y-%m-%d %H:%M}",
                    r.error or "-",
                ]
                for r in rows
            ],
        )
    )


@app.command("list")
def list_(
    to: str | None = typer.Option(None, "--to", help="Only messages to this address."),
    limit: int = typer.Option(50, "--limit", min=1, help="The newest N messages."),
    stuck: bool = typer.Option(
        False, "--stuck", help="Instead: send-ledger rows in flight for 15+ minutes, and why."
    ),
    uncertain: bool = typer.Option(
        False, "--uncertain", help="Instead: send-ledger rows handed over with no reply (resolve them)."
    ),
    cohort: str | None = typer.Option(None, "--cohort", help="With --stuck/--uncertain: one cohort."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Messages in the sink, newest last; or, with --stuck/--uncertain, send-ledger rows for staff."""
    if stuck or uncertain:
        from store.ledger import stuck_rows, uncertain_rows

        ledger = with_pool(
            lambda pool: (
                stuck_rows(pool, cohort_id=cohort) if stuck else uncertain_rows(pool, cohort_id=cohort)
            )
        )
        if as_json:
            emit_json([r.model_dump(mode="json") for r in ledger])
            return
        what = "in flight for 15+ minutes" if stuck else "uncertain (`mail resolve ID --sent|--not-sent`)"
        _ledger_table(f"{len(ledger)} email(s) {what}", ledger)
        return
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


def _staff() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "staff"


async def _tell_journey(steering: Steering, workflow_id: str) -> str:
    """Deliver the journey's pending commands, the ledger's new word on the email last (recorded with
    it); what the journey made of it, for staff. Empty for an email that is no journey's."""
    from cli.steer import staff_reason
    from steering import Applied, Rejected
    from store.intents import pending_of
    from workflows.contract import parse_journey_id

    if parse_journey_id(workflow_id) is None:
        return ""
    delivered = await steering.apply(await pending_of(steering.pool, workflow_id))
    if not delivered:
        return ""
    outcome = delivered[-1][1]
    if isinstance(outcome, Applied):
        return "the journey records it"
    if isinstance(outcome, Rejected):
        return f"the journey: {staff_reason(outcome.code, outcome.message)}"
    return f"the journey hears of it when it can ({outcome.reason}; the web app retries)"


@app.command()
def resolve(
    row_id: int = typer.Argument(..., metavar="ID", help="An id from `mail list --uncertain`."),
    sent: bool | None = typer.Option(
        None, "--sent/--not-sent", help="What the relay's log or the participant says happened."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Settle an uncertain email: it went (--sent) or it did not (--not-sent: failed; `mail resend` sends
    it after all). The journey is told too (its record and counts follow the ledger)."""
    from cli.steer import with_steering
    from infra.settings import get_settings
    from store.ledger import LedgerError, resolve

    if sent is None:
        raise CliError("say what happened: --sent or --not-sent")

    async def go(pool: Any, steering: Steering) -> tuple[LedgerRow, str]:
        try:
            row = await resolve(pool, row_id, sent=sent, by=_staff())
        except LedgerError as exc:
            raise CliError(str(exc)) from None
        return row, await _tell_journey(steering, row.workflow_id)

    row, journey = asyncio.run(with_steering(get_settings(), go))
    if as_json:
        emit_json(row.model_dump(mode="json") | {"journey": journey})
        return
    say(
        f"email {row.id} ({row.recipient} {row.recipient_id}, {row.nudge_id}) is now {row.status}: "
        f"{row.resolution}"
    )
    if journey:
        say(journey)


@app.command()
def resend(
    row_id: int = typer.Argument(..., metavar="ID", help="An id from `mail list --uncertain`."),
    yes: bool = typer.Option(False, "--yes", help="Send it again even though it may already have arrived."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Send an uncertain (or failed) email once more: staff's explicit choice, since the participant (or
    mentor) may then have two copies (same Message-ID). A participant's journey is told what came of it."""
    from activities.mailer import TransientSmtpError
    from activities.mentor import MentorSend, send_mentor_email
    from activities.send_nudge import send_nudge
    from cli.steer import with_steering
    from infra.settings import get_settings
    from store.ledger import LedgerError, not_resent, reopen_for_resend
    from store.programs import ProgramCache
    from workflows.contract import SendNudgeInput, SendNudgeResult

    if not yes:
        raise CliError("the first copy may have arrived; add --yes to send it again all the same")

    async def go(pool: Any, steering: Steering) -> tuple[SendNudgeResult, str]:
        try:
            again = await reopen_for_resend(pool, row_id, by=_staff())
        except LedgerError as exc:
            raise CliError(str(exc)) from None
        settings, programs = get_settings(), ProgramCache()
        try:
            # The same guarded path as the first send: claimed, handed over behind the mark, settled.
            if again.recipient == "mentor":
                mentor = MentorSend.model_validate_json(again.input)
                result = await send_mentor_email(settings, pool, programs, mentor)
            else:
                nudge = SendNudgeInput.model_validate_json(again.input)
                result = await send_nudge(settings, pool, programs, nudge)
        except TransientSmtpError as exc:
            await not_resent(pool, row_id, str(exc))  # no worker will retry it: back to failed
            journey = await _tell_journey(steering, again.workflow_id)
            raise CliError(f"email {row_id} was not sent: {exc}; try again later ({journey})") from None
        return result, await _tell_journey(steering, again.workflow_id)

    result, journey = asyncio.run(with_steering(get_settings(), go))
    if as_json:
        emit_json(result.model_dump(mode="json") | {"journey": journey})
        return
    say(f"email {row_id}: {result.status.value}{f' ({result.detail})' if result.detail else ''}")
    if journey:
        say(journey)
