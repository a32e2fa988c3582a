"""Apps: a company's clients, created, changed, re-keyed and deleted by its members (and by
operators), with the CLI's defaults and validation; anyone else learns nothing of them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from idplus.clock import FrozenClock
from idplus.crypto.hashing import verify_client_secret
from idplus.errors import Forbidden, NotFoundError, PreconditionFailed, ValidationError
from idplus.manage.apps import (
    OUTBOUND_URIS,
    AppRequest,
    create_app,
    delete_app,
    get_app,
    list_apps,
    revoke_app_secret,
    rotate_app_secret,
    update_app,
)
from idplus.manage.clients import client_version, get_client
from idplus.manage.users import UserRegistration, add_user
from idplus.models import COMPANY_ADMIN, COMPANY_DEVELOPER, Caller, Company, Membership
from idplus.policies import (
    ADMIN_SCOPE,
    GRANT_CIBA,
    GRANT_PASSWORD,
    GRANT_TOKEN_EXCHANGE,
    PORTAL_SCOPE,
)
from idplus.store.base import Store

OPERATOR = Caller.admin_client("ops")
CALLBACK = "https://shop.example/cb"


def make_company(
    store: Store, clock: FrozenClock, company_id: str, members: dict[str, str]
) -> None:
    """A company with these members (user id → role), written straight to the store."""
    with store.transaction() as uow:
        uow.companies.insert(Company(company_id, company_id.title(), clock.now(), "user:x"))
        for user_id, role in members.items():
            uow.companies.add_member(Membership(company_id, user_id, role, clock.now()))


def make_user(store: Store, clock: FrozenClock, username: str) -> Caller:
    user = add_user(store, clock, UserRegistration(username, "correct horse 42"))
    return Caller.user(user.id, operator=False)


@pytest.fixture
def dev(store: Store, clock: FrozenClock) -> Caller:
    """A developer of company "acme"."""
    caller = make_user(store, clock, "+4791000001")
    assert caller.user_id is not None
    make_company(store, clock, "acme", {caller.user_id: COMPANY_DEVELOPER})
    return caller


@pytest.fixture
def outsider(store: Store, clock: FrozenClock) -> Caller:
    """The admin of another company, "globex"."""
    caller = make_user(store, clock, "+4791000002")
    assert caller.user_id is not None
    make_company(store, clock, "globex", {caller.user_id: COMPANY_ADMIN})
    return caller


def _app(store: Store, clock: FrozenClock, caller: Caller, **fields: Any) -> Any:
    fields.setdefault("name", "Acme Shop")
    fields.setdefault("company_id", "acme")
    fields.setdefault("type", "Confidential")
    return create_app(store, clock, caller, AppRequest(**fields))


def test_a_member_creates_an_app_with_the_clis_defaults(
    store: Store, clock: FrozenClock, dev: Caller
) -> None:
    created = _app(store, clock, dev, redirect_uris=[CALLBACK])
    app = created.client

    assert app.client_id.startswith("app-") and len(app.client_id) == 24
    assert (app.name, app.company_id, app.client_type.value) == (
        "Acme Shop",
        "acme",
        "Confidential",
    )
    assert app.grant_types == ("authorization_code", "refresh_token")
    assert app.scopes == ("openid", "profile", "email", "phone", "offline_access")
    assert not app.api_access and app.api_products == ()
    assert created.client_secret is not None
    stored = get_client(store, app.client_id)
    assert verify_client_secret(stored.secrets[0].secret_hash, created.client_secret)
    assert stored == app


def test_apps_get_ids_of_their_own(store: Store, clock: FrozenClock, dev: Caller) -> None:
    ids = {_app(store, clock, dev, type="Public").client.client_id for _ in range(5)}
    assert len(ids) == 5


def test_a_back_end_app_may_use_client_credentials(
    store: Store, clock: FrozenClock, dev: Caller
) -> None:
    app = _app(store, clock, dev, grant_types=["client_credentials"]).client
    assert app.grant_types == ("client_credentials",)


def test_creating_an_app_is_audited_with_its_company_and_no_secret(
    store: Store, clock: FrozenClock, dev: Caller
) -> None:
    created = _app(store, clock, dev)
    with store.reading() as uow:
        [event] = uow.audit.list_events(10, events=("client.added",))
    assert event.client_id == created.client.client_id
    assert event.detail["actor"] == dev.actor
    assert event.detail["company_id"] == "acme"
    assert created.client_secret not in str(event.detail)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"scopes": ["openid", ADMIN_SCOPE]}, "not for apps"),
        ({"scopes": ["openid", PORTAL_SCOPE]}, "not for apps"),
        ({"scopes": ["openid", "api:tv"]}, "request the API product"),
        ({"name": "two\nlines"}, "plain text on one line"),
        ({"name": "x" * 201}, "plain text on one line"),
        ({"name": " "}, "plain text on one line"),
        ({"type": "Undefined"}, "reserved"),
        ({"type": "Public", "grant_types": ["client_credentials"]}, "only for Confidential"),
        ({"redirect_uris": ["http://shop.example/cb"]}, "redirect URI"),
    ],
)
def test_an_app_is_validated_as_a_registration_is(
    store: Store, clock: FrozenClock, dev: Caller, fields: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        _app(store, clock, dev, **fields)
    assert list_apps(store, dev) == []


@pytest.mark.parametrize(
    "fields", [{"one_telenor": True}, {"update_at_claims": True}, {"exchange_from": ["other"]}]
)
def test_settings_beyond_the_app_are_an_operators(
    store: Store, clock: FrozenClock, dev: Caller, fields: dict[str, Any]
) -> None:
    if "exchange_from" in fields:
        fields["grant_types"] = ["urn:ietf:params:oauth:grant-type:token-exchange"]
    with pytest.raises(Forbidden):
        _app(store, clock, dev, **fields)
    assert _app(store, clock, OPERATOR, **fields).client.company_id == "acme"


@pytest.mark.parametrize("grant", [GRANT_PASSWORD, GRANT_TOKEN_EXCHANGE, GRANT_CIBA])
def test_grants_for_users_the_app_never_met_are_an_operators(
    store: Store, clock: FrozenClock, dev: Caller, grant: str
) -> None:
    """The password grant takes anyone's password, token exchange any client's tokens, CIBA
    pushes a login to anyone: a developer gives an app none of them, neither at creation nor
    by a change; what an operator gave stays through the developer's later changes."""
    with pytest.raises(Forbidden, match=grant):
        _app(store, clock, dev, grant_types=["client_credentials", grant])
    app = _app(store, clock, dev, grant_types=["client_credentials"]).client
    with_grant = {"grant_types": ["client_credentials", grant]}
    with pytest.raises(Forbidden, match=grant):
        update_app(store, clock, dev, app.client_id, with_grant)
    assert get_client(store, app.client_id).grant_types == ("client_credentials",)

    update_app(store, clock, OPERATOR, app.client_id, with_grant)
    kept = update_app(store, clock, dev, app.client_id, {"name": "Acme TV", **with_grant})

    assert kept.grant_types == ("client_credentials", grant)
    assert _app(store, clock, OPERATOR, grant_types=[grant]).client.grant_types == (grant,)


