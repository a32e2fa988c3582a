"""Checking one DPoP proof (RFC 9449 §4.2, §4.3): the JWT a client signs per request with the
key its tokens are bound to.

Framework-free and store-free: the caller gives the proof, the request's method and URL and the
time, and gets the proof's key thumbprint (`jkt`, RFC 7638) and `jti`, or InvalidDpopProof.
Whether a nonce is required (`nonces`) and whether the proof was seen before (`replay`) are
separate steps. Every refusal reads the same to the client; the reason goes to the log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard
from urllib.parse import SplitResult, urlsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from joserfc.jws import JWSRegistry

from idplus.crypto.client_keys import KEY_TYPE_OF_ALGORITHM, MIN_RSA_BITS, PRIVATE_MEMBERS
from idplus.errors import OAuthError

# What discovery advertises as dpop_signing_alg_values_supported; nothing else is verified.
DPOP_ALGORITHMS = ("ES256", "PS256", "RS256")
PROOF_TYPE = "dpop+jwt"
# A proof is accepted until its iat is this old (RFC 9449 §11.1: a short window limits what a
# captured proof is good for; the replay record covers the same window).
PROOF_WINDOW_SECONDS = 60
# How far ahead of our clock iat may be. Only clock skew: a proof dated in the future stays
# usable for longer, and one who briefly held the private key could make proofs for later use
# (RFC 9449 §11.2), so this side is a small leeway rather than the whole window.
FUTURE_LEEWAY_SECONDS = 10
# A proof is a few hundred bytes (a 4096-bit RSA jwk makes it about 1.5 KiB); anything far
# longer is refused before any parsing.
MAX_PROOF_LENGTH = 8192
MAX_JTI_LENGTH = 256
MAX_NONCE_LENGTH = 256
# A modulus beyond this (or an outsized public exponent) makes verification slow for nothing.
MAX_RSA_BITS = 8192
MAX_RSA_EXPONENT_BITS = 256
# RFC 3986 §2.3: percent-encoded unreserved characters mean the same unencoded (§6.2.2.2).
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT_ENCODED = re.compile(r"%([0-9A-Fa-f]{2})")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Odd input makes parsers raise these; each means "not a valid proof", never a server error.
_UNREADABLE = (JoseError, ValueError, TypeError, KeyError, RecursionError, OverflowError)


class _ProofRegistry(JWSRegistry):
    # An RSA jwk alone is longer than joserfc's 512-byte header limit; MAX_PROOF_LENGTH bounds
    # the whole proof before parsing.
    max_header_length = MAX_PROOF_LENGTH
    max_signature_length = MAX_PROOF_LENGTH


# Parsing and verification both go through this registry: only these algorithms, and the JWS
# header members joserfc knows (an unknown member, or a `crit` naming one, is refused).
_REGISTRIES = {algorithm: _ProofRegistry(algorithms=[algorithm]) for algorithm in DPOP_ALGORITHMS}
_PARSING = _ProofRegistry(algorithms=list(DPOP_ALGORITHMS))


class InvalidDpopProof(OAuthError):
    """One public text for every reason (bad signature, wrong URL, replayed …); the reason is
    in `detail` for the log."""

    error = "invalid_dpop_proof"
    status_code = 400
    PUBLIC_DESCRIPTION = "the DPoP proof is invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(self.PUBLIC_DESCRIPTION, detail=reason)


class UseDpopNonce(OAuthError):
    """RFC 9449 §8: the proof lacks a current server nonce; the response carries `nonce` in
    its DPoP-Nonce header for the client's next proof."""

    error = "use_dpop_nonce"
    status_code = 400
    PUBLIC_DESCRIPTION = "a DPoP proof with the server's current nonce is required"

    def __init__(self, nonce: str, *, reason: str = "the proof carries no server nonce") -> None:
        super().__init__(self.PUBLIC_DESCRIPTION, detail=reason)
        self.nonce = nonce


@dataclass(frozen=True, slots=True)
class DpopProof:
    """What a verified proof tells: whose key (RFC 7638 SHA-256 thumbprint, base64url), which
    proof (`jti`), when it was made, and the server nonce it carries."""

    jkt: str
    jti: str
    issued_at: int
    nonce: str | None
    # The JWS algorithm the proof was signed with (one of DPOP_ALGORITHMS).
    algorithm: str


def single_dpop_header(values: Sequence[str]) -> str | None:
    """The request's one DPoP header value; None without any (RFC 9449 §4.3 item 1)."""
    if not values:
        return None
    if len(values) > 1:
        raise InvalidDpopProof("more than one DPoP header")
    return values[0]


