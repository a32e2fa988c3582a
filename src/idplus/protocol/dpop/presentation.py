"""Whether an access token was presented the way its binding demands (RFC 9449 §7).

A token with `cnf.jkt` works only as `Authorization: DPoP <token>` with a proof of that key
whose `ath` is the token's hash; anyone holding a copy of it without the private key gets 401.
A token without a binding works only as a Bearer token. Every refusal challenges with the DPoP
scheme so the client knows what is expected.
"""

from __future__ import annotations

from idplus.errors import OAuthError
from idplus.protocol.bearer import (
    DPOP,
    AccessTokenClaims,
    DpopInsufficientScope,
    InsufficientScope,
    InvalidBoundToken,
    InvalidToken,
    PresentedToken,
    ResourceProofRefused,
)
from idplus.protocol.context import AppContext
from idplus.protocol.dpop.proof import DPOP_ALGORITHMS, InvalidDpopProof, UseDpopNonce
from idplus.protocol.dpop.request import DpopEvidence, checked_proof, proof_algorithms


def in_the_scheme_used(
    presented: PresentedToken, error: InvalidToken | InsufficientScope
) -> OAuthError:
    """RFC 9449 §7.1: a request made with the DPoP scheme is answered with a DPoP challenge,
    whatever is wrong with the token (expired, revoked, its session ended, too few scopes)."""
    if presented.scheme != DPOP or error.scheme == DPOP:
        return error
    if isinstance(error, InsufficientScope):
        return DpopInsufficientScope(error.description, detail=error.detail)
    return InvalidBoundToken(error.detail)


def check_presentation(
    ctx: AppContext,
    access: AccessTokenClaims,
    presented: PresentedToken,
    evidence: DpopEvidence | None,
) -> None:
    """Raises InvalidBoundToken or ResourceProofRefused (401s with a DPoP challenge)."""
    bound_to = access.dpop_jkt
    if bound_to is None:
        if presented.scheme == DPOP:
            raise InvalidBoundToken("a DPoP-scheme token that is not DPoP-bound")
        return
    if presented.scheme != DPOP:
        raise InvalidBoundToken("a DPoP-bound token presented as a Bearer token")
    client = ctx.clients.find(str(access.claims.get("client_id")))
    algorithms = proof_algorithms(client) if client is not None else DPOP_ALGORITHMS
    try:
        proof = checked_proof(ctx, evidence, access_token=presented.token, algorithms=algorithms)
    except UseDpopNonce as needed:
        raise ResourceProofRefused(
            needed.error, needed.description, detail=needed.detail, nonce=needed.nonce
        ) from None
    except InvalidDpopProof as invalid:
        raise ResourceProofRefused(
            invalid.error, invalid.description, detail=invalid.detail, nonce=None
        ) from None
    if proof is None:
        # As idplus.resource answers: the DPoP scheme came, its proof did not.
        raise ResourceProofRefused(
            "invalid_dpop_proof",
            "a DPoP proof is required with a DPoP-bound token",
            detail="a DPoP-bound token without a DPoP proof",
            nonce=None,
        )
    if proof.jkt != bound_to:
        raise InvalidBoundToken("the DPoP proof is made with another key than the token's")
