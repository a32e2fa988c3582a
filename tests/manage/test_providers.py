"""The upstream-provider registry: validation, fixed return URIs, sealed secrets, removal."""

from __future__ import annotations

import pytest

from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.crypto.secrets import SecretDecryptionError, client_secret_of
from idplus.errors import NotFoundError, ValidationError
from idplus.manage.clients import ClientRegistration, add_client, remove_client
from idplus.manage.providers import (
    ProviderRegistration,
    add_provider,
    describe_provider,
    get_provider,
    list_providers,
    remove_provider,
)
from idplus.models import UpstreamProvider
from idplus.store.sql.uow import SqlStore

ISSUER = "https://id.example.no"
KEK = "correct horse battery staple"
SECRET = "upstream-secret-value-0123456789"


def _settings(store: SqlStore, **overrides: object) -> Settings:
    return Settings(issuer=ISSUER, database_url=store.database.url, **overrides)  # type: ignore[arg-type]


def _registration(provider_id: str = "telenorid", **overrides: object) -> ProviderRegistration:
    fields: dict[str, object] = {
        "id": provider_id,
        "issuer": "https://signin.telenorid.example",
        "client_id": "idplus",
        "client_secret": SECRET,
    }
    fields.update(overrides)
    return ProviderRegistration(**fields)  # type: ignore[arg-type]


def _stored(store: SqlStore, provider_id: str) -> UpstreamProvider:
    with store.reading() as uow:
        provider = uow.upstream_providers.find(provider_id)
    assert provider is not None
    return provider


def test_add_returns_the_fixed_return_uris_and_stores_the_defaults(
    store: SqlStore, clock: FrozenClock
) -> None:
    settings = _settings(store)
    added = add_provider(store, settings, clock, _registration())
    assert added == {
        "id": "telenorid",
        "redirect_uri": f"{ISSUER}/federation/telenorid/callback",
        "post_logout_redirect_uri": f"{ISSUER}/federation/telenorid/logged-out",
    }
    provider = get_provider(store, "telenorid")
    assert provider.scopes == ("openid",)
    assert provider.display_name == "telenorid"
    assert (provider.acr, provider.amr) == (None, ())
    assert provider.link_by == "none"
    assert provider.token_auth_method == "client_secret_basic"
    assert provider.created_at == clock.now()


def test_every_option_is_kept_and_openid_is_always_asked_for(
    store: SqlStore, clock: FrozenClock
) -> None:
    settings = _settings(store)
    registration = _registration(
        "bankid",
        issuer="http://127.0.0.1:9000",
        scopes=["email", "phone", "email"],
        display_name="BankID",
        acr="urn:telenor.identity.aal.2",
        amr=["bankid"],
        link_by="email",
        token_auth_method="client_secret_post",
    )
    add_provider(store, settings, clock, registration)
    shown = describe_provider(get_provider(store, "bankid"), settings)
    assert shown["scopes"] == ["openid", "email", "phone"]
    assert shown["display_name"] == "BankID"
    assert (shown["acr"], shown["amr"]) == ("urn:telenor.identity.aal.2", ["bankid"])
    assert (shown["link_by"], shown["token_auth_method"]) == ("email", "client_secret_post")
    assert shown["issuer"] == "http://127.0.0.1:9000"


def test_the_secret_is_encrypted_under_the_key_encryption_key(
    store: SqlStore, clock: FrozenClock
) -> None:
    settings = _settings(store, key_encryption_key=KEK)
    add_provider(store, settings, clock, _registration())
    provider = _stored(store, "telenorid")
    assert provider.client_secret_sealed is not None
    assert SECRET not in provider.client_secret_sealed
    assert client_secret_of(provider, settings) == SECRET
    assert describe_provider(provider, settings)["client_secret"] == "encrypted"
    with pytest.raises(SecretDecryptionError, match="IDPLUS_KEY_ENCRYPTION_KEY"):
        client_secret_of(provider, _settings(store, key_encryption_key="another key"))
    with pytest.raises(SecretDecryptionError, match="IDPLUS_KEY_ENCRYPTION_KEY"):
        client_secret_of(provider, _settings(store))


def test_without_a_key_encryption_key_the_secret_is_plain(
    store: SqlStore, clock: FrozenClock
) -> None:
    settings = _settings(store)
    add_provider(store, settings, clock, _registration())
    add_provider(store, settings, clock, _registration("public", client_secret=None))
    provider = _stored(store, "telenorid")
    assert client_secret_of(provider, settings) == SECRET
    # A KEK added later still reads the secrets stored before it.
    assert client_secret_of(provider, _settings(store, key_encryption_key=KEK)) == SECRET
    assert describe_provider(provider, settings)["client_secret"] == "plain"
    public = _stored(store, "public")
    assert client_secret_of(public, settings) is None
    assert describe_provider(public, settings)["client_secret"] is None


