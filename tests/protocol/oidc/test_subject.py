"""Pairwise `sub` (OIDC Core §8.1): stable per client, different between clients."""

from __future__ import annotations

from idplus.protocol.oidc.subject import pairwise_subject


def test_stable_for_one_client_and_different_between_clients() -> None:
    first = pairwise_subject(b"salt", "client-a", "user-1")
    assert first == pairwise_subject(b"salt", "client-a", "user-1")
    assert first != pairwise_subject(b"salt", "client-b", "user-1")
    assert first != pairwise_subject(b"salt", "client-a", "user-2")
    assert first != pairwise_subject(b"other-salt", "client-a", "user-1")
    assert "user-1" not in first
