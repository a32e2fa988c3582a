"""Each DPoP proof is accepted once (RFC 9449 §11.1), on every instance.

The proof's key thumbprint and `jti` are recorded, as a keyed hash, in the shared store until
the proof is too old to be accepted anyway; recording it is the check, so a copy presented to
any instance afterwards (or at the same moment) is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime

from idplus.crypto.hashing import hash_handle
from idplus.protocol.dpop.proof import PROOF_WINDOW_SECONDS, DpopProof, InvalidDpopProof
from idplus.store.base import UnitOfWork

# Kept a little past the window: instances' clocks differ by a few seconds.
REPLAY_MARGIN_SECONDS = 5


def spend_proof(uow: UnitOfWork, handle_key: bytes, proof: DpopProof, now: datetime) -> None:
    """Record the proof; InvalidDpopProof when it was recorded before (a replay)."""
    # A thumbprint is base64url (no ":"), so "jkt:jti" names one pair only; the prefix keeps
    # these hashes apart from every other handle hashed under the same key.
    jti_hash = hash_handle(handle_key, f"dpop-proof:{proof.jkt}:{proof.jti}")
    expires_at = datetime.fromtimestamp(
        proof.issued_at + PROOF_WINDOW_SECONDS + REPLAY_MARGIN_SECONDS, UTC
    )
    if not uow.dpop_proofs.use_once(jti_hash, expires_at, now):
        raise InvalidDpopProof("replayed")
