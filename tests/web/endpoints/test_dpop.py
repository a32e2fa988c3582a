"""DPoP (RFC 9449) at the token and PAR endpoints and in introspection, over HTTP: which proofs
bind tokens and codes, which are refused, and server nonces."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idplus.config import Settings
from tests.dpop_proofs import DpopKey, forged_jws
from tests.harness import (
    CALLBACK,
    VERIFIER,
    Harness,
    basic,
    code_from_login,
    redirect_params,
    s256,
)

TOKEN = "/connect/token"
PAR = "/connect/par"
USERINFO = "/connect/userinfo"
SECRET = "confidential-secret-0123456789"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"


# --- helpers (also used by test_dpop_userinfo.py) ------------------------------------------


def proof_for(h: Harness, key: DpopKey, path: str, method: str = "POST", **claims: Any) -> str:
    """A proof of `key` for `method` at idplus's `path`, made at the frozen clock's time."""
    return key.proof(method, h.settings.issuer + path, iat=h.clock.now(), **claims)


def token_request(
    h: Harness,
    form: dict[str, str],
    *,
    dpop: str | list[str] | None = None,
    secret: str | None = None,
) -> Any:
    """POST /connect/token: a public client names itself in `form`, a confidential one sends
    Basic credentials for form["client_id"]; `dpop`: the DPoP header value(s)."""
    headers: list[tuple[str, str]] = []
    form = dict(form)
    if secret is not None:
        headers.extend(basic(form.pop("client_id"), secret).items())
    values = [dpop] if isinstance(dpop, str) else (dpop or [])
    headers.extend(("DPoP", value) for value in values)
    return h.http.post(TOKEN, data=form, headers=headers)


def redeem(
    h: Harness,
    code: str,
    client_id: str = "app",
    *,
    key: DpopKey | None = None,
    secret: str | None = None,
    nonce: str | None = None,
) -> Any:
    """Redeem `code`, with a fresh proof of `key` (carrying `nonce`) when one is given."""
    form = {"grant_type": "authorization_code", "code": code, "client_id": client_id,
            "redirect_uri": CALLBACK, "code_verifier": VERIFIER}  # fmt: skip
    dpop = proof_for(h, key, TOKEN, nonce=nonce) if key is not None else None
    return token_request(h, form, dpop=dpop, secret=secret)


def refresh_with(
    h: Harness, refresh_token: str, client_id: str = "app", *, key: DpopKey | None = None
) -> Any:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    return token_request(h, form, dpop=proof_for(h, key, TOKEN) if key is not None else None)


def claims_of(h: Harness, access_token: str) -> dict[str, Any]:
    """The access token's claims, verified against the published JWKS."""
    jwks = KeySet.import_key_set(h.http.get("/.well-known/jwks.json").json())
    return dict(jwt.decode(access_token, jwks).claims)


