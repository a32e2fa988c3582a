"""The DPoP proof of a request to idplus itself (token, PAR and userinfo endpoints).

The proof's `htu` is checked against the endpoint's URL under the configured issuer (as the
discovery document names it), never against what a proxy or the Host header says. A verified
proof is spent at once in the shared store, so every instance refuses the same proof afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from idplus.models import FAPI2_ALGORITHMS, Client
from idplus.protocol.context import AppContext
from idplus.protocol.dpop.nonces import DpopNonces
from idplus.protocol.dpop.proof import (
    DPOP_ALGORITHMS,
    DpopProof,
    InvalidDpopProof,
    single_dpop_header,
    verify_proof,
)
from idplus.protocol.dpop.replay import spend_proof


@dataclass(frozen=True, slots=True)
class DpopEvidence:
    """The DPoP header values a request carried, and where it was sent."""

    headers: tuple[str, ...]
    method: str
    # The endpoint's path under the issuer, e.g. "/connect/token".
    path: str

    @classmethod
    def of(cls, headers: Sequence[str], method: str, path: str) -> DpopEvidence | None:
        """None when the request carried no DPoP header (the common, bearer case)."""
        return cls(tuple(headers), method, path) if headers else None


def checked_proof(
    ctx: AppContext,
    evidence: DpopEvidence | None,
    *,
    access_token: str | None = None,
    algorithms: tuple[str, ...] = DPOP_ALGORITHMS,
) -> DpopProof | None:
    """The request's proof, verified, nonce-checked when nonces are required, and spent; None
    without one. `algorithms`: those the client may sign proofs with (a fapi2 client's are
    fewer). Raises InvalidDpopProof or UseDpopNonce."""
    header = single_dpop_header(evidence.headers) if evidence is not None else None
    if evidence is None or header is None:
        return None
    now = ctx.clock.now()
    url = ctx.settings.issuer + evidence.path
    proof = verify_proof(
        header, method=evidence.method, url=url, now=now, access_token=access_token
    )
    if proof.algorithm not in algorithms:
        raise InvalidDpopProof(f"this client's proofs may not use {proof.algorithm}")
    if ctx.settings.dpop_require_nonce:
        nonces(ctx).check(proof, now)
    with ctx.store.transaction() as uow:
        spend_proof(uow, ctx.secrets.handle_key, proof, now)
    return proof


def proof_algorithms(client: Client) -> tuple[str, ...]:
    """FAPI 2.0 §5.4.1: a fapi2 client's proofs are PS256 or ES256, never RS256."""
    return FAPI2_ALGORITHMS if client.is_fapi2 else DPOP_ALGORITHMS


def nonces(ctx: AppContext) -> DpopNonces:
    return DpopNonces.from_server_secret(ctx.secrets.handle_key)


def fresh_nonce(ctx: AppContext, evidence: DpopEvidence | None) -> str | None:
    """The DPoP-Nonce header value a response to a DPoP request carries (RFC 9449 §8.2), so
    the client's next proof needs no extra round trip; None when nonces are not in use."""
    if evidence is None or not ctx.settings.dpop_require_nonce:
        return None
    return nonces(ctx).issue(ctx.clock.now())
