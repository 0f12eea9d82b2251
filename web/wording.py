"""What the participant reads when the journey refuses an update: their words, never ids or operator terms.

The journey's validator gives an operator's reason (`milestone 'account_created' is already recorded`);
the page says what it means for the participant, and whether it is merely "already so" (no harm done).
"""

from __future__ import annotations

from dataclasses import dataclass

from activities.render import milestone_title, persona_title
from domain.program import Program
from store.intents import Intent


@dataclass(frozen=True)
class Refusal:
    text: str
    already: bool  # the participant's wish already holds: shown as a calm "nothing to change"


def refusal(intent: Intent, program: Program) -> Refusal:
    detail = intent.detail.strip()
    command = intent.command
    if "already unsubscribed" in detail:
        return Refusal("You are unsubscribed, so the program no longer changes your journey.", False)
    if "has completed" in detail:
        return Refusal("Your program has finished, so there is nothing more to change.", False)
    match intent.update_name:
        case "record_milestone":
            title = milestone_title(program, str(command.get("milestone_id", "")))
            if "already recorded" in detail:
                return Refusal(f"You had already recorded this: {title}.", True)
            if "unknown milestone" in detail:
                return Refusal("Your program no longer has this milestone.", False)
        case "adopt_persona" if "already held" in detail:
            return Refusal(
                f"You already hold the {persona_title(str(command.get('persona')))} persona.", True
            )
        case "drop_persona" if "not held" in detail:
            return Refusal(f"You do not hold the {persona_title(str(command.get('persona')))} persona.", True)
        case "resume" if "not paused" in detail:
            return Refusal("Your emails were not snoozed.", True)
        case "change_schedule" if "nothing to change" in detail:
            return Refusal("Your time zone, send days and send time were already these.", True)
        case "add_conference":
            name = str(command.get("name", "this conference"))
            if "already added" in detail:
                return Refusal(f"You had already told us about {name}.", True)
            if "overlap" in detail:
                return Refusal(
                    f"The dates of {name} overlap another conference you told us about; "
                    "we can help with one at a time.",
                    False,
                )
            if "in the past" in detail:
                return Refusal(f"{name} is already over.", False)
            if "after the program ends" in detail:
                return Refusal(f"{name} starts after your program ends.", False)
        case "pause" if "past" in detail:
            return Refusal("That snooze would already be over.", False)
    text = detail.rstrip(".")
    return Refusal((text[:1].upper() + text[1:] + ".") if text else "The program refused it.", False)
