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


@pytest.mark.parametrize(
    ("peer", "seen"),
    [("10.0.0.5", "203.0.113.9"), ("198.51.100.7", "198.51.100.7")],
)
def test_forwarded_for_is_believed_only_from_a_trusted_proxy(
    settings: Settings,
    clock: FrozenClock,
    capsys: pytest.CaptureFixture[str],
    peer: str,
    seen: str,
) -> None:
    """Under any ASGI server, not only `idplus serve`: the application applies the rule."""
    behind = settings.model_copy(update={"trusted_proxies": "10.0.0.0/8", "access_log": "all"})
    app = create_app(behind, clock=clock)
    with TestClient(app, base_url=behind.issuer, client=(peer, 50000)) as http:
        capsys.readouterr()
        assert http.get("/healthz", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 200
    (line,) = [line for line in capsys.readouterr().out.splitlines() if '"/healthz"' in line]
    assert f'"client": "{seen}"' in line