def access_token_hash(token: str) -> str:
    """`ath` (RFC 9449 §4.2): base64url of the SHA-256 of the token's ASCII bytes."""
    digest = hashlib.sha256(token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify_proof(
    proof: str, *, method: str, url: str, now: datetime, access_token: str | None = None
) -> DpopProof:
    """RFC 9449 §4.3 items 2-9, 11 and (with `access_token`) 12's `ath`: a well-formed proof
    of a public key for this method and URL (query and fragment ignored), made within the
    window. The caller checks the nonce, the replay record and the token's binding."""
    try:
        return _verified(proof, method, url, now, access_token)
    except _UNREADABLE as error:
        raise InvalidDpopProof(f"unreadable proof ({type(error).__name__})") from None


def _verified(
    proof: str, method: str, url: str, now: datetime, access_token: str | None
) -> DpopProof:
    if not isinstance(proof, str) or len(proof) > MAX_PROOF_LENGTH:
        raise InvalidDpopProof("the proof is not a string of a sensible length")
    compact = jws.extract_compact(proof.encode("ascii"), registry=_PARSING)
    header = compact.protected
    algorithm = _checked_algorithm(header)
    key = _proof_key(header.get("jwk"), algorithm)
    if not jws.validate_compact(compact, key, registry=_REGISTRIES[algorithm]):
        raise InvalidDpopProof("bad signature")
    claims = json.loads(compact.payload)
    if not isinstance(claims, dict):
        raise InvalidDpopProof("the claims are not a JSON object")
    _check_request(claims, method, url)
    issued_at = _checked_issued_at(claims.get("iat"), now)
    if access_token is not None:
        _check_token_hash(claims.get("ath"), access_token)
    return DpopProof(
        jkt=key.thumbprint(),
        jti=_checked_text(claims.get("jti"), MAX_JTI_LENGTH, "jti"),
        issued_at=issued_at,
        nonce=_checked_nonce(claims.get("nonce")),
        algorithm=algorithm,
    )


def _checked_algorithm(header: Mapping[str, Any]) -> str:
    if header.get("typ") != PROOF_TYPE:
        raise InvalidDpopProof(f"typ is not {PROOF_TYPE}")
    if "b64" in header:
        # RFC 7797's unencoded payload: then the proof would not be a JWT.
        raise InvalidDpopProof("b64 header")
    algorithm = header.get("alg")
    # `none`, HS256 (keyed with the public key) and every other algorithm stop here.
    if algorithm not in DPOP_ALGORITHMS:
        raise InvalidDpopProof(f"algorithm {str(algorithm)[:20]!r} is not accepted")
    return str(algorithm)


def _proof_key(jwk: object, algorithm: str) -> RSAKey | ECKey:
    """The public key of the `jwk` header, of the type `algorithm` needs."""
    if not isinstance(jwk, dict):
        raise InvalidDpopProof("no jwk header")
    # A private member would mean the client published its signing key (§4.3 item 7).
    if PRIVATE_MEMBERS & set(jwk):
        raise InvalidDpopProof("the jwk holds private or symmetric key material")
    key_type = jwk.get("kty")
    if key_type != KEY_TYPE_OF_ALGORITHM[algorithm]:
        raise InvalidDpopProof(f"a {str(key_type)[:10]!r} key cannot make {algorithm} proofs")
    if key_type == "RSA":
        _check_rsa_size(jwk)
        return RSAKey.import_key(jwk)
    key = ECKey.import_key(jwk)
    if key.curve_name != "P-256":
        raise InvalidDpopProof("ES256 needs a P-256 key")
    return key


def _check_rsa_size(jwk: Mapping[str, Any]) -> None:
    # Checked before import: joserfc only warns about short keys.
    if not MIN_RSA_BITS <= _unsigned_bits(jwk.get("n")) <= MAX_RSA_BITS:
        raise InvalidDpopProof(f"RSA keys need {MIN_RSA_BITS}-{MAX_RSA_BITS} bits")
    if _unsigned_bits(jwk.get("e")) > MAX_RSA_EXPONENT_BITS:
        raise InvalidDpopProof("the RSA public exponent is too large")


def _unsigned_bits(value: object) -> int:
    if not isinstance(value, str):
        raise InvalidDpopProof("an RSA key member is not a string")
    data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    return int.from_bytes(data, "big").bit_length()


def _check_request(claims: Mapping[str, Any], method: str, url: str) -> None:
    if claims.get("htm") != method:
        raise InvalidDpopProof("htm is not the request's method")
    htu = claims.get("htu")
    if not isinstance(htu, str) or _comparable_url(htu) != _comparable_url(url):
        raise InvalidDpopProof("htu is not the request's URL")


def _comparable_url(url: str) -> tuple[str, str | None, str | None, str, int, str]:
    """The URL after RFC 3986 §6.2.2 syntax- and §6.2.3 scheme-based normalisation (case of
    scheme and host, percent-encoding, default port, empty path), query and fragment
    dropped (RFC 9449 §4.3 item 9)."""
    parts: SplitResult = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise InvalidDpopProof("htu is not an absolute http(s) URL")
    port = parts.port  # ValueError for a port that is not a number in range
    return (
        scheme,
        parts.username,
        parts.password,
        parts.hostname,  # lowercased
        _DEFAULT_PORTS[scheme] if port is None else port,
        _normalised_path(parts.path or "/"),
    )


def _normalised_path(path: str) -> str:
    def one(match: re.Match[str]) -> str:
        character = chr(int(match.group(1), 16))
        return character if character in _UNRESERVED else match.group(0).upper()

    return _PERCENT_ENCODED.sub(one, path)


def _checked_issued_at(iat: object, now: datetime) -> int:
    if not _is_integer(iat):
        raise InvalidDpopProof("iat is not an integer")
    age = now.timestamp() - iat
    if age > PROOF_WINDOW_SECONDS:
        raise InvalidDpopProof("the proof is too old")
    if -age > FUTURE_LEEWAY_SECONDS:
        raise InvalidDpopProof("the proof is dated in the future")
    return iat


def _check_token_hash(ath: object, access_token: str) -> None:
    if not isinstance(ath, str):
        raise InvalidDpopProof("ath is missing")
    expected = access_token_hash(access_token).encode()
    if not hmac.compare_digest(ath.encode("utf-8", "surrogatepass"), expected):
        raise InvalidDpopProof("ath is not the access token's hash")


def _checked_nonce(nonce: object) -> str | None:
    return None if nonce is None else _checked_text(nonce, MAX_NONCE_LENGTH, "nonce")


def _checked_text(value: object, longest: int, name: str) -> str:
    # Printable excludes control characters and lone surrogates (which would not encode).
    if not isinstance(value, str) or not 0 < len(value) <= longest or not value.isprintable():
        raise InvalidDpopProof(f"{name} is missing or not 1-{longest} printable characters")
    return value


def _is_integer(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
