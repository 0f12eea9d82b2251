"""The name an email greets a participant by: their own choice, or a fallback that is never a bare title.

"Dr. Sofia Alvarez" is greeted "Sofia", never "Dr."; "Dr. Lee" stays "Dr. Lee" (a surname alone after
"Hi" reads as cold); a name that is only titles is greeted "colleague".
"""

from __future__ import annotations

import re

_TITLES = frozenset(
    {"dr", "doctor", "prof", "professor", "mr", "mrs", "ms", "miss", "mx", "sir", "dame", "rev", "assoc"}
)
FALLBACK = "colleague"


def _is_title(word: str) -> bool:
    return word.rstrip(".").lower() in _TITLES


def greeting_name(name: str, chosen: str | None = None) -> str:
    """What follows "Hi": `chosen` (the roster's or the preferences page's greeting name) when given."""
    if chosen and chosen.strip():
        return " ".join(chosen.split())
    # Post-nominals after a comma ("Ada Okafor, MD") are not part of the name.
    words = [w for w in re.split(r"\s+", name.split(",", 1)[0].strip()) if w]
    rest = [w for w in words if not _is_title(w)]
    if not rest:
        return FALLBACK
    if len(rest) == 1 and len(words) > 1:
        return " ".join(words)  # a title and one name: "Dr. Lee"
    return rest[0]
