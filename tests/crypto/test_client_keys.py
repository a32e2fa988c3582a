"""What a private_key_jwt client may register as its JWKS, and which key checks an assertion."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from idplus.crypto.client_keys import InvalidClientKeys, choose_key, parse_client_jwks
from tests.client_assertions import ClientKey


def test_public_rsa_and_ec_keys_are_kept_as_their_public_members() -> None:
    rsa, ec = ClientKey.rsa(), ClientKey.ec()
    jwks = parse_client_jwks({"keys": [*rsa.public_jwks()["keys"], *ec.public_jwks()["keys"]]})
    assert [k["kty"] for k in jwks["keys"]] == ["RSA", "EC"]
    assert choose_key(jwks, "PS256", rsa.kid) is not None
    assert choose_key(jwks, "RS256", None) is not None  # the only RSA key
    assert choose_key(jwks, "ES256", rsa.kid) is None  # that kid is an RSA key
    assert choose_key(jwks, "HS256", rsa.kid) is None
    assert choose_key(jwks, "none", None) is None


def _private(key: RSAKey | ECKey) -> dict[str, Any]:
    return {"keys": [dict(key.as_dict(private=True))]}


def _short_rsa_key() -> dict[str, Any]:
    # The weak key is the point: registration must refuse it.
    numbers = rsa.generate_private_key(65537, 1024).public_key().public_numbers()  # noqa: S505
    return {"kty": "RSA", "n": _b64(numbers.n.to_bytes(128, "big")), "e": "AQAB"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("document", "why"),
    [
        (_private(RSAKey.generate_key(2048)), "private"),
        (_private(ECKey.generate_key("P-256")), "private"),
        ({"keys": [dict(OctKey.generate_key(256).as_dict())]}, "private or symmetric"),
        ({"keys": [_short_rsa_key()]}, "2048"),
        ({"keys": [dict(ECKey.generate_key("P-384").as_dict(private=False))]}, "P-256"),
        ({"keys": [{**ClientKey.rsa().public_jwks()["keys"][0], "use": "enc"}]}, "use"),
        ({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}, "cannot be read"),
        ({"keys": []}, "1-20"),
        ({"keys": "nope"}, "JSON object"),
        (["not", "an", "object"], "JSON object"),
        ({"keys": ["x"]}, "JSON object"),
    ],
)
def test_unusable_key_sets_are_refused_with_the_reason(document: object, why: str) -> None:
    with pytest.raises(InvalidClientKeys, match=why):
        parse_client_jwks(document)


def test_two_keys_of_one_type_need_a_kid() -> None:
    jwks = parse_client_jwks(
        {
            "keys": [
                *ClientKey.rsa("a").public_jwks()["keys"],
                *ClientKey.rsa("b").public_jwks()["keys"],
            ]
        }
    )
    assert choose_key(jwks, "PS256", None) is None
    assert choose_key(jwks, "PS256", "b") is not None


def test_a_key_set_is_imported_once_not_per_assertion(monkeypatch: pytest.MonkeyPatch) -> None:
    rsa, ec = ClientKey.rsa("a"), ClientKey.ec("e")
    jwks = parse_client_jwks({"keys": [*rsa.public_jwks()["keys"], *ec.public_jwks()["keys"]]})
    assert choose_key(jwks, "PS256", "a") is not None
    imports: list[object] = []
    real_import = KeySet.import_key_set

    def counted(data: Any, parameters: Any = None) -> KeySet:
        imports.append(data)
        return real_import(data, parameters)

    monkeypatch.setattr(KeySet, "import_key_set", staticmethod(counted))
    # The same set read afresh (as a --jwks client is from the store for each request).
    assert choose_key(copy.deepcopy(jwks), "PS256", "a") is not None
    assert choose_key(copy.deepcopy(jwks), "ES256", "e") is not None
    assert imports == []
    # A rotated set is another set: imported, and its new key found.
    rotated = parse_client_jwks(ClientKey.rsa("b").public_jwks())
    imports.clear()  # parsing imports each key to check it
    assert choose_key(rotated, "PS256", "b") is not None
    assert choose_key(rotated, "PS256", "a") is None
    assert len(imports) == 1
