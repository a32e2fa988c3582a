"""DPoP for tests: a client's proof key and the proofs it signs (RFC 9449 §4.2).

    key = DpopKey()                                  # ES256 (P-256); DpopKey("PS256") for RSA
    proof = key.proof("POST", token_url, iat=clock.now())
    later = key.proof("GET", api_url, access_token=token, nonce=nonce)
    cnf = {"jkt": key.jkt}

Overrides (`**overrides` for claims, `header=` for the JOSE header) build broken proofs; a None
value drops the member. `forged_jws` makes the proofs no honest client could (alg `none`, HS256).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime
from typing import Any

from joserfc.jwk import ECKey, RSAKey
from joserfc.jws import JWSRegistry

from idplus.protocol.dpop.proof import PROOF_TYPE, access_token_hash


class DpopKey:
    """A client's DPoP key pair: ES256 on P-256, or PS256/RS256 on a 2048-bit RSA key."""

    def __init__(self, alg: str = "ES256") -> None:
        self.alg = alg
        self.key: ECKey | RSAKey = (
            ECKey.generate_key("P-256") if alg == "ES256" else RSAKey.generate_key(2048)
        )

    @property
    def jkt(self) -> str:
        """The RFC 7638 thumbprint a token bound to this key carries as cnf.jkt."""
        return self.key.thumbprint()

    def public_jwk(self) -> dict[str, Any]:
        return dict(self.key.as_dict(private=False))

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        iat: int | datetime | None = None,
        jti: str | None = None,
        header: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        """A proof for `method` `url`, made at `iat` (default: now, wall clock)."""
        if isinstance(iat, datetime):
            iat = int(iat.timestamp())
        claims: dict[str, Any] = {
            "jti": jti or str(uuid.uuid4()),
            "htm": method,
            "htu": url,
            "iat": int(time.time()) if iat is None else iat,
            "ath": access_token_hash(access_token) if access_token is not None else None,
            "nonce": nonce,
            **overrides,
        }
        protected = {"typ": PROOF_TYPE, "alg": self.alg, "jwk": self.public_jwk(), **(header or {})}
        return self.sign(protected, claims)

    def sign(self, protected: dict[str, Any], claims: dict[str, Any]) -> str:
        """A JWS of exactly these members (None values dropped), signed with this key."""
        return self.sign_payload(protected, json.dumps(_present(claims)).encode())

    def sign_payload(self, protected: dict[str, Any], payload: bytes) -> str:
        """Any header (even one joserfc would refuse to write) over any payload, signed with
        this key's own algorithm whatever the header claims."""
        header = json.dumps(_present(protected)).encode()
        signing_input = f"{_b64(header)}.{_b64(payload)}"
        signature = JWSRegistry.algorithms[self.alg].sign(signing_input.encode(), self.key)
        return f"{signing_input}.{_b64(signature)}"


def forged_jws(
    protected: dict[str, Any], claims: dict[str, Any], *, hmac_secret: bytes | None = None
) -> str:
    """A compact JWS an attacker writes by hand: unsigned (alg none) or HS256 with
    `hmac_secret` (e.g. the victim's public key)."""
    signing_input = f"{_b64(json.dumps(protected).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = b""
    if hmac_secret is not None:
        signature = hmac.new(hmac_secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _present(members: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in members.items() if value is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
