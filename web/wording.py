"""What the participant reads when the journey refuses a command: their words, never ids or operator terms.

Chosen by the domain's rejection code (never by the wording of its message), and whether it is merely
"already so" (no harm done).
"""

from __future__ import annotations

from dataclasses import dataclass

from activities.render import milestone_title, persona_title
from domain import AddConference, RecordMilestone, RejectionCode, SteerCommand
from domain.program import Program

Code = RejectionCode


@dataclass(frozen=True)
class Refusal:
    text: str
    already: bool  # the participant's wish already holds: shown as a calm "nothing to change"


def _persona(command: SteerCommand) -> str:
    return persona_title(str(getattr(command, "persona", "")))


def refusal(command: SteerCommand, code: RejectionCode, program: Program) -> Refusal:
    name = command.name if isinstance(command, AddConference) else "this conference"
    match code:
        case Code.UNSUBSCRIBED:
            return Refusal("You are unsubscribed, so the program no longer changes your journey.", False)
        case Code.COMPLETED | Code.JOURNEY_CLOSED | Code.ALREADY_ENDING | Code.PROGRAM_OVER:
            return Refusal("Your program has finished, so there is nothing more to change.", False)
        case Code.MILESTONE_RECORDED:
            milestone = command.milestone_id if isinstance(command, RecordMilestone) else ""
            return Refusal(f"You had already recorded this: {milestone_title(program, milestone)}.", True)
        case Code.UNKNOWN_MILESTONE:
            return Refusal("Your program no longer has this milestone.", False)
        case Code.PERSONA_HELD:
            return Refusal(f"You already hold the {_persona(command)} persona.", True)
        case Code.PERSONA_NOT_HELD:
            return Refusal(f"You do not hold the {_persona(command)} persona.", True)
        case Code.NOT_PAUSED:
            return Refusal("Your emails were not snoozed.", True)
        case Code.SCHEDULE_UNCHANGED:
            return Refusal("Your time zone, send days and send time were already these.", True)
        case Code.CONFERENCE_ADDED:
            return Refusal(f"You had already told us about {name}.", True)
        case Code.CONFERENCE_OVERLAP:
            return Refusal(
                f"The dates of {name} overlap another conference you told us about; "
                "we can help with one at a time.",
                False,
            )
        case Code.CONFERENCE_PAST:
            return Refusal(f"{name} is already over.", False)
        case Code.CONFERENCE_AFTER_PROGRAM:
            return Refusal(f"{name} starts after your program ends.", False)
        case Code.CONFERENCE_DATES:
            return Refusal(f"{name} ends before it starts.", False)
        case Code.CONFERENCE_TOO_LONG:
            return Refusal(f"{name} is longer than the program can follow.", False)
        case Code.CONFERENCE_TEXT:
            return Refusal("The conference's name or hashtag cannot go in an email; please retype it.", False)
        case Code.CONFERENCE_UNCHANGED:
            return Refusal(f"{name} already has these details.", True)
        case Code.UNKNOWN_CONFERENCE | Code.CONFERENCE_OVER:
            return Refusal("That conference is no longer on your journey.", True)
        case Code.PAUSE_IN_PAST:
            return Refusal("That snooze would already be over.", False)
        case Code.UNKNOWN_TIME_ZONE:
            return Refusal("That time zone is not one we know.", False)
        case Code.BAD_SCHEDULE:
            return Refusal("The program cannot send emails on those days or at that time.", False)
        case Code.UNKNOWN_EMAIL | Code.EMAIL_SETTLED:  # staff's and the sender's, never a link's
            return Refusal("There is nothing to change.", True)
        case Code.WITHDRAWN:
            return Refusal("You asked us to keep writing to you, so this no longer applies.", False)
        case Code.NOT_ENROLLED | Code.ALREADY_ENROLLED | Code.WRONG_PROGRAM:
            return Refusal("Your journey has not started yet.", False)
