"""The resource-server middleware: run through the example API against a real idplus; its
DPoP decisions (RFC 9449 §7) on tokens' claims and real proofs; its JWT algorithms."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from examples.tv_api import create_api
from joserfc import jws, jwt
from joserfc.jwk import ECKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from idplus.protocol.dpop.proof import DpopProof
from idplus.resource import (
    BEARER,
    DPOP,
    Credentials,
    InvalidToken,
    MemoryReplayCache,
    Refused,
    RequireToken,
    TokenValidator,
    check_binding,
)
from tests.client_assertions import JwksServer
from tests.dpop_proofs import DpopKey, forged_jws
from tests.live_server import LiveServer


@pytest.fixture
def tv_api(live_server: LiveServer) -> Iterator[tuple[TestClient, LiveServer, dict[str, str]]]:
    live_server.idplus("api-product", "add", "--scope", "api:tv")
    secrets = {}
    for client_id, scope in (("tv-partner", "api:tv"), ("tv-api", None)):
        extra = ["--scope", scope] if scope else []
        added = live_server.idplus("client", "add", "--client-id", client_id, "--type",
                                   "Confidential", "--api-access", "--grant-type",
                                   "client_credentials", *extra)  # fmt: skip
        secrets[client_id] = added["client_secret"]
    validator = TokenValidator(
        live_server.base_url, client_id="tv-api", client_secret=secrets["tv-api"]
    )
    with TestClient(create_api(validator)) as client:
        yield client, live_server, secrets


def _jwt(server: LiveServer, client_id: str, secret: str) -> str:
    response = httpx.post(f"{server.base_url}/connect/token", auth=(client_id, secret),
                          data={"grant_type": "client_credentials"})  # fmt: skip
    return str(response.json()["access_token"])


def _opaque(server: LiveServer, client_id: str, secret: str) -> str:
    response = httpx.post(f"{server.base_url}/oauth/v2/token", auth=(client_id, secret),
                          data={"grant_type": "client_credentials"})  # fmt: skip
    return str(response.json()["access_token"])


def test_jwt_and_opaque_tokens_with_the_scope_get_in(
    tv_api: tuple[TestClient, LiveServer, dict[str, str]],
) -> None:
    client, server, secrets = tv_api
    for token in (_jwt(server, "tv-partner", secrets["tv-partner"]),
                  _opaque(server, "tv-partner", secrets["tv-partner"])):  # fmt: skip
        response = client.get("/channels", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        assert response.json()["client_id"] == "tv-partner"


def test_missing_invalid_and_logged_out_tokens_are_401(
    tv_api: tuple[TestClient, LiveServer, dict[str, str]],
) -> None:
    client, server, secrets = tv_api
    assert client.get("/channels").status_code == 401
    bad = client.get("/channels", headers={"Authorization": "Bearer a.b.c"})
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    opaque = _opaque(server, "tv-partner", secrets["tv-partner"])
    httpx.get(f"{server.base_url}/oauth/v2/logout", headers={"Authorization": f"Bearer {opaque}"})
    gone = client.get("/channels", headers={"Authorization": f"Bearer {opaque}"})
    assert gone.status_code == 401


def test_a_token_without_the_scope_is_403(
    tv_api: tuple[TestClient, LiveServer, dict[str, str]],
) -> None:
    client, server, secrets = tv_api
    token = _jwt(server, "tv-api", secrets["tv-api"])
    response = client.get("/channels", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


# DPoP (RFC 9449 §7): the binding decision on a token's claims, as a pure function …

API_URL = "https://api.example.com/channels"
BOUND_TOKEN = "bound-token"


@pytest.fixture(scope="module")
def holder() -> DpopKey:
    return DpopKey("ES256")


def _bound(key: DpopKey) -> dict[str, Any]:
    return {"client_id": "tv-partner", "scope": ["api:tv"], "cnf": {"jkt": key.jkt}}


def _check(credentials: Credentials, claims: dict[str, Any], *proofs: str) -> DpopProof | None:
    return check_binding(credentials, claims, list(proofs), method="GET", url=API_URL,
                         now=datetime.now(UTC))  # fmt: skip


def _refusal(credentials: Credentials, claims: dict[str, Any], *proofs: str) -> Refused:
    with pytest.raises(Refused) as refused:
        _check(credentials, claims, *proofs)
    assert refused.value.status == 401
    (challenge_,) = refused.value.challenges
    assert challenge_ == f'DPoP algs="ES256 PS256 RS256", error="{refused.value.error}"'
    return refused.value


def test_an_unbound_bearer_token_needs_no_proof() -> None:
    assert _check(Credentials(BEARER, "plain"), {"scope": ["api:tv"]}) is None


def test_a_bound_token_with_a_proof_of_its_key_gets_in(holder: DpopKey) -> None:
    proof = holder.proof("GET", API_URL, access_token=BOUND_TOKEN)
    checked = _check(Credentials(DPOP, BOUND_TOKEN), _bound(holder), proof)
    assert checked is not None and checked.jkt == holder.jkt


def test_an_introspection_answer_with_cnf_binds_the_same_way(holder: DpopKey) -> None:
    answer = {"active": True, "scope": ["api:tv"], "cnf": {"jkt": holder.jkt}}
    assert _refusal(Credentials(BEARER, "opaque"), answer).error == "invalid_token"
    proof = holder.proof("GET", API_URL, access_token="opaque")
    assert _check(Credentials(DPOP, "opaque"), answer, proof) is not None


def test_a_bound_token_used_as_a_bearer_token_is_refused(holder: DpopKey) -> None:
    proof = holder.proof("GET", API_URL, access_token=BOUND_TOKEN)
    refused = _refusal(Credentials(BEARER, BOUND_TOKEN), _bound(holder), proof)
    assert refused.error == "invalid_token"


def test_the_dpop_scheme_with_an_unbound_token_is_refused(holder: DpopKey) -> None:
    proof = holder.proof("GET", API_URL, access_token="plain")
    refused = _refusal(Credentials(DPOP, "plain"), {"scope": ["api:tv"]}, proof)
    assert refused.error == "invalid_token"


def test_a_proof_of_another_key_is_refused(holder: DpopKey) -> None:
    thief = DpopKey("ES256")
    proof = thief.proof("GET", API_URL, access_token=BOUND_TOKEN)
    refused = _refusal(Credentials(DPOP, BOUND_TOKEN), _bound(holder), proof)
    assert refused.error == "invalid_token"


def test_a_missing_duplicated_or_bad_proof_is_invalid_dpop_proof(holder: DpopKey) -> None:
    good = holder.proof("GET", API_URL, access_token=BOUND_TOKEN)
    bad = [
        (),  # none
        (good, holder.proof("GET", API_URL, access_token=BOUND_TOKEN)),  # two
        (holder.proof("GET", API_URL),),  # no ath
        (holder.proof("GET", API_URL, access_token="another-token"),),  # another token's
        (holder.proof("POST", API_URL, access_token=BOUND_TOKEN),),  # another method
        (holder.proof("GET", "https://api.example.com/other", access_token=BOUND_TOKEN),),
        (holder.proof("GET", API_URL, access_token=BOUND_TOKEN, iat=int(time.time()) - 600),),
        ("not a proof",),
    ]
    for proofs in bad:
        refused = _refusal(Credentials(DPOP, BOUND_TOKEN), _bound(holder), *proofs)
        assert refused.error == "invalid_dpop_proof"


def test_an_unreadable_cnf_lets_the_token_nowhere(holder: DpopKey) -> None:
    proof = holder.proof("GET", API_URL, access_token=BOUND_TOKEN)
    for cnf in ({"x5t#S256": "abc"}, "jkt", {"jkt": 42}):
        claims = {**_bound(holder), "cnf": cnf}
        _refusal(Credentials(BEARER, BOUND_TOKEN), claims)
        _refusal(Credentials(DPOP, BOUND_TOKEN), claims, proof)


# … and the middleware around it, with a validator that knows fixed tokens' claims


class KnownTokens:
    """A Validator vouching for fixed tokens, as an idplus would for the real ones."""

    def __init__(self, tokens: dict[str, dict[str, Any]]) -> None:
        self.tokens = tokens

    async def validate(self, token: str) -> dict[str, Any]:
        if token not in self.tokens:
            raise InvalidToken("unknown token")
        return dict(self.tokens[token])


async def _channel(request: Request) -> JSONResponse:
    return JSONResponse({"channel": request.path_params["name"]})


def _api(holder: DpopKey, **options: Any) -> TestClient:
    tokens = {BOUND_TOKEN: _bound(holder), "plain": {"scope": ["api:tv"]},
              "no-scope": {"scope": [], "cnf": {"jkt": holder.jkt}}}  # fmt: skip
    api = Starlette(routes=[Route("/channels/{name}", _channel)])
    return TestClient(RequireToken(api, validator=KnownTokens(tokens), scope="api:tv", **options))


def _dpop(token: str, proof: str) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": proof}


def test_no_token_gets_both_challenges(holder: DpopKey) -> None:
    response = _api(holder).get("/channels/nrk1")
    assert response.status_code == 401
    assert response.headers.get_list("www-authenticate") == [
        'Bearer realm="api"',
        'DPoP algs="ES256 PS256 RS256"',
    ]


def test_a_bound_token_with_its_proof_gets_in_once(holder: DpopKey) -> None:
    client, url = _api(holder), "http://testserver/channels/nrk1"
    proof = holder.proof("GET", url, access_token=BOUND_TOKEN)
    assert client.get("/channels/nrk1", headers=_dpop(BOUND_TOKEN, proof)).json() == {
        "channel": "nrk1"
    }
    # The scheme is case-insensitive; the proof is not reusable.
    replayed = client.get("/channels/nrk1", headers={"Authorization": f"dpop {BOUND_TOKEN}",
                                                     "DPoP": proof})  # fmt: skip
    assert replayed.status_code == 401
    assert replayed.headers["www-authenticate"].endswith('error="invalid_dpop_proof"')
    fresh = holder.proof("GET", url, access_token=BOUND_TOKEN)
    assert client.get("/channels/nrk1", headers=_dpop(BOUND_TOKEN, fresh)).status_code == 200


def test_bearer_use_of_a_bound_token_gets_a_dpop_challenge(holder: DpopKey) -> None:
    response = _api(holder).get(
        "/channels/nrk1", headers={"Authorization": f"Bearer {BOUND_TOKEN}"}
    )
    assert response.status_code == 401
    assert response.headers.get_list("www-authenticate") == [
        'DPoP algs="ES256 PS256 RS256", error="invalid_token"'
    ]


def test_an_invalid_token_is_challenged_in_the_scheme_it_came_in(holder: DpopKey) -> None:
    client = _api(holder)
    as_bearer = client.get("/channels/nrk1", headers={"Authorization": "Bearer forged"})
    assert as_bearer.headers["www-authenticate"] == 'Bearer realm="api", error="invalid_token"'
    proof = holder.proof("GET", "http://testserver/channels/nrk1", access_token="forged")
    as_dpop = client.get("/channels/nrk1", headers=_dpop("forged", proof))
    assert as_dpop.status_code == 401
    assert as_dpop.headers["www-authenticate"] == (
        'DPoP algs="ES256 PS256 RS256", error="invalid_token"'
    )


def test_a_bound_token_without_the_scope_is_403_in_the_dpop_scheme(holder: DpopKey) -> None:
    proof = holder.proof("GET", "http://testserver/channels/nrk1", access_token="no-scope")
    response = _api(holder).get("/channels/nrk1", headers=_dpop("no-scope", proof))
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'DPoP algs="ES256 PS256 RS256", error="insufficient_scope", scope="api:tv"'
    )


def test_behind_a_proxy_the_proof_names_the_public_url(holder: DpopKey) -> None:
    client = _api(holder, public_url="https://api.example.com/tv/")
    public = holder.proof("GET", "https://api.example.com/tv/channels/nrk1",
                          access_token=BOUND_TOKEN)  # fmt: skip
    assert client.get("/channels/nrk1", headers=_dpop(BOUND_TOKEN, public)).status_code == 200
    internal = holder.proof("GET", "http://testserver/channels/nrk1", access_token=BOUND_TOKEN)
    refused = client.get("/channels/nrk1", headers=_dpop(BOUND_TOKEN, internal))
    assert refused.status_code == 401


def test_the_url_keeps_the_requests_own_encoding(holder: DpopKey) -> None:
    url = "http://testserver/channels/tv%202?page=2"
    proof = holder.proof("GET", url, access_token=BOUND_TOKEN)
    response = _api(holder).get("/channels/tv%202?page=2", headers=_dpop(BOUND_TOKEN, proof))
    assert response.json() == {"channel": "tv 2"}


@pytest.mark.parametrize(
    "host", ["b.example/accounts/list#", "b.example?x", "user@b.example", "b.example:x"]
)
def test_a_host_header_that_is_not_a_host_is_refused(holder: DpopKey, host: str) -> None:
    """RFC 9449 §11.1: a Host carrying a path would move the real path out of the htu
    comparison, so a proof made for another server's endpoint would pass."""
    proof = holder.proof("GET", "http://b.example/accounts/list", access_token=BOUND_TOKEN)
    headers = {**_dpop(BOUND_TOKEN, proof), "Host": host}
    response = _api(holder).get("/channels/nrk1", headers=headers)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request"}


