"""Whatever a browser (or anyone) posts as a credential, a passkey step answers with a
PasskeyProblem and its reason: never another exception (a 5xx), and a changed assertion
never logs in (issue 18 item 5). Hand-made garbage first, then valid responses with random
bytes changed."""

from __future__ import annotations

import base64
import copy
import random
from collections.abc import Callable
from functools import partial
from typing import Any

import cbor2
import pytest

from idplus.models import User
from idplus.protocol.context import AppContext
from idplus.protocol.passkeys.assertion import login_options, verify_passkey_login
from idplus.protocol.passkeys.errors import PasskeyProblem
from idplus.protocol.passkeys.registration import register_passkey, registration_options
from tests.protocol.passkeys.steps import fresh_session, register, start_login
from tests.webauthn_authenticator import SoftwareAuthenticator, b64url

Verify = Callable[[Any], object]


def _shapes(valid: dict[str, Any]) -> list[Any]:
    """Hand-made garbage around one valid response."""
    response = valid["response"]
    garbage: list[Any] = [
        "",
        "null",
        "[]",
        "{",
        "[" * 100_000,
        '{"id": 1}',
        [],
        17,
        None,
        {},
        {**valid, "type": "password"},
        {**valid, "id": "!!!", "rawId": "!!!"},
        {**valid, "rawId": b64url(b"another id")},
        {**valid, "response": "nothing"},
        {**valid, "response": {}},
        {**valid, "authenticatorAttachment": "toaster"},
    ]
    # `transports` is only a hint: whatever it holds, the browser's answer stays valid.
    for name in (name for name in response if name != "transports"):
        values: list[Any] = ["***", "", b64url(b"\x00" * 3), b64url(cbor2.dumps([1, 2])), 5, None]
        for value in [*values, []]:
            # An assertion without a user handle is valid (the passkey names its user).
            if not (name == "userHandle" and value is None):
                garbage.append({**valid, "response": {**response, name: value}})
    if "attestationObject" in response:
        for statement in ({"fmt": 5, "authData": b""}, {"fmt": "packed", "authData": b"\xff" * 40}):
            attestation = b64url(cbor2.dumps({**statement, "attStmt": {"sig": 1, "x5c": ["x"]}}))
            garbage.append({**valid, "response": {**response, "attestationObject": attestation}})
    return garbage


def _mutated(valid: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The valid response with one field's bytes changed at random."""
    candidate = copy.deepcopy(valid)
    fields = [n for n, value in valid["response"].items() if isinstance(value, str)]
    name = rng.choice(fields)
    original = _decode(candidate["response"][name])
    raw = bytearray(original)
    for _ in range(rng.randint(1, 4)):
        if raw:
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    if rng.random() < 0.3:
        raw = raw[: rng.randrange(len(raw) + 1)]
    if raw and bytes(raw) == original:
        # A byte rewritten with its own value (1 in 256): the answer would still be valid.
        raw[0] ^= 1
    candidate["response"][name] = b64url(bytes(raw))
    return candidate


def _cases(answer: Callable[[], dict[str, Any]], mutations: int) -> list[Callable[[], Any]]:
    """Garbage to post, each made from a new valid answer to new options (so that it gets
    past the challenge to the parts the library reads); mutations seeded, so repeatable."""
    rng = random.Random(18)
    shapes = len(_shapes(answer()))
    made: list[Callable[[], Any]] = [partial(_shape, answer, i) for i in range(shapes)]
    return made + [lambda: _mutated(answer(), rng) for _ in range(mutations)]


def _shape(answer: Callable[[], dict[str, Any]], index: int) -> Any:
    return _shapes(answer())[index]


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _outcomes(verify: Verify, cases: list[Callable[[], Any]]) -> set[str]:
    """The reason of each refusal, or "accepted"; anything else raised fails the test."""
    outcomes = set()
    for case in cases:
        try:
            verify(case())
        except PasskeyProblem as refused:
            outcomes.add(refused.reason.value)
        else:
            outcomes.add("accepted")
    return outcomes


@pytest.fixture
def sqlite_only(database_url: str) -> None:
    # Parsing is the same on both backends; one is enough for hundreds of inputs.
    if not database_url.startswith("sqlite"):
        pytest.skip("the store plays no part in refusing garbage")


@pytest.mark.usefixtures("sqlite_only")
def test_garbage_registrations_are_refused(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    session_id = fresh_session(ctx, user)

    def answer() -> dict[str, Any]:
        return authenticator.create(registration_options(ctx, user, session_id))

    def verify(credential: Any) -> object:
        return register_passkey(ctx, user, session_id, credential)

    reasons = _outcomes(verify, _cases(answer, 150))

    assert {"malformed", "verification_failed", "origin_or_rp_mismatch"} <= reasons
    # "none" attestation signs nothing: a changed AAGUID or sign count is still a passkey.
    assert reasons <= {
        "accepted",
        "already_registered",
        "malformed",
        "challenge_unknown",
        "origin_or_rp_mismatch",
        "verification_failed",
    }


@pytest.mark.usefixtures("sqlite_only")
def test_garbage_assertions_are_refused(
    ctx: AppContext, user: User, authenticator: SoftwareAuthenticator
) -> None:
    register(ctx, user, authenticator)
    login = start_login(ctx)

    def answer() -> dict[str, Any]:
        return authenticator.get(login_options(ctx, interaction_id_hash=login, user=None))

    def verify(credential: Any) -> object:
        return verify_passkey_login(
            ctx, interaction_id_hash=login, expected_user=None, credential=credential
        )

    reasons = _outcomes(verify, _cases(answer, 300))

    assert {"malformed", "verification_failed", "origin_or_rp_mismatch"} <= reasons
    assert reasons <= {
        "malformed",
        "challenge_unknown",
        "credential_unknown",
        "user_mismatch",
        "origin_or_rp_mismatch",
        "verification_failed",
        "sign_count",
    }