def refused(response: Any, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error


def bound_tokens(h: Harness, key: DpopKey, client_id: str = "app", **params: str) -> Any:
    """Log in and redeem the code with a proof of `key`: a DPoP token response."""
    answer = redeem(h, code_from_login(h, client_id, **params), client_id, key=key)
    assert answer.status_code == 200, answer.text
    return answer.json()


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def world(harness: Harness) -> Harness:
    """A public app with refresh tokens, a confidential web app, a service client, a user."""
    harness.add_client("app", client_type="MobileApp", scopes=["openid", "profile",
                       "offline_access"])  # fmt: skip
    harness.add_client("spa", scopes=["openid", "profile"])
    harness.add_client("web", client_type="Confidential", secret=SECRET,
                       scopes=["openid", "profile", "offline_access"])  # fmt: skip
    harness.add_client("svc", client_type="Confidential", secret=SECRET,
                       grant_types=["client_credentials"])  # fmt: skip
    harness.add_user()
    return harness


def _client_credentials(h: Harness, dpop: str | list[str] | None, client_id: str = "svc") -> Any:
    form = {"grant_type": "client_credentials", "client_id": client_id}
    return token_request(h, form, dpop=dpop, secret=SECRET)


# --- 1. a public client's code flow and refresh ---------------------------------------------


def test_a_proof_at_the_code_exchange_binds_the_access_token_to_the_key(world: Harness) -> None:
    key = DpopKey()

    body = bound_tokens(world, key, scope="openid offline_access")

    assert body["token_type"] == "DPoP"  # RFC 9449 §5
    assert claims_of(world, body["access_token"])["cnf"] == {"jkt": key.jkt}  # §6.1
    assert "refresh_token" in body


def test_refresh_with_the_same_key_works_and_stays_dpop(world: Harness) -> None:
    key = DpopKey()
    first = bound_tokens(world, key, scope="openid offline_access")

    again = refresh_with(world, first["refresh_token"], key=key)

    assert again.status_code == 200, again.text
    body = again.json()
    assert body["token_type"] == "DPoP"
    assert claims_of(world, body["access_token"])["cnf"] == {"jkt": key.jkt}
    # The rotated refresh token is bound too: without a proof it is refused.
    refused(refresh_with(world, body["refresh_token"]), "invalid_grant")
    assert refresh_with(world, body["refresh_token"], key=key).status_code == 200


def test_a_public_clients_refresh_token_needs_a_proof_of_its_key_and_is_not_spent_without(
    world: Harness,
) -> None:
    """RFC 9449 §5: a copy of the refresh token is useless without the private key, and the
    thief's attempts do not look like reuse that would end the owner's session."""
    key = DpopKey()
    refresh_token = bound_tokens(world, key, scope="openid offline_access")["refresh_token"]

    refused(refresh_with(world, refresh_token), "invalid_grant")
    refused(refresh_with(world, refresh_token, key=DpopKey("PS256")), "invalid_grant")

    owners = refresh_with(world, refresh_token, key=key)
    assert owners.status_code == 200, owners.text
    assert owners.json()["token_type"] == "DPoP"


def test_a_used_bound_refresh_token_replayed_without_the_key_does_not_end_the_family(
    world: Harness,
) -> None:
    """A stolen copy of an already rotated token is refused for the missing key before reuse
    detection: otherwise anyone holding an old copy could log the owner out."""
    key = DpopKey()
    old = bound_tokens(world, key, scope="openid offline_access")["refresh_token"]
    newer = refresh_with(world, old, key=key).json()["refresh_token"]

    refused(refresh_with(world, old), "invalid_grant")

    assert world.audit_events("token.refresh_reuse_detected") == []
    assert refresh_with(world, newer, key=key).status_code == 200


def test_a_confidential_clients_refresh_token_is_not_bound_to_the_proof_key(
    world: Harness,
) -> None:
    """RFC 9449 §5: its refresh token is already sender-constrained by client authentication;
    only the access tokens are bound."""
    key = DpopKey()
    code = code_from_login(world, "web", scope="openid offline_access")
    first = redeem(world, code, "web", key=key, secret=SECRET).json()
    assert first["token_type"] == "DPoP"

    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
            "client_id": "web"}  # fmt: skip
    plain = token_request(world, form, secret=SECRET)

    assert plain.status_code == 200, plain.text
    assert plain.json()["token_type"] == "Bearer"
    assert "cnf" not in claims_of(world, plain.json()["access_token"])
    assert "cnf" not in _introspect(world, first["refresh_token"], "web")


def test_without_a_proof_the_tokens_stay_bearer_tokens(world: Harness) -> None:
    answer = redeem(world, code_from_login(world, "app"), "app")

    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "Bearer"
    assert "cnf" not in claims_of(world, answer.json()["access_token"])


# --- 2. proofs the token endpoint refuses ----------------------------------------------------


def test_a_replayed_proof_is_refused(world: Harness) -> None:
    """RFC 9449 §11.1: a proof is good for one request."""
    proof = proof_for(world, DpopKey(), TOKEN)
    assert _client_credentials(world, proof).status_code == 200

    refused(_client_credentials(world, proof), "invalid_dpop_proof")


def test_a_refused_proof_leaves_the_code_for_a_corrected_retry(world: Harness) -> None:
    key = DpopKey()
    code = code_from_login(world, "app")
    used = proof_for(world, key, TOKEN)
    assert _client_credentials(world, used).status_code == 200
    form = {"grant_type": "authorization_code", "code": code, "client_id": "app",
            "redirect_uri": CALLBACK, "code_verifier": VERIFIER}  # fmt: skip

    refused(token_request(world, form, dpop=used), "invalid_dpop_proof")

    assert redeem(world, code, "app", key=key).json()["token_type"] == "DPoP"


