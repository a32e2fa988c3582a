"""create_app refuses settings that must not serve: an https issuer whose cookie key and
key-encryption key would live in the database it protects."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from idplus.application.app import InsecureConfiguration, create_app
from idplus.clock import FrozenClock
from idplus.config import Settings

PUBLIC_ISSUER = "https://id.example.no"


@pytest.mark.parametrize(
    ("secrets", "missing"),
    [
        ({}, ["IDPLUS_SECRET_KEY", "IDPLUS_KEY_ENCRYPTION_KEY"]),
        ({"secret_key": SecretStr("cookie-key")}, ["IDPLUS_KEY_ENCRYPTION_KEY"]),
        ({"key_encryption_key": SecretStr("kek")}, ["IDPLUS_SECRET_KEY"]),
        ({"secret_key": SecretStr(""), "key_encryption_key": SecretStr("kek")}, ["SECRET_KEY"]),
    ],
)
def test_stolen_database_alone_cannot_forge_https_cookies_or_tokens(
    settings: Settings, clock: FrozenClock, secrets: dict[str, SecretStr], missing: list[str]
) -> None:
    unsafe = settings.model_copy(update={"issuer": PUBLIC_ISSUER, **secrets})
    with pytest.raises(InsecureConfiguration) as refused:
        create_app(unsafe, clock=clock)
    assert all(name in str(refused.value) for name in missing)


def test_https_issuer_with_both_outside_secrets_serves(
    settings: Settings, clock: FrozenClock
) -> None:
    production = settings.model_copy(
        update={
            "issuer": PUBLIC_ISSUER,
            "secret_key": SecretStr("cookie-key-from-the-vault"),
            "key_encryption_key": SecretStr("kek-from-the-vault"),
        }
    )
    with TestClient(create_app(production, clock=clock), base_url=PUBLIC_ISSUER) as client:
        assert client.get("/readyz").status_code == 200
        document = client.get("/.well-known/openid-configuration").json()
    assert document["issuer"] == PUBLIC_ISSUER
