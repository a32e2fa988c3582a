"""How our passkeys and users are named to the browser in options (WebAuthn Level 3 §5.10.3,
§5.4.3): credential descriptors, and the user handle."""

from __future__ import annotations

from collections.abc import Iterable

from webauthn.helpers import base64url_to_bytes
from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

from idplus.models import Passkey, User

_TRANSPORTS = {transport.value: transport for transport in AuthenticatorTransport}


def user_handle(user: User) -> bytes:
    """The user handle a passkey stores: our random user id (a UUID), never the username or
    phone number, which the authenticator would keep and could show to anyone."""
    return user.id.encode()


def descriptors(passkeys: Iterable[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(passkey.credential_id),
            transports=[_TRANSPORTS[t] for t in passkey.transports if t in _TRANSPORTS] or None,
        )
        for passkey in passkeys
    ]
