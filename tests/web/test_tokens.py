"""Signed links: what a tampered, swapped or expired token gets, and that it is stable for the sender."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.links import LINK_LIFETIME, Action, LinkError, link_url, sign_link, verify_link

SECRET = "a-test-secret-that-is-long-enough"
NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def test_round_trip_carries_journey_action_and_arguments() -> None:
    token = sign_link(
        SECRET, "journey-c1~p1", Action.MILESTONE, {"milestone": "first_original_post"}, now=NOW
    )
    claims = verify_link(SECRET, token, Action.MILESTONE, now=NOW + timedelta(days=1))
    assert claims.workflow_id == "journey-c1~p1"
    assert claims.args == {"milestone": "first_original_post"}
    assert link_url("https://links.example.org/", Action.MILESTONE, token) == (
        f"https://links.example.org/a/milestone/{token}"
    )


def test_token_carries_no_personal_data_beyond_ids() -> None:
    token = sign_link(SECRET, "journey-c1~p1", Action.PREFERENCES, now=NOW)
    assert "@" not in token and "Ada" not in token


@pytest.mark.parametrize("position", [5, 20, -3])
def test_tampered_token_is_refused(position: int) -> None:
    token = sign_link(
        SECRET, "journey-c1~p1", Action.MILESTONE, {"milestone": "first_original_post"}, now=NOW
    )
    flipped = "A" if token[position] != "A" else "B"
    bad = token[:position] + flipped + token[position + 1 :]
    with pytest.raises(LinkError) as err:
        verify_link(SECRET, bad, Action.MILESTONE, now=NOW)
    assert err.value.reason == "tampered"


def test_changed_arguments_are_refused() -> None:
    """Re-signing with another secret (or editing the payload) never verifies."""
    forged = sign_link("another-secret-of-enough-length", "journey-c1~p1", Action.UNSUBSCRIBE, now=NOW)
    with pytest.raises(LinkError) as err:
        verify_link(SECRET, forged, Action.UNSUBSCRIBE, now=NOW)
    assert err.value.reason == "tampered"


def test_token_for_one_action_does_not_work_for_another() -> None:
    token = sign_link(SECRET, "journey-c1~p1", Action.SNOOZE, {"weeks": "2"}, now=NOW)
    for other in Action:
        if other is Action.SNOOZE:
            continue
        with pytest.raises(LinkError) as err:
            verify_link(SECRET, token, other, now=NOW)
        assert err.value.reason == "tampered", other


def test_expired_token_is_refused_as_expired() -> None:
    token = sign_link(SECRET, "journey-c1~p1", Action.PERSONA, {"persona": "creator"}, now=NOW)
    lifetime = LINK_LIFETIME[Action.PERSONA]
    verify_link(SECRET, token, Action.PERSONA, now=NOW + lifetime - timedelta(seconds=1))
    with pytest.raises(LinkError) as err:
        verify_link(SECRET, token, Action.PERSONA, now=NOW + lifetime + timedelta(seconds=1))
    assert err.value.reason == "expired"


def test_unsubscribe_links_outlive_the_program() -> None:
    token = sign_link(SECRET, "journey-c1~p1", Action.UNSUBSCRIBE, now=NOW)
    verify_link(SECRET, token, Action.UNSUBSCRIBE, now=NOW + timedelta(days=3 * 365))