def test_two_dpop_headers_are_refused(world: Harness) -> None:
    key = DpopKey()
    both = [proof_for(world, key, TOKEN), proof_for(world, key, TOKEN)]

    refused(_client_credentials(world, both), "invalid_dpop_proof")


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", USERINFO), ("GET", TOKEN), ("POST", PAR), ("post", TOKEN)],
)
def test_a_proof_for_another_request_is_refused(world: Harness, method: str, path: str) -> None:
    """RFC 9449 §4.3 items 8-9: htm and htu must name this request."""
    proof = proof_for(world, DpopKey(), path, method)

    refused(_client_credentials(world, proof), "invalid_dpop_proof")


def test_a_proof_for_another_host_is_refused(world: Harness) -> None:
    proof = DpopKey().proof("POST", "https://evil.example/connect/token", iat=world.clock.now())

    refused(_client_credentials(world, proof), "invalid_dpop_proof")


def test_a_stale_proof_is_refused(world: Harness) -> None:
    made = int(world.clock.now().timestamp()) - 600
    proof = DpopKey().proof("POST", world.settings.issuer + TOKEN, iat=made)

    refused(_client_credentials(world, proof), "invalid_dpop_proof")


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_unsigned_and_hmac_proofs_are_refused(world: Harness, alg: str) -> None:
    """RFC 9449 §4.3 item 5: no symmetric algorithm, no `none`; HS256 keyed with the public
    key is the classic algorithm confusion."""
    key = DpopKey()
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.public_jwk()}
    claims = {"jti": "j-1", "htm": "POST", "htu": world.settings.issuer + TOKEN,
              "iat": int(world.clock.now().timestamp())}  # fmt: skip
    secret = json.dumps(key.public_jwk()).encode() if alg == "HS256" else None

    refused(_client_credentials(world, forged_jws(header, claims, hmac_secret=secret)),
            "invalid_dpop_proof")  # fmt: skip


def test_a_proof_whose_jwk_is_not_the_signing_key_is_refused(world: Harness) -> None:
    signer, other = DpopKey(), DpopKey()
    proof = proof_for(world, signer, TOKEN, header={"jwk": other.public_jwk()})

    refused(_client_credentials(world, proof), "invalid_dpop_proof")


@pytest.mark.parametrize(
    "value",
    ["", " ", "a.b.c", "x" * 20000, "e30.e30.e30", "..", "Bearer abc", "\u00e6\u00f8\u00e5",
     "eyJhbGciOiJFUzI1NiJ9." + "A" * 100 + ".sig"],
)  # fmt: skip
def test_garbage_dpop_headers_get_invalid_dpop_proof_never_a_5xx(
    world: Harness, value: str
) -> None:
    headers = [*basic("svc", SECRET).items(), ("DPoP", value)]
    response = world.http.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        headers=[(name.encode(), text.encode("utf-8")) for name, text in headers],
    )

    refused(response, "invalid_dpop_proof")
    assert response.headers["cache-control"] == "no-store"


def test_an_unauthenticated_client_gets_invalid_client_before_the_proof_is_looked_at(
    world: Harness,
) -> None:
    proof = proof_for(world, DpopKey(), TOKEN)
    form = {"grant_type": "client_credentials", "client_id": "svc"}

    refused(token_request(world, form, dpop=proof, secret="not-the-secret-0000"),
            "invalid_client", 401)  # fmt: skip
    # Not recorded: the client's own request with the same proof still works.
    assert _client_credentials(world, proof).status_code == 200


# --- 3. clients that require DPoP, and client_credentials -----------------------------------


def test_a_require_dpop_client_without_a_proof_is_refused(harness: Harness) -> None:
    harness.add_client("strict", client_type="Confidential", secret=SECRET, require_dpop=True,
                       grant_types=["client_credentials"])  # fmt: skip

    refused(_client_credentials(harness, None, "strict"), "invalid_dpop_proof")

    key = DpopKey()
    answer = _client_credentials(harness, proof_for(harness, key, TOKEN), "strict")
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "DPoP"
    assert claims_of(harness, answer.json()["access_token"])["cnf"] == {"jkt": key.jkt}


