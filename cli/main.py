"""The `mentorflow` command. Sub-apps live in `cli/<name>.py` as `app`; add one line to SUB_APPS."""

from __future__ import annotations

import importlib
from typing import Any

import typer

from cli.errors import handle_errors

# name -> module holding `app: typer.Typer`. One line per sub-app.
SUB_APPS: dict[str, str] = {
    "dev": "cli.dev",
    "db": "cli.db",
    "temporal": "cli.temporal",
    "worker": "cli.worker",
    "web": "cli.web",
    "program": "cli.program",
    "cohort": "cli.cohort",
    "participant": "cli.participant",
    "mail": "cli.mail",
    "mentor": "cli.mentor",
}


class MentorflowApp(typer.Typer):
    """Typer with central error handling: user errors are one line on stderr and a documented exit code."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return handle_errors(lambda: super(MentorflowApp, self).__call__(*args, **kwargs))


app = MentorflowApp(
    name="mentorflow",
    help="Event-sourced Temporal journeys for #medtwitter mentorship programs.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"mentorflow {version('mentorflow')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Event-sourced Temporal journeys for #medtwitter mentorship programs."""


for _name, _module in SUB_APPS.items():
    _sub: typer.Typer = importlib.import_module(_module).app
    app.add_typer(_sub, name=_name)
