"""At /connect/token: after a rotation the older secret keeps working through its overlap (a
day by default) and is refused after it, or at once when the rotation or a revocation says so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from idplus.manage.clients import revoke_client_secret, rotate_client_secret
from tests.harness import Harness, basic


@pytest.fixture
def old_secret(harness: Harness) -> str:
    secret = harness.add_client(
        "svc", client_type="Confidential", grant_types=["client_credentials"]
    )
    assert secret is not None
    return secret


def _rotate(h: Harness, **options: Any) -> Any:
    store = h.store()
    try:
        return rotate_client_secret(store, h.clock, "svc", **options)
    finally:
        store.dispose()


def _token(h: Harness, secret: str) -> Any:
    return h.http.post(
        "/connect/token", data={"grant_type": "client_credentials"}, headers=basic("svc", secret)
    )


def _cache_expires(h: Harness) -> None:
    h.clock.advance(timedelta(seconds=h.settings.client_cache_seconds))


def test_the_older_secret_works_through_the_overlap_and_not_after(
    harness: Harness, old_secret: str
) -> None:
    new_secret = _rotate(harness).client_secret
    _cache_expires(harness)
    assert _token(harness, old_secret).status_code == 200
    assert _token(harness, new_secret).status_code == 200

    harness.clock.advance(timedelta(hours=24))

    refused = _token(harness, old_secret)
    assert refused.status_code == 401
    assert refused.json() == {
        "error": "invalid_client",
        "error_description": "client authentication failed",
    }
    assert _token(harness, new_secret).status_code == 200


def test_a_rotation_without_overlap_ends_the_older_secret(
    harness: Harness, old_secret: str
) -> None:
    new_secret = _rotate(harness, overlap=timedelta(0)).client_secret
    _cache_expires(harness)
    assert _token(harness, old_secret).status_code == 401
    assert _token(harness, new_secret).status_code == 200


def test_a_revoked_secret_is_refused(harness: Harness, old_secret: str) -> None:
    rotated = _rotate(harness)
    [older] = [s for s in rotated.client.secrets if s.expires_at is not None]
    store = harness.store()
    try:
        revoke_client_secret(store, harness.clock, "svc", older.id)
    finally:
        store.dispose()
    _cache_expires(harness)
    assert _token(harness, old_secret).status_code == 401
    assert _token(harness, rotated.client_secret).status_code == 200