def test_a_require_dpop_client_needs_a_proof_at_the_code_exchange_too(harness: Harness) -> None:
    harness.add_client("strict", client_type="Confidential", secret=SECRET, require_dpop=True)
    harness.add_user()
    bare = redeem(harness, code_from_login(harness, "strict"), "strict", secret=SECRET)
    refused(bare, "invalid_dpop_proof")

    answer = redeem(harness, code_from_login(harness, "strict"), "strict", key=DpopKey(),
                    secret=SECRET)  # fmt: skip
    assert answer.json()["token_type"] == "DPoP"


def test_client_credentials_with_a_proof_gives_a_bound_token(world: Harness) -> None:
    key = DpopKey("RS256")

    answer = _client_credentials(world, proof_for(world, key, TOKEN))

    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "DPoP"
    assert claims_of(world, answer.json()["access_token"])["cnf"] == {"jkt": key.jkt}


# --- 4. a code bound at the authorization endpoint (dpop_jkt) --------------------------------


def test_a_code_bound_with_dpop_jkt_needs_a_proof_of_that_key(world: Harness) -> None:
    """RFC 9449 §10: only the key named at /connect/authorize redeems the code."""
    key = DpopKey()

    refused(redeem(world, code_from_login(world, "spa", dpop_jkt=key.jkt), "spa"),
            "invalid_grant")  # fmt: skip
    refused(redeem(world, code_from_login(world, "spa", dpop_jkt=key.jkt), "spa",
                   key=DpopKey()), "invalid_grant")  # fmt: skip
    answer = redeem(world, code_from_login(world, "spa", dpop_jkt=key.jkt), "spa", key=key)

    assert answer.status_code == 200, answer.text
    assert claims_of(world, answer.json()["access_token"])["cnf"] == {"jkt": key.jkt}


def test_a_bound_code_redeemed_with_the_wrong_key_is_burnt(world: Harness) -> None:
    key = DpopKey()
    code = code_from_login(world, "spa", dpop_jkt=key.jkt)
    refused(redeem(world, code, "spa", key=DpopKey()), "invalid_grant")

    refused(redeem(world, code, "spa", key=key), "invalid_grant")


@pytest.mark.parametrize("dpop_jkt", ["abc", "!" * 43, "A" * 44, "A" * 42 + "="])
def test_a_malformed_dpop_jkt_is_an_error_redirect(world: Harness, dpop_jkt: str) -> None:
    answer = redirect_params(world.http.get(world.authorize_url("spa", dpop_jkt=dpop_jkt)))

    assert answer["error"] == "invalid_request"
    assert answer["state"] == "st-123"


# --- 5. PAR -----------------------------------------------------------------------------------


def _push(h: Harness, dpop: str | None, **extra: str) -> Any:
    form = {"redirect_uri": CALLBACK, "response_type": "code", "scope": "openid",
            "state": "st-9", "code_challenge": s256(VERIFIER), "code_challenge_method": "S256",
            **extra}  # fmt: skip
    headers = basic("web", SECRET) | ({"DPoP": dpop} if dpop is not None else {})
    return h.http.post(PAR, data=form, headers=headers)


def _code_of_pushed(h: Harness, pushed: Any) -> str:
    assert pushed.status_code == 201, pushed.text
    query = urlencode({"client_id": "web", "request_uri": pushed.json()["request_uri"]})
    browser = h.browser()
    page = browser.get(f"/connect/authorize?{query}")
    # The second login in a test finds the SSO session: a "continue" page instead.
    if 'name="password"' in page.text:
        return redirect_params(h.login(browser))["code"]
    return redirect_params(browser.submit(button=("action", "continue")))["code"]


