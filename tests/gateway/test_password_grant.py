"""The gateway's password grant is a full login only for users without a second factor."""

from __future__ import annotations

from typing import Any

import pytest

from idplus.crypto.hashing import HashingBusy, PasswordHashSlots
from tests.harness import PASSWORD, Harness, basic


def _password_grant(h: Harness, secret: str, username: str, password: str = PASSWORD) -> Any:
    form = {"grant_type": "password", "username": username, "password": password}
    return h.http.post("/oauth/v2/token", data=form, headers=basic("partner", secret))


def _partner(h: Harness) -> str:
    h.add_api_products("api:tv")
    secret = h.add_client("partner", client_type="Confidential", api_access=True,
                          grant_types=["password", "refresh_token"], scopes=["api:tv"])  # fmt: skip
    assert secret is not None
    return secret


def test_password_grant_does_not_skip_the_second_factor(harness: Harness) -> None:
    """On main a user added with --otp got tokens from the password alone."""
    secret = _partner(harness)
    harness.add_user("+4790000001", otp_required=True)
    refused = _password_grant(harness, secret, "+4790000001")
    assert refused.status_code == 401
    body = refused.json()
    assert body["error_code"] == 5
    assert body["error"] == "not authorized to create access token"
    assert "access_token" not in body
    assert harness.outbox() == []


def test_otp_refusal_looks_like_a_wrong_password(harness: Harness) -> None:
    secret = _partner(harness)
    harness.add_user("+4790000001", otp_required=True)
    harness.add_user("+4790000002")
    otp_user = _password_grant(harness, secret, "+4790000001").json()
    wrong_password = _password_grant(harness, secret, "+4790000002", "wrong").json()
    assert otp_user == wrong_password


def test_password_alone_still_works_for_users_without_a_second_factor(harness: Harness) -> None:
    secret = _partner(harness)
    harness.add_user("+4790000002")
    answer = _password_grant(harness, secret, "+4790000002")
    assert answer.status_code == 200
    assert answer.json()["access_token"]


def test_wrong_passwords_of_some_users_do_not_lock_out_the_partners_other_users(
    harness: Harness,
) -> None:
    """The gateway's peer is the partner's back end: an address budget there let 30 wrong
    passwords, spread over six users, refuse a seventh user's right password."""
    secret = _partner(harness)
    harness.add_user("+4790000002")
    for i in range(30):
        wrong = _password_grant(harness, secret, f"+479100000{i % 6}", "wrong")
        assert wrong.status_code == 401
    assert _password_grant(harness, secret, "+4790000002").status_code == 200


def test_a_locked_username_is_told_to_try_again_later(harness: Harness) -> None:
    secret = _partner(harness)
    harness.add_user("+4790000002")
    for _ in range(harness.settings.login_failures_per_username):
        assert _password_grant(harness, secret, "+4790000002", "wrong").status_code == 401
    locked = _password_grant(harness, secret, "+4790000002")
    assert locked.status_code == 401
    assert locked.json()["error_code"] == 5
    assert locked.json()["error_description"] == "too many failed attempts; try again later"


def test_every_hashing_slot_busy_is_503_with_retry_after(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = _partner(harness)
    harness.add_user("+4790000002")

    def busy(_slots: PasswordHashSlots) -> None:
        raise HashingBusy

    monkeypatch.setattr(PasswordHashSlots, "slot", busy)
    shed = _password_grant(harness, secret, "+4790000002")
    assert shed.status_code == 503
    assert shed.json()["error_code"] == 2
    assert shed.headers["retry-after"] == "1"


def test_password_grant_logins_are_audited_and_counted_like_login_pages(
    harness: Harness,
) -> None:
    """A partner's back end logs users in too: operators see those logins and failures, with
    the typed name only as its keyed hash."""
    secret = _partner(harness)
    harness.add_user("+4790000002")
    harness.add_user("+4790000001", otp_required=True)
    assert _password_grant(harness, secret, "+4790000002", "wrong").status_code == 401
    assert _password_grant(harness, secret, "+4790000001").status_code == 401
    assert _password_grant(harness, secret, "+4790000002").status_code == 200

    store = harness.store()
    try:
        with store.reading() as uow:
            events = list(reversed(uow.audit.list_events(events=("login.*",))))
    finally:
        store.dispose()
    wrong, second_factor, success = [(e.event, e.client_id, dict(e.detail)) for e in events]
    assert wrong[:2] == ("login.failed", "partner")
    assert wrong[2]["reason"] == "invalid_credentials"
    assert second_factor[2]["reason"] == "second_factor_required"
    assert success[:2] == ("login.succeeded", "partner")
    assert success[2]["method"] == "password"
    assert success[2]["grant_type"] == "password"
    assert events[-1].user_id is not None and events[0].user_id is None
    assert "4790000002" not in repr(events) and PASSWORD not in repr(events)
    metrics = harness.http.get("/metrics").text
    assert 'idplus_logins_total{method="password",result="success"} 1.0' in metrics
    assert 'idplus_logins_total{method="password",result="invalid_credentials"} 1.0' in metrics
