"""A secret rotated out authenticates its client until its overlap ends, and not after: the
refusal then is the one every wrong secret gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from idplus.crypto.hashing import hash_client_secret
from idplus.models import Client, ClientSecret
from idplus.policies import ClientType
from idplus.protocol.client_auth import (
    ClientAuthenticationFailed,
    ClientCredentials,
    authenticate_client,
    secret_matches,
)

ROTATED_AT = datetime(2026, 1, 1, 12, tzinfo=UTC)
ENDS = ROTATED_AT + timedelta(hours=24)


def _rotated() -> Client:
    return Client(
        client_id="backend",
        name="Backend",
        client_type=ClientType.CONFIDENTIAL,
        secrets=(
            ClientSecret("old", hash_client_secret("old-secret-0123456789"), ROTATED_AT, ENDS),
            ClientSecret("new", hash_client_secret("new-secret-0123456789"), ROTATED_AT),
        ),
    )


def test_the_older_secret_works_until_its_overlap_ends() -> None:
    credentials = ClientCredentials("backend", "old-secret-0123456789", basic=True)
    just_before = ENDS - timedelta(microseconds=1)
    assert authenticate_client(_rotated(), credentials, now=just_before).client_id == "backend"

    with pytest.raises(ClientAuthenticationFailed) as refused:
        authenticate_client(_rotated(), credentials, now=ENDS)
    assert refused.value.description == "client authentication failed"


def test_the_current_secret_has_no_end() -> None:
    credentials = ClientCredentials("backend", "new-secret-0123456789", basic=False)
    years_later = ENDS + timedelta(days=3650)
    assert authenticate_client(_rotated(), credentials, now=years_later).client_id == "backend"


def test_both_fronts_ask_the_same_question() -> None:
    assert secret_matches(_rotated(), "old-secret-0123456789", ROTATED_AT)
    assert not secret_matches(_rotated(), "old-secret-0123456789", ENDS)
    assert secret_matches(_rotated(), "new-secret-0123456789", ENDS)
    assert not secret_matches(_rotated(), "wrong-secret-0123456789", ROTATED_AT)