def test_show_and_list_never_print_the_secret(store: SqlStore, clock: FrozenClock) -> None:
    for settings in (_settings(store), _settings(store, key_encryption_key=KEK)):
        provider_id = "enc" if settings.key_encryption_key else "plain"
        add_provider(store, settings, clock, _registration(provider_id))
        provider = get_provider(store, provider_id)
        assert SECRET not in repr(describe_provider(provider, settings))
        assert str(provider.client_secret_sealed) not in repr(describe_provider(provider, settings))
    assert [p.id for p in list_providers(store)] == ["enc", "plain"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"id": "local"}, "built-in"),
        ({"id": "TelenorID"}, "lower-case"),
        ({"id": "a.b"}, "lower-case"),
        ({"id": ""}, "lower-case"),
        ({"id": "-x"}, "lower-case"),
        ({"id": "x" * 65}, "lower-case"),
        ({"id": "dev\n"}, "lower-case"),
        ({"acr": "urn:telenor.identity.aal.2\n"}, "urn:telenor.identity.aal.N"),
        ({"issuer": "http://idp.example"}, "https"),
        ({"issuer": "signin.example"}, "absolute https URL"),
        ({"issuer": "https://idp.example?x=1"}, "query or fragment"),
        ({"issuer": "https://idp.example#f"}, "query or fragment"),
        ({"acr": "urn:telenor.identity.aal.9"}, "urn:telenor.identity.aal.N"),
        ({"acr": "aal2"}, "urn:telenor.identity.aal.N"),
        ({"link_by": "username"}, "link-by"),
        ({"token_auth_method": "private_key_jwt"}, "token auth method"),
        ({"scopes": ["two words"]}, "scope"),
        ({"amr": ['"quoted"']}, "amr"),
        ({"client_id": ""}, "client id"),
        ({"client_secret": ""}, "secret"),
        ({"display_name": " "}, "display name"),
    ],
)
def test_bad_registrations_are_refused(
    store: SqlStore, clock: FrozenClock, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        add_provider(store, _settings(store), clock, _registration(**overrides))
    assert list_providers(store) == []


def test_loopback_issuers_may_use_http(store: SqlStore, clock: FrozenClock) -> None:
    settings = _settings(store)
    for n, issuer in enumerate(("http://localhost:9000", "http://[::1]:9000/tenant")):
        add_provider(store, settings, clock, _registration(f"dev{n}", issuer=issuer))
    assert [p.issuer for p in list_providers(store)] == [
        "http://localhost:9000",
        "http://[::1]:9000/tenant",
    ]


def test_a_duplicate_id_is_refused(store: SqlStore, clock: FrozenClock) -> None:
    settings = _settings(store)
    add_provider(store, settings, clock, _registration())
    with pytest.raises(ValidationError, match="already exists"):
        add_provider(store, settings, clock, _registration(issuer="https://other.example"))
    assert get_provider(store, "telenorid").issuer == "https://signin.telenorid.example"


def test_unknown_providers_are_not_found(store: SqlStore, clock: FrozenClock) -> None:
    with pytest.raises(NotFoundError, match="unknown provider"):
        get_provider(store, "ghost")
    with pytest.raises(NotFoundError, match="unknown provider"):
        remove_provider(store, clock, "ghost")


def test_clients_may_name_only_local_and_registered_providers(
    store: SqlStore, clock: FrozenClock
) -> None:
    def register(client_id: str, *providers: str) -> None:
        registration = ClientRegistration(
            client_id, "Public", redirect_uris=["https://rp.example/cb"], providers=providers
        )
        add_client(store, clock, registration)

    with pytest.raises(ValidationError, match="unknown provider 'telenorid'"):
        register("web", "local", "telenorid")
    add_provider(store, _settings(store), clock, _registration())
    register("web", "local", "telenorid")
    register("local-only", "local")
    with store.reading() as uow:
        assert uow.clients.exists("web") and uow.clients.exists("local-only")


def test_removal_is_refused_while_a_client_allows_the_provider(
    store: SqlStore, clock: FrozenClock
) -> None:
    add_provider(store, _settings(store), clock, _registration())
    for client_id in ("web", "app"):
        registration = ClientRegistration(
            client_id,
            "Public",
            redirect_uris=["https://rp.example/cb"],
            providers=["telenorid"],
        )
        add_client(store, clock, registration)
    with pytest.raises(ValidationError, match="still allowed by client\\(s\\) app, web"):
        remove_provider(store, clock, "telenorid")
    assert get_provider(store, "telenorid").id == "telenorid"

    remove_client(store, clock, "web")
    remove_client(store, clock, "app")
    remove_provider(store, clock, "telenorid")
    assert list_providers(store) == []
    with store.reading() as uow:
        events = [e.event for e in uow.audit.list_events()]
    assert "provider.added" in events and "provider.removed" in events
