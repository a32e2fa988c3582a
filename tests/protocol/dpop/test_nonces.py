"""Server DPoP nonces (RFC 9449 §8, §9): stateless, shared by every instance of one database,
accepted in their own time window and the next (and one window early)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from idplus.protocol.dpop.nonces import NONCE_WINDOW_SECONDS, DpopNonces
from idplus.protocol.dpop.proof import DpopProof, UseDpopNonce

HANDLE_KEY = b"k" * 32
# The start of a window, so that "one window later" is exact.
NOW = datetime.fromtimestamp(1_800_000_000 // NONCE_WINDOW_SECONDS * NONCE_WINDOW_SECONDS, UTC)
WINDOW = timedelta(seconds=NONCE_WINDOW_SECONDS)


def _proof(nonce: str | None) -> DpopProof:
    issued_at = int(NOW.timestamp())
    return DpopProof(
        jkt="thumbprint", jti="proof-1", issued_at=issued_at, nonce=nonce, algorithm="ES256"
    )


def _needs_nonce(nonces: DpopNonces, nonce: str | None, now: datetime) -> UseDpopNonce:
    with pytest.raises(UseDpopNonce) as needed:
        nonces.check(_proof(nonce), now)
    assert (needed.value.error, needed.value.status_code) == ("use_dpop_nonce", 400)
    return needed.value


def test_a_proof_without_a_nonce_gets_a_fresh_one_to_use() -> None:
    nonces = DpopNonces.from_server_secret(HANDLE_KEY)
    needed = _needs_nonce(nonces, None, NOW)
    assert needed.nonce == nonces.issue(NOW)
    nonces.check(_proof(needed.nonce), NOW)


def test_a_nonce_is_good_in_its_window_and_the_next_only() -> None:
    nonces = DpopNonces.from_server_secret(HANDLE_KEY)
    nonce = nonces.issue(NOW)
    nonces.check(_proof(nonce), NOW + WINDOW - timedelta(seconds=1))
    nonces.check(_proof(nonce), NOW + 2 * WINDOW - timedelta(seconds=1))
    stale = _needs_nonce(nonces, nonce, NOW + 2 * WINDOW)
    assert stale.nonce == nonces.issue(NOW + 2 * WINDOW) != nonce


def test_another_instance_of_the_same_database_accepts_it() -> None:
    issued = DpopNonces.from_server_secret(HANDLE_KEY).issue(NOW)
    DpopNonces.from_server_secret(bytes(HANDLE_KEY)).check(_proof(issued), NOW)


def test_a_nonce_of_another_server_is_refused() -> None:
    theirs = DpopNonces.from_server_secret(b"x" * 32).issue(NOW)
    _needs_nonce(DpopNonces.from_server_secret(HANDLE_KEY), theirs, NOW)


def test_the_nonce_key_is_derived_not_the_handle_key_itself() -> None:
    # Domain separation: the handle key also keys the hashes of stored handles.
    assert DpopNonces(HANDLE_KEY).issue(NOW) != DpopNonces.from_server_secret(HANDLE_KEY).issue(NOW)


@pytest.mark.parametrize(
    "forge",
    [
        lambda nonce: nonce[:-1] + ("A" if nonce[-1] != "A" else "B"),  # a changed tag
        lambda nonce: nonce[:-2],  # truncated
        lambda nonce: nonce + "AA",  # lengthened
        lambda nonce: nonce.lower(),
        lambda nonce: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        lambda nonce: "not base64 at all!",
        lambda nonce: "\u00e9t\u00e9",
    ],
)
def test_a_forged_nonce_is_refused(forge: object) -> None:
    nonces = DpopNonces.from_server_secret(HANDLE_KEY)
    forged = forge(nonces.issue(NOW))  # type: ignore[operator]
    _needs_nonce(nonces, forged, NOW)


def test_a_nonce_for_a_later_window_is_not_made_up_by_the_client() -> None:
    # A client cannot move a nonce forward: the window is under the HMAC.
    nonces = DpopNonces.from_server_secret(HANDLE_KEY)
    old = nonces.issue(NOW - 2 * WINDOW)
    _needs_nonce(nonces, old, NOW)
    assert nonces.issue(NOW) != old


def test_a_nonce_from_an_instance_whose_clock_runs_ahead_is_accepted() -> None:
    """Near a window's edge another instance may already issue the next window's nonce; one
    window ahead is accepted, two are not."""
    nonces = DpopNonces.from_server_secret(HANDLE_KEY)
    nonces.check(_proof(nonces.issue(NOW + WINDOW)), NOW)
    _needs_nonce(nonces, nonces.issue(NOW + 2 * WINDOW), NOW)
