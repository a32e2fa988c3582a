"""A software WebAuthn authenticator and browser, for tests: it answers registration and
login options with the JSON a browser sends (WebAuthn Level 3 §5.1 `toJSON()`, base64url).

    authenticator = SoftwareAuthenticator(origin="http://localhost:8000")
    credential = authenticator.create(registration_options)      # → register_passkey
    assertion = authenticator.get(login_options)                 # → verify_passkey_login

Keys are EC P-256 (ES256). Registration attests with "none" by default, or "packed" with
self attestation or a certificate from an `AttestationCa` (full attestation). Every part a
test may want to get wrong can be overridden per call: origin, rp id, challenge, flags (user
presence and verification, backup eligibility and state), sign count, user handle, or the
client data JSON itself. The authenticator keeps its credentials and their sign counts like
a real one, so a second `get` signs with a higher count.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_BE = 0x08
FLAG_BS = 0x10
FLAG_AT = 0x40
ES256 = -7
NO_AAGUID = bytes(16)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cose_key(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The COSE_Key (RFC 9053 §7.1) of an EC2 P-256 key for ES256."""
    numbers = public_key.public_numbers()
    return cbor2.dumps(
        {
            1: 2,
            3: ES256,
            -1: 1,
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        }
    )


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


@dataclass
class AttestationCa:
    """A root certificate authority that issues "packed" attestation certificates, as an
    authenticator vendor does (its root is what an operator would configure)."""

    name: str = "Test Authenticator Vendor Root"
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def __post_init__(self) -> None:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
        self.certificate = (
            _certificate_builder(subject, subject, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    @property
    def root_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(self) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
        """A new attestation key and its certificate (DER), with the subject WebAuthn §8.2.1
        asks of a packed attestation certificate."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "NO"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Vendor"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Authenticator Attestation"),
                x509.NameAttribute(NameOID.COMMON_NAME, "Test Security Key"),
            ]
        )
        certificate = (
            _certificate_builder(subject, self.certificate.subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        return key, certificate.public_bytes(serialization.Encoding.DER)


def _certificate_builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    # Chain validation uses the real time, whatever clock the test froze.
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
    )


@dataclass
class StoredCredential:
    """What the authenticator keeps of one credential."""

    id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int
    backup_eligible: bool
    backed_up: bool


@dataclass
class SoftwareAuthenticator:
    """A passkey provider and the browser in front of it, at `origin`.

    `sign_count_step` 0 makes it a synced passkey that always reports 0; `backup_eligible`
    (with `backed_up`) one that may sync at all."""

    origin: str
    aaguid: bytes = NO_AAGUID
    backup_eligible: bool = False
    backed_up: bool = False
    sign_count_step: int = 1
    transports: tuple[str, ...] = ("internal", "hybrid")
    credentials: dict[bytes, StoredCredential] = field(default_factory=dict)

    def create(
        self,
        options: dict[str, Any],
        *,
        attestation: str = "none",
        ca: AttestationCa | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: str | None = None,
        user_verified: bool = True,
        user_present: bool = True,
        client_data_json: bytes | None = None,
    ) -> dict[str, Any]:
        """Answer registration options. `attestation`: "none", "self" (packed, signed by the
        credential's own key) or "full" (packed, with a certificate from `ca`)."""
        rp = rp_id or options["rp"]["id"]
        stored = StoredCredential(
            id=secrets.token_bytes(32),
            key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=rp,
            user_handle=from_b64url(options["user"]["id"]),
            sign_count=0,
            backup_eligible=self.backup_eligible,
            backed_up=self.backed_up,
        )
        client_data = client_data_json or self.client_data(
            "webauthn.create", challenge or options["challenge"], origin
        )
        attested = (
            self.aaguid
            + len(stored.id).to_bytes(2, "big")
            + stored.id
            + cose_key(stored.key.public_key())
        )
        flags = self.flags(stored, user_present, user_verified) | FLAG_AT
        auth_data = self.authenticator_data(rp, flags, 0) + attested
        statement = self._statement(attestation, ca, stored, auth_data, client_data)
        fmt = "none" if attestation == "none" else "packed"
        attestation_object = cbor2.dumps({"fmt": fmt, "attStmt": statement, "authData": auth_data})
        self.credentials[stored.id] = stored
        return {
            "id": b64url(stored.id),
            "rawId": b64url(stored.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation_object),
                "transports": list(self.transports),
            },
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        credential_id: str | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: str | None = None,
        user_verified: bool = True,
        user_present: bool = True,
        sign_count: int | None = None,
        user_handle: bytes | None = None,
        omit_user_handle: bool = False,
        client_data_json: bytes | None = None,
    ) -> dict[str, Any]:
        """Answer login options with the credential `credential_id` (base64url), else the
        first one `allowCredentials` lists that it holds, else any it holds for the rp."""
        stored = self._pick(options, credential_id)
        rp = rp_id or options.get("rpId") or stored.rp_id
        if sign_count is None:
            stored.sign_count += self.sign_count_step
            sign_count = stored.sign_count
        client_data = client_data_json or self.client_data(
            "webauthn.get", challenge or options["challenge"], origin
        )
        flags = self.flags(stored, user_present, user_verified)
        auth_data = self.authenticator_data(rp, flags, sign_count)
        signature = _sign(stored.key, auth_data + hashlib.sha256(client_data).digest())
        response = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(signature),
        }
        if not omit_user_handle:
            response["userHandle"] = b64url(user_handle or stored.user_handle)
        return {
            "id": b64url(stored.id),
            "rawId": b64url(stored.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": response,
        }

    def client_data(self, kind: str, challenge: str, origin: str | None = None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin},
            separators=(",", ":"),
        ).encode()

    @staticmethod
    def flags(stored: StoredCredential, user_present: bool, user_verified: bool) -> int:
        flags = (FLAG_UP if user_present else 0) | (FLAG_UV if user_verified else 0)
        if stored.backup_eligible:
            flags |= FLAG_BE | (FLAG_BS if stored.backed_up else 0)
        return flags

    @staticmethod
    def authenticator_data(rp_id: str, flags: int, sign_count: int) -> bytes:
        rp_id_hash = hashlib.sha256(rp_id.encode()).digest()
        return rp_id_hash + bytes([flags]) + sign_count.to_bytes(4, "big")

    def _statement(
        self,
        attestation: str,
        ca: AttestationCa | None,
        stored: StoredCredential,
        auth_data: bytes,
        client_data: bytes,
    ) -> dict[str, Any]:
        signed = auth_data + hashlib.sha256(client_data).digest()
        if attestation == "none":
            return {}
        if attestation == "self":
            return {"alg": ES256, "sig": _sign(stored.key, signed)}
        if attestation == "full" and ca is not None:
            key, certificate = ca.issue()
            return {"alg": ES256, "sig": _sign(key, signed), "x5c": [certificate]}
        raise ValueError(f"attestation {attestation!r} (full needs a ca)")

    def _pick(self, options: dict[str, Any], credential_id: str | None) -> StoredCredential:
        if credential_id is not None:
            return self.credentials[from_b64url(credential_id)]
        for allowed in options.get("allowCredentials") or []:
            found = self.credentials.get(from_b64url(allowed["id"]))
            if found is not None:
                return found
        rp = options.get("rpId")
        for stored in self.credentials.values():
            if rp is None or stored.rp_id == rp:
                return stored
        raise LookupError("no credential for these options")