def test_the_memory_replay_cache_forgets_expired_and_oldest_entries() -> None:
    now = [1000.0]
    cache = MemoryReplayCache(max_entries=2, clock=lambda: now[0])

    def use(key: str, expires_at: float) -> bool:
        return asyncio.run(cache.use_once(key, expires_at))

    assert use("a", 1060) and not use("a", 1060)
    now[0] = 1060.0
    assert use("a", 1120)  # expired, so seen afresh
    assert use("b", 1120) and use("c", 1120)  # full: "a" is forgotten early
    assert use("a", 1120) and not use("c", 1120)


# JWT access tokens signed RS256, PS256 or ES256, each only with its own published key


@pytest.fixture(scope="module")
def issuer_keys() -> dict[str, RSAKey | ECKey]:
    return {
        "RS256": RSAKey.generate_key(2048, parameters={"kid": "rs", "alg": "RS256", "use": "sig"}),
        "PS256": RSAKey.generate_key(2048, parameters={"kid": "ps", "alg": "PS256", "use": "sig"}),
        "ES256": ECKey.generate_key(
            "P-256", parameters={"kid": "es", "alg": "ES256", "use": "sig"}
        ),
    }


@pytest.fixture
def issuer(issuer_keys: dict[str, RSAKey | ECKey]) -> Iterator[JwksServer]:
    """An issuer's metadata and JWKS on loopback, in one document (each reader takes its
    member)."""
    server = JwksServer({})
    base = server.uri.removesuffix("/jwks")
    published = [dict(key.as_dict(private=False)) for key in issuer_keys.values()]
    server.jwks = {"issuer": base, "jwks_uri": server.uri, "keys": published}
    yield server
    server.close()


