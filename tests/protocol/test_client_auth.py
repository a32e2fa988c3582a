"""Client authentication refusals all look alike to the client (no client-id enumeration)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from idplus.crypto.hashing import hash_client_secret
from idplus.models import Client, ClientSecret
from idplus.policies import ClientType
from idplus.protocol.client_auth import (
    ClientAuthenticationFailed,
    ClientCredentials,
    authenticate_client,
)


def _confidential() -> Client:
    return Client(
        client_id="backend",
        name="Backend",
        client_type=ClientType.CONFIDENTIAL,
        secrets=(
            ClientSecret("k1", hash_client_secret("s3cret"), datetime(2026, 1, 1, tzinfo=UTC)),
        ),
    )


@pytest.mark.parametrize(
    ("client", "credentials"),
    [
        (None, ClientCredentials("nobody", "s3cret", basic=True)),
        (_confidential(), ClientCredentials("backend", "wrong", basic=True)),
        (_confidential(), ClientCredentials("backend", None, basic=True)),
    ],
)
def test_unknown_client_and_wrong_secret_are_told_apart_only_in_the_log(
    client: Client | None, credentials: ClientCredentials
) -> None:
    with pytest.raises(ClientAuthenticationFailed) as refused:
        authenticate_client(client, credentials, now=datetime(2026, 1, 2, tzinfo=UTC))
    assert refused.value.description == "client authentication failed"
    assert refused.value.detail != refused.value.description
