"""The five personas a participant can hold, in any combination, at any time."""

from __future__ import annotations

from enum import StrEnum


class Persona(StrEnum):
    CONSUMER = "consumer"
    CREATOR = "creator"
    AMPLIFIER = "amplifier"
    TWITTERMITTENT = "twittermittent"
    MISSION = "mission"

    # str already has a `title()` method; a persona's title is a plain attribute for templates and reports.
    @property
    def title(self) -> str:  # type: ignore[override]
        return _TITLES[self]

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]

    @property
    def changes_cadence(self) -> bool:
        """Twittermittent is an overlay: it changes how often nudges come, not what they are about."""
        return self is Persona.TWITTERMITTENT


_TITLES: dict[Persona, str] = {
    Persona.CONSUMER: "Consumer",
    Persona.CREATOR: "Content creator",
    Persona.AMPLIFIER: "Amplifier",
    Persona.TWITTERMITTENT: "Twittermittent",
    Persona.MISSION: "Mission-based",
}

_DESCRIPTIONS: dict[Persona, str] = {
    Persona.CONSUMER: "Reads and curates: follows people whose real-life work interests them, their "
    "institution and professional societies.",
    Persona.CREATOR: "Answers the five questions, then posts: original posts, teaching and story threads, "
    "infographics, chats and journal clubs.",
    Persona.AMPLIFIER: "Brings attention to others' work and salient literature, especially junior and "
    "quieter colleagues.",
    Persona.TWITTERMITTENT: "Uses the platform in bursts, such as live-posting a conference, and rests "
    "in between.",
    Persona.MISSION: "Posts in service of a cause (humanism, DEI, MedEd, wellness, stewardship); online "
    "you matches real you.",
}

PERSONA_ORDER: tuple[Persona, ...] = tuple(Persona)


def persona_rank(persona: Persona) -> int:
    return PERSONA_ORDER.index(persona)