def _outbound(name: str, uri: str) -> dict[str, Any]:
    """An app's settings with `uri` as its `name`, and what that URI needs."""
    if name == "jwks_uri":
        return {"auth_method": "private_key_jwt", "jwks_uri": uri}
    if name == "backchannel_client_notification_endpoint":
        return {"ciba_enabled": True, name: uri}
    return {name: uri}


INTERNAL_URIS = [
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1:8443/internal",
    "http://localhost:6379/",
    "https://admin.localhost./flush",
    "http://127.0.0.1:9000/flush",
    "https://127.1/flush",
    "https://[::1]/flush",
    "https://[fd00::1]/flush",
    "https://[::ffff:192.168.1.1]/flush",
    "https://0.0.0.0/flush",
    "https://224.0.0.251/flush",
]


@pytest.mark.parametrize(
    ("name", "uri"),
    [("backchannel_logout_uri", uri) for uri in INTERNAL_URIS]
    + [(name, "https://192.168.0.10/x") for name in OUTBOUND_URIS[1:]],
)
def test_a_developer_aims_no_uri_idplus_calls_at_its_own_network(
    store: Store, clock: FrozenClock, dev: Caller, name: str, uri: str
) -> None:
    """idplus itself calls these URIs, from inside its network: a developer's app may not
    point them at localhost or a loopback, private, link-local or multicast address (400);
    an operator may."""
    with pytest.raises(ValidationError, match=f"{name} .*only at a public host"):
        _app(store, clock, dev, **_outbound(name, uri))
    assert list_apps(store, dev) == []
    assert getattr(_app(store, clock, OPERATOR, **_outbound(name, uri)).client, name) == uri


