"""Signed action links: a token signs the journey, the action, its arguments and an expiry.

Each action signs with its own salt, so a token minted for one action never verifies as another.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from itsdangerous import BadData, BadSignature, URLSafeSerializer
from itsdangerous.encoding import base64_decode, base64_encode
from pydantic import BaseModel, Field, ValidationError


class Action(StrEnum):
    MILESTONE = "milestone"
    PERSONA = "persona"
    SNOOZE = "snooze"
    CONFERENCE = "conference"
    PREFERENCES = "preferences"
    UNSUBSCRIBE = "unsubscribe"
    # A mentor's links: the token signs the mentor's workflow id (ids only).
    MENTOR_UNSUBSCRIBE = "mentor-unsubscribe"
    AMPLIFIED = "amplified"  # args: participant, milestone
    MENTOR_PREFERENCES = "mentor-preferences"
    KEEP_GOING = "keep_going"  # the sunset email's "yes, keep writing to me"


# Unsubscribe links must keep working long after the email (RFC 8058 asks for it); others expire.
LINK_LIFETIME = {action: timedelta(days=120) for action in Action} | {
    Action.UNSUBSCRIBE: timedelta(days=3650),
    Action.MENTOR_UNSUBSCRIBE: timedelta(days=3650),
}


class LinkClaims(BaseModel):
    workflow_id: str
    action: Action
    args: dict[str, str] = Field(default_factory=dict)
    exp: int  # unix seconds

    def meaning(self) -> str:
        """What the link says, independent of how its token is spelt: the key for replay protection."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


class LinkError(Exception):
    """Why a token was refused: `tampered` (400) or `expired` (410)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _serializer(secret: str, action: Action) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=f"mentorflow-link:{action.value}")


def sign_link(
    secret: str, workflow_id: str, action: Action, args: dict[str, str] | None = None, *, now: datetime
) -> str:
    exp = int((now + LINK_LIFETIME[action]).timestamp())
    claims = LinkClaims(workflow_id=workflow_id, action=action, args=args or {}, exp=exp)
    token = _serializer(secret, action).dumps(claims.model_dump(mode="json"))
    return str(token)


# What sign_link produces: an optional "." (compressed payload), then URL-safe base64 payload "." signature.
_TOKEN_SHAPE = re.compile(r"^\.?[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


def is_canonical(token: str) -> bool:
    """Only the exact bytes sign_link made: itsdangerous's decoding is lenient (padding, stray bytes, the
    unused low bits of the last base64 character), so one link could otherwise take many spellings."""
    if not _TOKEN_SHAPE.match(token):
        return False
    for part in token.lstrip(".").split("."):
        try:
            if base64_encode(base64_decode(part)).decode("ascii") != part:
                return False
        except BadData:  # not base64 at all
            return False
    return True


def verify_link(
    secrets: str | Sequence[str], token: str, action: Action, *, now: datetime | None = None
) -> LinkClaims:
    """`secrets`: the signing secret first, then older ones still honoured (rotation)."""
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    if not is_canonical(token):
        raise LinkError("tampered", "This link is not valid: it was changed or is for another action.")
    try:
        raw = URLSafeSerializer(keys, salt=f"mentorflow-link:{action.value}").loads(token)
        claims = LinkClaims.model_validate(raw)
    except (BadSignature, ValidationError):
        raise LinkError(
            "tampered", "This link is not valid: it was changed or is for another action."
        ) from None
    if claims.action != action:
        raise LinkError("tampered", "This link is for another action.")
    if (now or datetime.now(UTC)).timestamp() > claims.exp:
        raise LinkError("expired", "This link has expired. Newer emails carry fresh links.")
    return claims


def link_url(base_url: str, action: Action, token: str) -> str:
    return f"{base_url.rstrip('/')}/a/{action.value}/{token}"
