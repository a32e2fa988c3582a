"""Server-provided DPoP nonces (RFC 9449 §8, §9), stateless and valid on every instance.

A nonce names a time window (NONCE_WINDOW_SECONDS long) and carries a truncated HMAC of it
under a key derived from the server secret all instances share, so any instance can check a
nonce another one issued, and nothing is stored. A nonce is accepted in the window it was
issued in and in the next one (and, for an instance whose clock runs a little ahead, in the
window before): it lives between one and two windows (60-120 s), long enough
for the client's next request, short enough that a proof made with it soon stops working
(which is what a server nonce is for: it bounds a proof's life by the server's clock, not the
client's `iat`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from idplus.protocol.dpop.proof import DpopProof, UseDpopNonce

NONCE_WINDOW_SECONDS = 60
# 128 bits of HMAC: forging one is hopeless, and the nonce stays a short header value.
_TAG_BYTES = 16
_WINDOW_BYTES = 8
# Domain separation: the handle key also keys the hashes of stored handles.
_KEY_LABEL = b"idplus dpop nonce key"


class DpopNonces:
    """Issues and checks the server's DPoP nonces (opaque base64url of window || HMAC)."""

    def __init__(self, key: bytes, *, window_seconds: int = NONCE_WINDOW_SECONDS) -> None:
        self._key = key
        self._window_seconds = window_seconds

    @classmethod
    def from_server_secret(cls, handle_key: bytes) -> DpopNonces:
        """Nonces under a key derived from `ServerSecrets.handle_key`, the same on every
        instance of one database."""
        return cls(hmac.new(handle_key, _KEY_LABEL, hashlib.sha256).digest())

    def issue(self, now: datetime) -> str:
        return self._nonce_of(self._window_of(now))

    def check(self, proof: DpopProof, now: datetime) -> None:
        """Raises UseDpopNonce (with a fresh nonce) unless the proof carries a current one."""
        if proof.nonce is None:
            raise UseDpopNonce(self.issue(now), reason="the proof carries no server nonce")
        current = self._window_of(now)
        presented = proof.nonce.encode()
        # Both compared, constant time: which window matched (or none) takes the same time.
        matches = [
            hmac.compare_digest(presented, self._nonce_of(window).encode())
            # The next window too: another instance's clock may run a little ahead of ours.
            for window in (current + 1, current, current - 1)
        ]
        if not any(matches):
            raise UseDpopNonce(self.issue(now), reason="the proof's nonce is stale or not ours")

    def _window_of(self, now: datetime) -> int:
        return int(now.timestamp()) // self._window_seconds

    def _nonce_of(self, window: int) -> str:
        number = window.to_bytes(_WINDOW_BYTES, "big")
        tag = hmac.new(self._key, b"dpop-nonce:" + number, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(number + tag[:_TAG_BYTES]).rstrip(b"=").decode("ascii")
