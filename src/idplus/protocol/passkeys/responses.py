"""Reading what a browser sends back from `navigator.credentials.create()` / `.get()` (WebAuthn
Level 3 §7.1, §7.2) through the `webauthn` library, before anything is verified.

Every parse is the library's (never our own CBOR or COSE); anything it raises on bad input is
one of REFUSED_INPUT and becomes PasskeyProblem(MALFORMED), so garbage is a clear refusal and
never a 5xx. The checks here only tell apart reasons the library's verify folds into one
error: the origin and the rp id are ours (a response made for another site), and which
challenge the response answers (to find and use it).
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import cbor2
import cryptography.exceptions
import OpenSSL.crypto
from webauthn.helpers import (
    bytes_to_base64url,
    parse_attestation_object,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationObject,
    AuthenticationCredential,
    ClientDataType,
    CollectedClientData,
    RegistrationCredential,
)

from idplus.protocol.passkeys.errors import PasskeyProblem, PasskeyProblemReason
from idplus.protocol.passkeys.relying_party import RelyingParty

# What the library (and the parsers under it) raise on input they cannot use.
REFUSED_INPUT: tuple[type[Exception], ...] = (
    WebAuthnException,
    ValueError,  # also binascii.Error, JSONDecodeError, UnicodeDecodeError
    KeyError,
    TypeError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
    struct.error,
    cbor2.CBORError,
    OpenSSL.crypto.Error,
    cryptography.exceptions.UnsupportedAlgorithm,
    cryptography.exceptions.InvalidSignature,
    cryptography.exceptions.InvalidKey,
)

# WebAuthn Level 3 §5.8.3 (credentialIdLength); the store's column is sized for it.
MAX_CREDENTIAL_ID_BYTES = 1023

# The browser's JSON of a credential: a string, or the object a JSON body decoded to.
CredentialJson = str | dict[str, Any]


def _malformed(what: str, exc: BaseException) -> PasskeyProblem:
    # The exception's type only: its text may quote what the browser sent.
    return PasskeyProblem(PasskeyProblemReason.MALFORMED, f"{what}: {type(exc).__name__}")


def parse_registration(credential: CredentialJson) -> RegistrationCredential:
    try:
        return parse_registration_credential_json(credential)
    except REFUSED_INPUT as exc:
        raise _malformed("registration response", exc) from None


def parse_assertion(credential: CredentialJson) -> AuthenticationCredential:
    try:
        return parse_authentication_credential_json(credential)
    except REFUSED_INPUT as exc:
        raise _malformed("assertion", exc) from None


def client_data_of(client_data_json: bytes, expected: ClientDataType) -> CollectedClientData:
    """The client data of a ceremony of the `expected` type (a `get` answer is no `create`)."""
    try:
        client_data = parse_client_data_json(client_data_json)
    except REFUSED_INPUT as exc:
        raise _malformed("clientDataJSON", exc) from None
    if client_data.type != expected or not isinstance(client_data.origin, str):
        raise PasskeyProblem(PasskeyProblemReason.MALFORMED, "clientDataJSON of another kind")
    return client_data


def attestation_object_of(credential: RegistrationCredential) -> AttestationObject:
    try:
        return parse_attestation_object(credential.response.attestation_object)
    except REFUSED_INPUT as exc:
        raise _malformed("attestationObject", exc) from None


def assertion_rp_id_hash(credential: AuthenticationCredential) -> bytes:
    try:
        return parse_authenticator_data(credential.response.authenticator_data).rp_id_hash
    except REFUSED_INPUT as exc:
        raise _malformed("authenticatorData", exc) from None


def check_made_for_us(
    client_data: CollectedClientData, rp_id_hash: bytes, rp: RelyingParty
) -> None:
    """The browser ran the ceremony on our origin, and the authenticator scoped it to our rp
    id: anything else was made for another site (phishing, or a misconfigured rp id)."""
    if client_data.origin != rp.origin:
        raise PasskeyProblem(
            PasskeyProblemReason.ORIGIN_OR_RP_MISMATCH,
            f"origin {client_data.origin[:100]!r}, expected {rp.origin!r}",
        )
    if rp_id_hash != hashlib.sha256(rp.id.encode()).digest():
        raise PasskeyProblem(
            PasskeyProblemReason.ORIGIN_OR_RP_MISMATCH, f"rp id hash is not that of {rp.id!r}"
        )


def credential_id_of(raw_id: bytes) -> str:
    """How a credential id is stored and looked up: base64url without padding. Raises
    MALFORMED for one longer than WebAuthn allows (§5.8.3: at most 1023 bytes), before any
    statement sees it (the column holds no more)."""
    if not 0 < len(raw_id) <= MAX_CREDENTIAL_ID_BYTES:
        raise PasskeyProblem(
            PasskeyProblemReason.MALFORMED, f"credential id of {len(raw_id)} bytes"
        )
    return bytes_to_base64url(raw_id)
