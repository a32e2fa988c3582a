"""Proof Key for Code Exchange (RFC 7636); only S256 is accepted (SPEC §1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from idplus.errors import InvalidRequest

S256 = "S256"
# RFC 7636 §4.1/§4.2: 43-128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
_VALUE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def validate_challenge(challenge: str | None, method: str | None, *, required: bool) -> None:
    if challenge is None:
        if method is not None:
            raise InvalidRequest("code_challenge_method without code_challenge")
        if required:
            raise InvalidRequest("code_challenge is required (PKCE with S256)")
        return
    if (method or "plain") != S256:
        raise InvalidRequest("code_challenge_method must be S256; plain is not supported")
    if not _VALUE.match(challenge):
        raise InvalidRequest("code_challenge is not a valid S256 challenge")


def s256_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verifier_matches(verifier: str, challenge: str) -> bool:
    if not _VALUE.match(verifier):
        return False
    return hmac.compare_digest(s256_challenge(verifier), challenge)