def test_a_proof_sent_with_the_push_binds_the_code(world: Harness) -> None:
    """RFC 9449 §10.1: the DPoP header at PAR does what dpop_jkt does."""
    key = DpopKey()

    stolen = _code_of_pushed(world, _push(world, proof_for(world, key, PAR)))
    refused(redeem(world, stolen, "web", key=DpopKey(), secret=SECRET), "invalid_grant")

    code = _code_of_pushed(world, _push(world, proof_for(world, key, PAR)))
    answer = redeem(world, code, "web", key=key, secret=SECRET)
    assert answer.status_code == 200, answer.text
    assert claims_of(world, answer.json()["access_token"])["cnf"] == {"jkt": key.jkt}


def test_a_pushed_code_bound_to_a_key_needs_a_proof_even_from_a_confidential_client(
    world: Harness,
) -> None:
    key = DpopKey()
    code = _code_of_pushed(world, _push(world, proof_for(world, key, PAR)))

    refused(redeem(world, code, "web", secret=SECRET), "invalid_grant")


def test_a_push_whose_dpop_jkt_is_not_the_proofs_key_is_refused(world: Harness) -> None:
    proof = proof_for(world, DpopKey(), PAR)

    refused(_push(world, proof, dpop_jkt=DpopKey().jkt), "invalid_dpop_proof")


def test_a_push_with_a_matching_dpop_jkt_and_proof_is_accepted(world: Harness) -> None:
    key = DpopKey()
    code = _code_of_pushed(world, _push(world, proof_for(world, key, PAR), dpop_jkt=key.jkt))

    assert redeem(world, code, "web", key=key, secret=SECRET).json()["token_type"] == "DPoP"


@pytest.mark.parametrize("path", [TOKEN, USERINFO])
def test_a_push_with_a_proof_for_another_endpoint_is_refused(world: Harness, path: str) -> None:
    refused(_push(world, proof_for(world, DpopKey(), path)), "invalid_dpop_proof")


# --- 7. introspection ------------------------------------------------------------------------


def _introspect(h: Harness, token: str, client_id: str = "web") -> dict[str, Any]:
    answer = h.http.post("/connect/introspect", data={"token": token},
                         headers=basic(client_id, SECRET))  # fmt: skip
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_introspection_names_a_bound_access_tokens_key(world: Harness) -> None:
    """RFC 9449 §6.2: the resource server learns the key the token is bound to."""
    key = DpopKey()
    body = bound_tokens(world, key, scope="openid offline_access")

    answer = _introspect(world, body["access_token"])

    assert answer["active"] is True
    assert answer["token_type"] == "DPoP"
    assert answer["cnf"] == {"jkt": key.jkt}


def test_introspection_of_a_bearer_token_has_no_cnf(world: Harness) -> None:
    plain = redeem(world, code_from_login(world, "app"), "app").json()

    answer = _introspect(world, plain["access_token"])

    assert answer["token_type"] == "access_token"
    assert "cnf" not in answer


# --- 8. server nonces ---------------------------------------------------------------------


