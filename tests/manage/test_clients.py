"""Client registration follows the SPEC tables and refuses what they forbid."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from idplus.clock import FrozenClock
from idplus.crypto.hashing import verify_client_secret
from idplus.errors import NotFoundError, ValidationError
from idplus.manage.clients import (
    ClientRegistration,
    add_client,
    build_client,
    describe_client,
    ensure_built_in_clients,
    get_client,
    list_clients,
    remove_client,
    rotate_client_secret,
)
from idplus.policies import (
    ACCOUNT_CLIENT_ID,
    BUILT_IN_CLIENT_IDS,
    CONSOLE_CLIENT_ID,
    PORTAL_CLIENT_ID,
)
from idplus.store.base import Store

ISSUER = "http://127.0.0.1:8000"


def _build(**fields: Any) -> Any:
    fields.setdefault("client_id", "app")
    return build_client(ClientRegistration(**fields), FrozenClock())


def test_confidential_client_gets_a_generated_secret_stored_hashed() -> None:
    registered = _build(client_type="Confidential")
    assert registered.client_secret
    (stored,) = registered.client.secrets
    assert registered.client_secret not in stored.secret_hash
    assert verify_client_secret(stored.secret_hash, registered.client_secret)


@pytest.mark.parametrize("client_type", ["Public", "PublicWithRefresh", "MobileApp"])
def test_public_clients_never_hold_a_secret(client_type: str) -> None:
    assert _build(client_type=client_type).client_secret is None
    with pytest.raises(ValidationError, match="only Confidential clients have a secret"):
        _build(client_type=client_type, secret="a-long-enough-secret")


def test_undefined_and_unknown_types_are_refused() -> None:
    with pytest.raises(ValidationError, match="Undefined is reserved"):
        _build(client_type="Undefined")
    with pytest.raises(ValidationError, match="unknown client type 'Spa'"):
        _build(client_type="Spa")


@pytest.mark.parametrize(
    ("client_type", "grants"),
    [
        ("Public", ("authorization_code",)),
        ("PublicWithRefresh", ("authorization_code", "refresh_token")),
        ("Confidential", ("authorization_code", "refresh_token")),
        ("MobileApp", ("authorization_code", "refresh_token")),
    ],
)
def test_default_grant_types_follow_the_refresh_policy(
    client_type: str, grants: tuple[str, ...]
) -> None:
    assert _build(client_type=client_type).client.grant_types == grants


@pytest.mark.parametrize("client_type", ["Public", "PublicWithRefresh", "MobileApp"])
def test_client_credentials_is_only_for_confidential_clients(client_type: str) -> None:
    with pytest.raises(ValidationError, match="only for Confidential"):
        _build(client_type=client_type, grant_types=["client_credentials"])
    assert _build(client_type="Confidential", grant_types=["client_credentials"])


def test_no_refresh_clients_cannot_ask_for_refresh_tokens() -> None:
    with pytest.raises(ValidationError, match="NoRefresh"):
        _build(client_type="Public", grant_types=["refresh_token"])
    with pytest.raises(ValidationError, match="NoRefresh"):
        _build(client_type="Public", scopes=["openid", "offline_access"])


def test_unknown_grant_types_and_scopes_are_refused() -> None:
    with pytest.raises(ValidationError, match="unknown grant type"):
        _build(client_type="Confidential", grant_types=["implicit"])
    with pytest.raises(ValidationError, match="unknown scope 'openid2'"):
        _build(client_type="Confidential", scopes=["openid2"])


def test_api_scopes_need_api_access() -> None:
    with pytest.raises(ValidationError, match="api-access"):
        _build(client_type="Confidential", scopes=["openid", "api:tv"])
    client = _build(client_type="Confidential", scopes=["api:tv"], api_access=True).client
    assert client.scopes == ("api:tv",)


def test_mobile_apps_may_register_private_use_redirects_and_web_clients_may_not() -> None:
    uri = "no.telenor.app:/callback"
    assert _build(client_type="MobileApp", redirect_uris=[uri]).client.redirect_uris == (uri,)
    with pytest.raises(ValidationError, match="private-use"):
        _build(client_type="PublicWithRefresh", redirect_uris=[uri])
    with pytest.raises(ValidationError, match="post-logout redirect URI"):
        _build(client_type="Public", post_logout_redirect_uris=["http://rp.example/bye"])


def test_bad_client_ids_are_refused() -> None:
    for client_id in ["", "has space", "colon:id", "-leading"]:
        with pytest.raises(ValidationError, match="client_id"):
            _build(client_id=client_id, client_type="Public")


def test_duplicate_client_id_is_refused(store: Store, clock: FrozenClock) -> None:
    add_client(store, clock, ClientRegistration(client_id="app", client_type="Public"))
    with pytest.raises(ValidationError, match="already exists"):
        add_client(store, clock, ClientRegistration(client_id="app", client_type="Confidential"))


def test_rotation_keeps_two_secrets(store: Store, clock: FrozenClock) -> None:
    first = add_client(
        store, clock, ClientRegistration(client_id="bff", client_type="Confidential")
    )
    clock.advance(timedelta(days=1))
    second = rotate_client_secret(store, clock, "bff")
    clock.advance(timedelta(days=1))
    third = rotate_client_secret(store, clock, "bff", "a-chosen-secret-of-length")
    stored = get_client(store, "bff").secrets
    assert len(stored) == 2

    def accepted(secret: str | None) -> bool:
        return any(verify_client_secret(s.secret_hash, secret or "") for s in stored)

    assert not accepted(first.client_secret)
    assert accepted(second.client_secret)
    assert accepted(third.client_secret)


def test_rotation_refuses_public_and_unknown_clients(store: Store, clock: FrozenClock) -> None:
    add_client(store, clock, ClientRegistration(client_id="spa", client_type="Public"))
    with pytest.raises(ValidationError):
        rotate_client_secret(store, clock, "spa")
    with pytest.raises(NotFoundError):
        rotate_client_secret(store, clock, "nobody")


def test_remove_client_and_audit_trail(store: Store, clock: FrozenClock) -> None:
    add_client(store, clock, ClientRegistration(client_id="spa", client_type="Public"))
    remove_client(store, clock, "spa")
    assert list_clients(store) == []
    with pytest.raises(NotFoundError):
        remove_client(store, clock, "spa")
    with store.reading() as uow:
        events = [e.event for e in uow.audit.list_events()]
    assert events == ["client.removed", "client.added"]


def test_description_never_shows_secret_hashes(store: Store, clock: FrozenClock) -> None:
    add_client(store, clock, ClientRegistration(client_id="bff", client_type="Confidential"))
    described = describe_client(get_client(store, "bff"))
    assert described["refresh_policy"] == "Confidential"
    assert described["oauth_client_type"] == "confidential"
    assert "sha256$" not in str(described)


def test_the_built_in_clients_are_recorded_once_as_built_in(
    store: Store, clock: FrozenClock
) -> None:
    ensure_built_in_clients(store, clock, ISSUER)
    ensure_built_in_clients(store, clock, ISSUER)  # every start after the first: already there
    with store.reading() as uow:
        events = uow.audit.list_events(events=("client.added", "client.changed"))
    assert sorted(e.client_id or "" for e in events) == sorted(BUILT_IN_CLIENT_IDS)
    (event,) = [e for e in events if e.client_id == ACCOUNT_CLIENT_ID]
    assert event.user_id is None
    assert event.detail["built_in"] is True
    assert (event.detail["type"], event.detail["name"]) == ("Public", "idplus account")
    assert (event.detail["scopes"], event.detail["one_telenor"]) == (["openid"], True)
    assert all("secrets" not in e.detail and "client_secret" not in e.detail for e in events)


def test_a_new_issuer_moves_the_built_in_callbacks(store: Store, clock: FrozenClock) -> None:
    ensure_built_in_clients(store, clock, ISSUER)
    ensure_built_in_clients(store, clock, "https://id.example.no")
    assert get_client(store, PORTAL_CLIENT_ID).redirect_uris == (
        "https://id.example.no/portal/callback",
    )
    assert get_client(store, CONSOLE_CLIENT_ID).redirect_uris == (
        "https://id.example.no/admin/callback",
    )
    with store.reading() as uow:
        changed = uow.audit.list_events(events=("client.changed",))
    assert sorted(e.client_id or "" for e in changed) == [CONSOLE_CLIENT_ID, PORTAL_CLIENT_ID]


@pytest.mark.parametrize("client_id", BUILT_IN_CLIENT_IDS)
def test_a_built_in_client_cannot_be_removed(
    store: Store, clock: FrozenClock, client_id: str
) -> None:
    ensure_built_in_clients(store, clock, ISSUER)
    with pytest.raises(ValidationError, match="built in"):
        remove_client(store, clock, client_id)
    assert get_client(store, client_id).client_id == client_id