def _access_token(key: RSAKey | ECKey, issuer: str, alg: str, **header: Any) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "exp": now + 60, "iat": now, "scope": ["api:tv"], "jti": "t1"}
    protected = {"typ": "at+jwt", "alg": alg, "kid": key.kid, **header}
    return jwt.encode(protected, claims, key, algorithms=[alg])


def _validate(issuer: JwksServer, token: str) -> dict[str, Any]:
    validator = TokenValidator(str(issuer.jwks["issuer"]))

    async def run() -> dict[str, Any]:
        try:
            return await validator.validate(token)
        finally:
            await validator.aclose()

    return asyncio.run(run())


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_each_signing_algorithm_is_accepted_with_its_key(
    issuer: JwksServer, issuer_keys: dict[str, RSAKey | ECKey], alg: str
) -> None:
    token = _access_token(issuer_keys[alg], str(issuer.jwks["issuer"]), alg)
    assert _validate(issuer, token)["jti"] == "t1"


def test_a_key_signs_only_for_the_algorithm_it_is_published_for(
    issuer: JwksServer, issuer_keys: dict[str, RSAKey | ECKey]
) -> None:
    rs256_key, base = issuer_keys["RS256"], str(issuer.jwks["issuer"])
    # The RS256 key's own private key, used with PS256: a valid signature, the wrong algorithm.
    same_key = {k: v for k, v in rs256_key.as_dict(private=True).items() if k != "alg"}
    confused = jws.serialize_compact(
        {"typ": "at+jwt", "alg": "PS256", "kid": "rs"},
        json.dumps({"iss": base, "exp": int(time.time()) + 60}),
        RSAKey.import_key(same_key),
        algorithms=["PS256"],
    )
    with pytest.raises(InvalidToken, match="another algorithm"):
        _validate(issuer, confused)
    # An RSA algorithm naming the EC key is refused before any signature is looked at.
    ec_as_rsa = forged_jws({"typ": "at+jwt", "alg": "RS256", "kid": "es"}, {"iss": base})
    with pytest.raises(InvalidToken, match="another algorithm"):
        _validate(issuer, ec_as_rsa)


def test_none_and_hs256_keyed_with_the_public_key_are_refused(
    issuer: JwksServer, issuer_keys: dict[str, RSAKey | ECKey]
) -> None:
    base = str(issuer.jwks["issuer"])
    claims = {"iss": base, "exp": int(time.time()) + 60}
    public = json.dumps(issuer_keys["RS256"].as_dict(private=False)).encode()
    for header, secret in (({"alg": "none"}, None), ({"alg": "HS256"}, public)):
        token = forged_jws({"typ": "at+jwt", "kid": "rs", **header}, claims, hmac_secret=secret)
        with pytest.raises(InvalidToken, match="not accepted"):
            _validate(issuer, token)
