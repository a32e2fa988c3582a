"""Checking a DPoP proof (RFC 9449 §4.3): what is accepted, and that every bad proof is one
clear invalid_dpop_proof, never another exception."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from joserfc.jwk import ECKey

from idplus.protocol.dpop.proof import (
    MAX_PROOF_LENGTH,
    PROOF_WINDOW_SECONDS,
    DpopProof,
    InvalidDpopProof,
    access_token_hash,
    single_dpop_header,
    verify_proof,
)
from tests.dpop_proofs import DpopKey, forged_jws

NOW = datetime(2026, 1, 1, tzinfo=UTC)
URL = "https://server.example.com/connect/token"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.an-access-token.sig"


@pytest.fixture(scope="module")
def ec() -> DpopKey:
    return DpopKey("ES256")


@pytest.fixture(scope="module")
def rsa() -> DpopKey:
    return DpopKey("PS256")


def _verify(proof: str, *, method: str = "POST", url: str = URL, **kwargs: Any) -> DpopProof:
    return verify_proof(proof, method=method, url=url, now=NOW, **kwargs)


def _refused(proof: str, **kwargs: Any) -> InvalidDpopProof:
    with pytest.raises(InvalidDpopProof) as refused:
        _verify(proof, **kwargs)
    error = refused.value
    # One public text; the reason is only for the log.
    assert (error.error, error.status_code) == ("invalid_dpop_proof", 400)
    assert error.description == InvalidDpopProof.PUBLIC_DESCRIPTION
    return error


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# Accepted


@pytest.mark.parametrize("alg", ["ES256", "PS256", "RS256"])
def test_a_proof_of_each_algorithm_names_its_key_and_jti(alg: str) -> None:
    key = DpopKey(alg)
    proof = _verify(key.proof("POST", URL, iat=NOW, jti="proof-1", nonce="n-1"))
    assert proof == DpopProof(jkt=key.jkt, jti="proof-1", issued_at=int(NOW.timestamp()),
                              nonce="n-1", algorithm=alg)  # fmt: skip


def test_the_thumbprint_is_rfc_7638s(ec: DpopKey) -> None:
    # RFC 7638 §3.1: the required members only, in lexicographic order, no whitespace.
    jwk = ec.public_jwk()
    members = json.dumps({name: jwk[name] for name in ("crv", "kty", "x", "y")},
                         separators=(",", ":"))  # fmt: skip
    assert _verify(ec.proof("POST", URL, iat=NOW)).jkt == _b64(
        hashlib.sha256(members.encode()).digest()
    )


@pytest.mark.parametrize(
    "htu",
    [
        "https://server.example.com/connect/token?client=1#top",  # query and fragment ignored
        "HTTPS://Server.Example.COM/connect/token",  # case of scheme and host
        "https://server.example.com:443/connect/token",  # default port
        "https://server.example.com/connect/%74oken",  # percent-encoded unreserved character
    ],
)
def test_htu_is_compared_after_normalisation(ec: DpopKey, htu: str) -> None:
    _verify(ec.proof("POST", htu, iat=NOW))


def test_the_request_url_is_normalised_too(ec: DpopKey) -> None:
    proof = ec.proof("GET", "http://api.example.com/", iat=NOW)
    _verify(proof, method="GET", url="HTTP://API.example.com:80?page=2")


def test_iat_within_the_window_either_side(ec: DpopKey) -> None:
    _verify(ec.proof("POST", URL, iat=NOW - timedelta(seconds=PROOF_WINDOW_SECONDS)))
    _verify(ec.proof("POST", URL, iat=NOW + timedelta(seconds=5)))


def test_ath_is_checked_only_when_a_token_is_presented(ec: DpopKey) -> None:
    with_ath = ec.proof("GET", URL, iat=NOW, access_token=TOKEN)
    _verify(with_ath, method="GET", access_token=TOKEN)
    _verify(with_ath, method="GET")  # the token endpoint has no token to hash


def test_access_token_hash_is_rfc_9449s_example() -> None:
    # RFC 9449 §7.1: the example token and its ath.
    assert access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU") == (
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    )


# Refused: the header


@pytest.mark.parametrize("typ", ["JWT", "DPOP+JWT", "at+jwt", None])
def test_another_typ_is_refused(ec: DpopKey, typ: str | None) -> None:
    _refused(ec.proof("POST", URL, iat=NOW, header={"typ": typ}))


def test_alg_none_is_refused(ec: DpopKey) -> None:
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": ec.public_jwk()}
    claims = {"jti": "x", "htm": "POST", "htu": URL, "iat": int(NOW.timestamp())}
    _refused(forged_jws(header, claims))


def test_hs256_keyed_with_the_public_key_is_refused(rsa: DpopKey) -> None:
    public_pem = rsa.key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = {"jti": "x", "htm": "POST", "htu": URL, "iat": int(NOW.timestamp())}
    for secret in (public_pem, json.dumps(rsa.public_jwk()).encode()):
        header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": rsa.public_jwk()}
        _refused(forged_jws(header, claims, hmac_secret=secret))


def test_an_es256_header_with_an_rsa_jwk_is_refused(ec: DpopKey, rsa: DpopKey) -> None:
    _refused(ec.proof("POST", URL, iat=NOW, header={"jwk": rsa.public_jwk()}))


def test_an_rsa_algorithm_with_an_ec_jwk_is_refused(ec: DpopKey, rsa: DpopKey) -> None:
    _refused(rsa.proof("POST", URL, iat=NOW, header={"jwk": ec.public_jwk()}))


def test_an_ec_key_off_p256_is_refused() -> None:
    p384 = ECKey.generate_key("P-384")
    key = DpopKey("ES256")
    _refused(key.proof("POST", URL, iat=NOW, header={"jwk": dict(p384.as_dict(private=False))}))


def test_a_short_rsa_key_is_refused(rsa: DpopKey) -> None:
    jwk = rsa.public_jwk()
    short = {**jwk, "n": _b64(base64.urlsafe_b64decode(jwk["n"] + "==")[:128])}  # 1024 bits
    assert "bits" in _refused(rsa.proof("POST", URL, iat=NOW, header={"jwk": short})).detail


@pytest.mark.parametrize("alg", ["ES256", "PS256"])
def test_a_private_key_in_the_jwk_is_refused(alg: str, ec: DpopKey, rsa: DpopKey) -> None:
    key = ec if alg == "ES256" else rsa
    private = dict(key.key.as_dict(private=True))
    error = _refused(key.proof("POST", URL, iat=NOW, header={"jwk": private}))
    assert "private" in error.detail


def test_a_symmetric_jwk_is_refused(ec: DpopKey) -> None:
    for jwk in ({"kty": "oct", "k": "c2VjcmV0"}, {"kty": "oct"}):
        _refused(ec.proof("POST", URL, iat=NOW, header={"jwk": jwk}))


def test_a_missing_or_malformed_jwk_is_refused(ec: DpopKey) -> None:
    for jwk in (None, "a key", ["kty", "EC"], {"kty": "EC", "crv": "P-256", "x": "AA"}):
        _refused(ec.proof("POST", URL, iat=NOW, header={"jwk": jwk}))


def test_unknown_or_critical_header_members_are_refused(ec: DpopKey) -> None:
    _refused(ec.proof("POST", URL, iat=NOW, header={"crit": ["exp"], "exp": 1}))
    _refused(ec.proof("POST", URL, iat=NOW, header={"b64": False, "crit": ["b64"]}))


# Refused: the signature


def test_a_bad_signature_is_refused(ec: DpopKey) -> None:
    header, claims, signature = ec.proof("POST", URL, iat=NOW).split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    _refused(f"{header}.{claims}.{flipped}")
    _refused(f"{header}.{claims}.")


def test_a_proof_signed_by_another_key_than_its_jwk_is_refused(ec: DpopKey) -> None:
    thief = DpopKey("ES256")
    # The victim's public key in the header, the thief's signature.
    error = _refused(thief.proof("POST", URL, iat=NOW, header={"jwk": ec.public_jwk()}))
    assert error.detail == "bad signature"


def test_changed_claims_break_the_signature(ec: DpopKey) -> None:
    header, _, signature = ec.proof("POST", URL, iat=NOW).split(".")
    other = _b64(json.dumps({"jti": "x", "htm": "POST", "htu": URL,
                             "iat": int(NOW.timestamp())}).encode())  # fmt: skip
    _refused(f"{header}.{other}.{signature}")


# Refused: the claims


def test_htm_must_be_the_method(ec: DpopKey) -> None:
    _refused(ec.proof("GET", URL, iat=NOW))
    _refused(ec.proof("post", URL, iat=NOW))  # methods are case-sensitive (RFC 9110 §9.1)
    _refused(ec.proof("POST", URL, iat=NOW, htm=None))


@pytest.mark.parametrize(
    "htu",
    [
        "https://attacker.example.com/connect/token",  # other host
        "https://server.example.com/connect/userinfo",  # other path
        "https://server.example.com/connect/token/",  # other path (trailing slash)
        "http://server.example.com/connect/token",  # other scheme
        "https://server.example.com:8443/connect/token",  # other port
        "https://user@server.example.com/connect/token",  # userinfo
        "https://server.example.com/connect%2Ftoken",  # an encoded "/" is not a "/"
        "/connect/token",  # not absolute
        "ftp://server.example.com/connect/token",
        "https://server.example.com:99999/connect/token",  # port out of range
        "https://[::1/connect/token",  # unparseable
    ],
)
def test_htu_must_be_the_requests_url(ec: DpopKey, htu: str) -> None:
    _refused(ec.proof("POST", htu, iat=NOW))


def test_htu_must_be_a_string(ec: DpopKey) -> None:
    _refused(ec.proof("POST", URL, iat=NOW, htu=None))
    _refused(ec.proof("POST", URL, iat=NOW, htu=["https://server.example.com/connect/token"]))


@pytest.mark.parametrize(
    "iat",
    [
        int(NOW.timestamp()) - PROOF_WINDOW_SECONDS - 1,  # too old
        int(NOW.timestamp()) + 11,  # from the future beyond clock skew
        int(NOW.timestamp()) + 3600,
        str(int(NOW.timestamp())),  # not a number
        float(NOW.timestamp()),  # not an integer
        True,
        10**400,  # beyond any float
        None,  # missing
    ],
)
def test_iat_must_be_an_integer_within_the_window(ec: DpopKey, iat: object) -> None:
    proof = ec.sign(
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": ec.public_jwk()},
        {"jti": "x", "htm": "POST", "htu": URL, "iat": iat},
    )
    _refused(proof)


@pytest.mark.parametrize("jti", [None, "", "x" * 257, 42, "line\nbreak", "\ud800"])
def test_jti_must_be_1_to_256_printable_characters(ec: DpopKey, jti: object) -> None:
    claims = {"jti": jti, "htm": "POST", "htu": URL, "iat": int(NOW.timestamp())}
    protected = {"typ": "dpop+jwt", "alg": "ES256", "jwk": ec.public_jwk()}
    # A lone surrogate travels as the JSON escape \ud800 and would not encode for hashing.
    _refused(ec.sign(protected, claims))


def test_a_jti_of_256_characters_is_accepted(ec: DpopKey) -> None:
    assert _verify(ec.proof("POST", URL, iat=NOW, jti="x" * 256)).jti == "x" * 256


def test_a_nonce_must_be_a_printable_string(ec: DpopKey) -> None:
    for nonce in (17, "", "n" * 257, ["n"]):
        _refused(ec.proof("POST", URL, iat=NOW, nonce=nonce))  # type: ignore[arg-type]


def test_ath_must_hash_the_presented_token(ec: DpopKey) -> None:
    _refused(ec.proof("GET", URL, iat=NOW), method="GET", access_token=TOKEN)
    other = ec.proof("GET", URL, iat=NOW, access_token="another-token")
    _refused(other, method="GET", access_token=TOKEN)
    not_text = ec.proof("GET", URL, iat=NOW, ath=123)
    _refused(not_text, method="GET", access_token=TOKEN)
    odd = ec.proof("GET", URL, iat=NOW, ath="\u00e9t\u00e9")
    _refused(odd, method="GET", access_token=TOKEN)


def test_a_token_that_is_not_ascii_is_refused_not_a_crash(ec: DpopKey) -> None:
    proof = ec.proof("GET", URL, iat=NOW, ath="x")
    _refused(proof, method="GET", access_token="t\u00f6ken")


# Refused: the envelope


def test_one_dpop_header_at_most() -> None:
    assert single_dpop_header([]) is None
    assert single_dpop_header(["a.b.c"]) == "a.b.c"
    with pytest.raises(InvalidDpopProof):
        single_dpop_header(["a.b.c", "d.e.f"])


def test_a_huge_proof_is_refused_before_parsing(ec: DpopKey) -> None:
    padded = ec.proof("POST", URL, iat=NOW, padding="x" * MAX_PROOF_LENGTH)
    assert "length" in _refused(padded).detail


def _segment(value: object) -> str:
    return _b64(json.dumps(value).encode())


GOOD_HEADER = {"typ": "dpop+jwt", "alg": "ES256"}


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not a proof",
        "a.b",
        "a.b.c",
        "a.b.c.d.e",
        "!!!.###.$$$",
        f"{_segment(GOOD_HEADER)}.%%%.sig",
        f"{_b64(b'[1, 2]')}.{_segment({})}.c2ln",  # header not an object
        f"{_b64(b'not json')}.{_segment({})}.c2ln",
        f"{_segment(GOOD_HEADER)}.{_b64(b'[1]')}.c2ln",  # claims not an object
        f"{_b64(b'{}')}.{_segment({})}.c2ln",  # no alg
        f"{_b64(b'[' * 5000)}.{_segment({})}.c2ln",  # deeply nested JSON
        "\u00e9.\u00e9.\u00e9",
        "a\x00.b.c",
    ],
)
def test_garbage_is_an_invalid_proof_not_a_crash(garbage: str) -> None:
    _refused(garbage)


def test_claims_that_are_not_json_are_refused(ec: DpopKey) -> None:
    protected = {"typ": "dpop+jwt", "alg": "ES256", "jwk": ec.public_jwk()}
    _refused(ec.sign_payload(protected, b"not json"))
    _refused(ec.sign_payload(protected, b"[1, 2]"))