@pytest.mark.parametrize("name", OUTBOUND_URIS)
def test_public_hosts_are_a_developers_to_name(
    store: Store, clock: FrozenClock, dev: Caller, name: str
) -> None:
    for uri in ("https://shop.example/idplus", "https://93.184.216.34/idplus"):
        assert getattr(_app(store, clock, dev, **_outbound(name, uri)).client, name) == uri


def test_a_change_aims_no_back_channel_at_idplus_network_either(
    store: Store, clock: FrozenClock, dev: Caller
) -> None:
    app = _app(store, clock, dev).client
    internal = {"backchannel_logout_uri": "https://192.168.0.10/logout"}
    with pytest.raises(ValidationError, match="only at a public host"):
        update_app(store, clock, dev, app.client_id, internal)

    update_app(store, clock, OPERATOR, app.client_id, internal)
    kept = update_app(store, clock, dev, app.client_id, {"name": "Acme Store", **internal})
    public = {"backchannel_logout_uri": "https://shop.example/logout"}
    changed = update_app(store, clock, dev, app.client_id, public)

    assert kept.backchannel_logout_uri == "https://192.168.0.10/logout"
    assert changed.backchannel_logout_uri == "https://shop.example/logout"
    with pytest.raises(ValidationError, match="only at a public host"):
        update_app(store, clock, dev, app.client_id, internal)


def test_only_members_and_operators_create_a_companys_apps(
    store: Store, clock: FrozenClock, dev: Caller, outsider: Caller
) -> None:
    with pytest.raises(NotFoundError, match="no company 'acme'"):
        _app(store, clock, outsider)
    with pytest.raises(NotFoundError, match="no company 'nowhere'"):
        _app(store, clock, dev, company_id="nowhere")
    with pytest.raises(NotFoundError):
        _app(store, clock, OPERATOR, company_id="nowhere")
    assert _app(store, clock, OPERATOR).client.company_id == "acme"


def test_outsiders_learn_nothing_of_an_app(
    store: Store, clock: FrozenClock, dev: Caller, outsider: Caller
) -> None:
    app_id = _app(store, clock, dev).client.client_id
    attempts = [
        lambda: get_app(store, outsider, app_id),
        lambda: update_app(store, clock, outsider, app_id, {"name": "Mine"}),
        lambda: rotate_app_secret(store, clock, outsider, app_id),
        lambda: revoke_app_secret(store, clock, outsider, app_id, "s"),
        lambda: delete_app(store, clock, outsider, app_id),
    ]
    for attempt in attempts:
        with pytest.raises(NotFoundError) as refused:
            attempt()
        assert refused.value.description == f"no app {app_id!r}"
    assert get_app(store, dev, app_id).name == "Acme Shop"
    # A client of no company is no app, for operators too.
    with pytest.raises(NotFoundError):
        get_app(store, OPERATOR, "ops")


def test_developers_list_their_companies_apps_and_operators_all(
    store: Store, clock: FrozenClock, dev: Caller, outsider: Caller
) -> None:
    mine = sorted(_app(store, clock, dev, type="Public").client.client_id for _ in range(3))
    theirs = _app(store, clock, outsider, company_id="globex", type="Public").client.client_id

    assert [a.client_id for a in list_apps(store, dev)] == mine
    assert [a.client_id for a in list_apps(store, outsider)] == [theirs]
    assert [a.client_id for a in list_apps(store, OPERATOR)] == sorted([*mine, theirs])
    assert [a.client_id for a in list_apps(store, OPERATOR, company_id="acme")] == mine
    assert [a.client_id for a in list_apps(store, dev, after=mine[0], limit=1)] == [mine[1]]
    with pytest.raises(NotFoundError):
        list_apps(store, outsider, company_id="acme")
    loner = Caller.user("nobody", operator=False)
    assert list_apps(store, loner) == []


