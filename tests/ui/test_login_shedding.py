"""A login that finds every password-hashing slot taken is shed at once with 503."""

from __future__ import annotations

from contextlib import ExitStack

from idplus.protocol.context import AppContext
from tests.harness import Harness, redirect_params


def test_a_login_beyond_the_hashing_bound_gets_503_and_retry_after(harness: Harness) -> None:
    harness.add_client("spa")
    harness.add_user()
    browser = harness.browser()
    browser.get(harness.authorize_url())
    server: AppContext = harness.http.app.state.context  # type: ignore[attr-defined]
    with ExitStack() as busy:
        for _ in range(harness.settings.max_concurrent_hashes):
            busy.enter_context(server.hash_slots.slot())
        shed = harness.login(browser)
    assert shed.status_code == 503
    assert shed.headers["retry-after"] == "1"
    assert "Try again in a moment" in shed.text
    # Shedding spent no attempt: the same login goes through once a slot is free.
    browser.get(harness.authorize_url())
    assert "code" in redirect_params(harness.login(browser))
