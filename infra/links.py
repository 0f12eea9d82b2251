"""Signed action links: a token signs the journey, the action, its arguments and an expiry.

Each action signs with its own salt, so a token minted for one action never verifies as another.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from itsdangerous import BadSignature, URLSafeSerializer
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


def verify_link(
    secrets: str | Sequence[str], token: str, action: Action, *, now: datetime | None = None
) -> LinkClaims:
    """`secrets`: the signing secret first, then older ones still honoured (rotation)."""
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
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