def test_a_member_changes_an_app_validated_as_at_registration(
    store: Store, clock: FrozenClock, dev: Caller
) -> None:
    app = _app(store, clock, dev, redirect_uris=[CALLBACK]).client
    clock.advance(timedelta(minutes=1))

    changed = update_app(
        store, clock, dev, app.client_id,
        {"name": "Acme Store", "redirect_uris": [CALLBACK, "https://shop.example/cb2"],
         "grant_types": ["authorization_code", "client_credentials"]},
    )  # fmt: skip

    assert changed.name == "Acme Store"
    assert changed.redirect_uris == (CALLBACK, "https://shop.example/cb2")
    assert changed.grant_types == ("authorization_code", "client_credentials")
    assert changed.secrets == app.secrets and changed.created_at == app.created_at
    assert get_client(store, app.client_id) == changed
    for bad in ({"redirect_uris": ["not a uri"]}, {"name": ""}, {"scopes": ["api:tv"]}):
        with pytest.raises(ValidationError):
            update_app(store, clock, dev, app.client_id, bad)
    with pytest.raises(ValidationError, match="type cannot be changed"):
        update_app(store, clock, dev, app.client_id, {"type": "Public"})
    with pytest.raises(Forbidden):
        update_app(store, clock, dev, app.client_id, {"one_telenor": True})
    assert get_client(store, app.client_id) == changed


def test_a_change_is_audited_before_and_after(
    store: Store, clock: FrozenClock, dev: Caller
) -> None:
    app = _app(store, clock, dev).client
    update_app(store, clock, dev, app.client_id, {"name": "Acme Store", "silent_sso": True})
    with store.reading() as uow:
        [event] = uow.audit.list_events(10, events=("client.changed",))
    assert event.detail == {
        "changed": {
            "name": {"before": "Acme Shop", "after": "Acme Store"},
            "silent_sso": {"before": False, "after": True},
        },
        "actor": dev.actor,
    }


def test_a_change_from_a_stale_version_is_refused(
    store: Store, clock: FrozenClock, dev: Caller
) -> None:
    app = _app(store, clock, dev).client
    read = client_version(app)
    update_app(store, clock, OPERATOR, app.client_id, {"name": "By the operator"})

    with pytest.raises(PreconditionFailed):
        update_app(store, clock, dev, app.client_id, {"name": "Mine"}, expected_versions={read})
    assert get_app(store, dev, app.client_id).name == "By the operator"


def test_rotating_and_revoking_an_apps_secrets(
    store: Store, clock: FrozenClock, dev: Caller
) -> None:
    created = _app(store, clock, dev)
    app_id = created.client.client_id
    clock.advance(timedelta(minutes=1))

    rotated = rotate_app_secret(store, clock, dev, app_id, overlap=timedelta(hours=1))
    old, new = rotated.client.secrets
    assert old.expires_at == clock.now() + timedelta(hours=1)
    assert new.expires_at is None
    assert verify_client_secret(new.secret_hash, rotated.client_secret or "")

    with pytest.raises(ValidationError, match="current one"):
        revoke_app_secret(store, clock, dev, app_id, new.id)
    after = revoke_app_secret(store, clock, dev, app_id, old.id)
    assert after.secrets == (new,)


def test_deleting_an_app(store: Store, clock: FrozenClock, dev: Caller) -> None:
    app = _app(store, clock, dev).client
    with pytest.raises(PreconditionFailed):
        delete_app(store, clock, dev, app.client_id, expected_versions={"stale"})

    delete_app(store, clock, dev, app.client_id)

    assert list_apps(store, dev) == []
    with pytest.raises(NotFoundError):
        get_app(store, dev, app.client_id)
    with store.reading() as uow:
        [event] = uow.audit.list_events(10, events=("client.removed",))
    assert event.detail["actor"] == dev.actor


def test_a_change_to_the_same_settings_writes_and_records_nothing(
    store: Store, clock: FrozenClock, dev: Caller
) -> None:
    app = _app(store, clock, dev).client
    assert update_app(store, clock, dev, app.client_id, {"name": "Acme Shop"}) == app
    with store.reading() as uow:
        assert uow.audit.list_events(10, events=("client.changed",)) == []