class TestServerNonces:
    """RFC 9449 §8: with IDPLUS_DPOP_REQUIRE_NONCE, proofs carry the server's nonce."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"dpop_require_nonce": True})

    def test_a_token_request_without_a_nonce_gets_one_and_the_retry_works(
        self, world: Harness
    ) -> None:
        key = DpopKey()
        code = code_from_login(world, "app")

        first = redeem(world, code, "app", key=key)

        refused(first, "use_dpop_nonce")
        nonce = first.headers["dpop-nonce"]
        # The code is not spent by the nonce round trip (RFC 9449 §8 expects the retry).
        retry = redeem(world, code, "app", key=key, nonce=nonce)
        assert retry.status_code == 200, retry.text
        assert retry.json()["token_type"] == "DPoP"
        assert retry.headers["dpop-nonce"]  # §8.2: the next proof's nonce comes along

    def test_a_made_up_nonce_is_refused_with_a_real_one(self, world: Harness) -> None:
        proof = proof_for(world, DpopKey(), TOKEN, nonce="my-own-nonce")

        answer = _client_credentials(world, proof)

        refused(answer, "use_dpop_nonce")
        assert answer.headers["dpop-nonce"] != "my-own-nonce"

    def test_a_nonce_from_an_earlier_response_keeps_working(self, world: Harness) -> None:
        key = DpopKey()
        nonce = _client_credentials(world, proof_for(world, key, TOKEN)).headers["dpop-nonce"]
        answer = _client_credentials(world, proof_for(world, key, TOKEN, nonce=nonce))
        assert answer.status_code == 200, answer.text

        again = _client_credentials(world, proof_for(world, key, TOKEN, nonce=nonce))

        assert again.status_code == 200, again.text
        assert again.headers["dpop-nonce"]

    def test_a_push_without_a_nonce_gets_use_dpop_nonce(self, world: Harness) -> None:
        key = DpopKey()
        first = _push(world, proof_for(world, key, PAR))
        refused(first, "use_dpop_nonce")

        nonce = first.headers["dpop-nonce"]
        pushed = _push(world, proof_for(world, key, PAR, nonce=nonce))

        assert pushed.status_code == 201, pushed.text
        assert pushed.headers["dpop-nonce"]

    def test_requests_without_dpop_need_no_nonce(self, world: Harness) -> None:
        answer = _client_credentials(world, None)

        assert answer.status_code == 200, answer.text
        assert "dpop-nonce" not in answer.headers


# --- 9. token exchange -----------------------------------------------------------------------


@pytest.fixture
def exchanger(world: Harness) -> Harness:
    world.add_client("broker", client_type="Confidential", secret=SECRET, api_access=True,
                     scopes=["openid"], grant_types=[EXCHANGE])  # fmt: skip
    return world


def _exchange(h: Harness, subject: str, dpop: str | None = None) -> Any:
    form = {"grant_type": EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS,
            "client_id": "broker"}  # fmt: skip
    return token_request(h, form, dpop=dpop, secret=SECRET)


def test_a_bound_subject_token_is_not_exchanged_without_a_proof_of_its_key(
    exchanger: Harness,
) -> None:
    """Else a stolen DPoP-bound token would buy an unbound one (RFC 9449 §1)."""
    key = DpopKey()
    subject = bound_tokens(exchanger, key)["access_token"]

    refused(_exchange(exchanger, subject), "invalid_request")
    refused(_exchange(exchanger, subject, proof_for(exchanger, DpopKey(), TOKEN)),
            "invalid_request")  # fmt: skip


def test_a_bound_subject_token_exchanged_with_a_proof_gives_a_bound_token(
    exchanger: Harness,
) -> None:
    key = DpopKey()
    subject = bound_tokens(exchanger, key)["access_token"]

    answer = _exchange(exchanger, subject, proof_for(exchanger, key, TOKEN))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["token_type"], body["issued_token_type"]) == ("DPoP", ACCESS)
    assert claims_of(exchanger, body["access_token"])["cnf"] == {"jkt": key.jkt}


def test_an_unbound_subject_token_exchanged_with_a_proof_gets_bound(exchanger: Harness) -> None:
    subject = redeem(exchanger, code_from_login(exchanger, "app"), "app").json()["access_token"]
    key = DpopKey()

    answer = _exchange(exchanger, subject, proof_for(exchanger, key, TOKEN))

    assert answer.json()["token_type"] == "DPoP"
    assert claims_of(exchanger, answer.json()["access_token"])["cnf"] == {"jkt": key.jkt}


# --- 10. both databases: the replay record is shared -----------------------------------------


class TestOnEachDatabase:
    @pytest.fixture
    def settings(self, settings: Settings, database_url: str) -> Settings:
        return settings.model_copy(update={"database_url": database_url})

    def test_a_proof_is_spent_once_and_binds_the_code_flow(self, world: Harness) -> None:
        key = DpopKey()
        proof = proof_for(world, key, TOKEN)
        form = {"grant_type": "authorization_code", "code": code_from_login(world, "app"),
                "client_id": "app", "redirect_uri": CALLBACK,
                "code_verifier": VERIFIER}  # fmt: skip
        answer = token_request(world, form, dpop=proof)
        assert answer.status_code == 200, answer.text
        assert claims_of(world, answer.json()["access_token"])["cnf"] == {"jkt": key.jkt}

        refused(_client_credentials(world, proof), "invalid_dpop_proof")
        # The same jti from another key is another proof.
        other = proof_for(world, DpopKey(), TOKEN, jti=json.loads(_payload(proof))["jti"])
        assert _client_credentials(world, other).status_code == 200


def _payload(compact: str) -> str:
    part = compact.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()
