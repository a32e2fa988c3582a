"""PKCE (RFC 7636): S256 only; the verifier must hash to the challenge."""

from __future__ import annotations

import pytest

from idplus.errors import InvalidRequest
from idplus.protocol.pkce import s256_challenge, validate_challenge, verifier_matches


def test_rfc7636_appendix_b_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert verifier_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    assert not verifier_matches(verifier + "x", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    assert not verifier_matches("short", s256_challenge("short"))


def test_challenge_rules() -> None:
    challenge = s256_challenge("v" * 43)
    validate_challenge(challenge, "S256", required=True)
    validate_challenge(None, None, required=False)
    with pytest.raises(InvalidRequest, match="required"):
        validate_challenge(None, None, required=True)
    with pytest.raises(InvalidRequest, match="plain"):
        validate_challenge(challenge, "plain", required=True)
    with pytest.raises(InvalidRequest, match="plain"):
        validate_challenge(challenge, None, required=True)
    with pytest.raises(InvalidRequest, match="without code_challenge"):
        validate_challenge(None, "S256", required=False)
