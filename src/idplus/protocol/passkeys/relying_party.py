"""Who we are to an authenticator (WebAuthn Level 3 §5.4.2, §13.4.9): the relying-party id,
its name, the one origin our pages run at, and whether passkeys can work at all.

The rp id is the issuer's host unless IDPLUS_WEBAUTHN_RP_ID names a parent domain of it
(config validates that). The expected origin is the issuer's origin exactly: a response made
on any other page, a look-alike domain included, is refused. Browsers refuse WebAuthn for an
IP address and, over plain http, everywhere but `localhost`; such an issuer has no passkeys,
and the server says so once at start (`log_passkey_availability`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from idplus.config import Settings
from idplus.logs import get_logger
from idplus.protocol.passkeys.errors import PasskeyProblem, PasskeyProblemReason

log = get_logger(__name__)

# What the browser shows the user next to the account name.
RP_NAME = "Telenor ID"
_DEFAULT_PORTS = {"http": 80, "https": 443}
# The one host browsers treat as a secure context over plain http.
_DEVELOPMENT_HOST = "localhost"


@dataclass(frozen=True, slots=True)
class RelyingParty:
    id: str
    name: str
    # scheme://host[:port] of the issuer, as a browser serialises it in clientDataJSON.
    origin: str
    # PEM root certificates that attestations are verified against; empty: none asked for.
    attestation_roots: tuple[bytes, ...] = ()

    @property
    def wants_attestation(self) -> bool:
        return bool(self.attestation_roots)


def unavailable_reason(settings: Settings) -> str | None:
    """Why passkeys cannot work with this issuer, or None when they can."""
    parts = urlsplit(settings.issuer)
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return (
            f"the issuer's host {host} is an IP address: WebAuthn needs a host name (use "
            "http://localhost:PORT in development)"
        )
    if parts.scheme != "https" and host != _DEVELOPMENT_HOST:
        return (
            f"the issuer {settings.issuer} is plain http: browsers allow WebAuthn over http "
            "only on localhost"
        )
    return None


def relying_party(settings: Settings, *, attestation: bool = False) -> RelyingParty:
    """Raises PasskeyProblem(UNAVAILABLE) for an issuer that cannot have passkeys.

    `attestation`: with the operator's attestation roots (a registration); a login needs
    none, so it never depends on the roots file."""
    reason = unavailable_reason(settings)
    if reason is not None:
        raise PasskeyProblem(PasskeyProblemReason.UNAVAILABLE, reason)
    parts = urlsplit(settings.issuer)
    host = parts.hostname or ""
    return RelyingParty(
        id=settings.webauthn_rp_id or host,
        name=RP_NAME,
        origin=issuer_origin(settings.issuer),
        attestation_roots=attestation_roots(settings) if attestation else (),
    )


def issuer_origin(issuer: str) -> str:
    """scheme://host[:port], without a default port and without the issuer's path."""
    parts = urlsplit(issuer)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or port == _DEFAULT_PORTS.get(parts.scheme):
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def attestation_roots(settings: Settings) -> tuple[bytes, ...]:
    """Each root certificate of IDPLUS_WEBAUTHN_ATTESTATION_ROOTS as its own PEM."""
    path = settings.webauthn_attestation_roots
    return () if path is None else _roots_in(path)


@cache
def _roots_in(path: Path) -> tuple[bytes, ...]:
    # Read and parsed once per process, at start (`log_passkey_availability`), like every
    # setting: a file moved or rewritten later changes nothing until the next start.
    certificates = x509.load_pem_x509_certificates(path.read_bytes())
    return tuple(certificate.public_bytes(Encoding.PEM) for certificate in certificates)


def log_passkey_availability(settings: Settings) -> None:
    """One line at start: a warning saying why passkeys are off, or what they are bound to.
    The attestation roots are read here, once (config has checked the file)."""
    reason = unavailable_reason(settings)
    if reason is not None:
        log.warning("passkeys_unavailable", reason=reason)
        return
    attestation_roots(settings)
    parts = urlsplit(settings.issuer)
    log.info(
        "passkeys_available",
        rp_id=settings.webauthn_rp_id or parts.hostname,
        origin=issuer_origin(settings.issuer),
        attestation_roots=str(settings.webauthn_attestation_roots or "") or None,
    )
