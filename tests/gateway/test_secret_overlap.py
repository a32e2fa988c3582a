"""At /oauth/v2/token, as at /connect/token: a rotated-out secret works through its overlap and
is refused after it (401 with the gateway's number for a failed Basic authentication)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from idplus.manage.clients import rotate_client_secret
from tests.harness import Harness, basic


def _token(h: Harness, secret: str) -> Any:
    return h.http.post(
        "/oauth/v2/token",
        data={"grant_type": "client_credentials"},
        headers=basic("partner", secret),
    )


def test_the_older_secret_works_through_the_overlap_and_not_after(harness: Harness) -> None:
    harness.add_api_products("api:tv")
    old_secret = harness.add_client(
        "partner",
        client_type="Confidential",
        api_access=True,
        grant_types=["client_credentials"],
        scopes=["api:tv"],
    )
    assert old_secret is not None
    store = harness.store()
    try:
        new_secret = rotate_client_secret(
            store, harness.clock, "partner", overlap=timedelta(hours=1)
        ).client_secret
    finally:
        store.dispose()
    assert _token(harness, old_secret).status_code == 200
    assert _token(harness, new_secret).status_code == 200

    harness.clock.advance(timedelta(hours=1))

    refused = _token(harness, old_secret)
    assert refused.status_code == 401
    assert refused.json()["error_code"] == 22
    assert _token(harness, new_secret).status_code == 200
