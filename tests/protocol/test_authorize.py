"""Authorization request validation: fatal versus redirectable errors, and the parsed request."""

from __future__ import annotations

import pytest

from idplus.errors import FatalAuthorizeError
from idplus.models import AuthorizationRequest, Client
from idplus.policies import ClientType
from idplus.protocol.authorize import (
    KnownClientRefused,
    RedirectableError,
    choose_ui_locale,
    registered_redirect_uri,
    validate_authorization_request,
    validate_client_and_redirect,
)
from idplus.protocol.params import parse_params
from idplus.protocol.pkce import s256_challenge

CHALLENGE = s256_challenge("v" * 43)


def _client(**fields: object) -> Client:
    values: dict[str, object] = {
        "client_id": "app",
        "name": "App",
        "client_type": ClientType.PUBLIC,
        "redirect_uris": ("https://rp.example/cb",),
        "scopes": ("openid", "profile", "offline_access"),
    }
    values.update(fields)
    return Client(**values)  # type: ignore[arg-type]


def _validate(client: Client, **params: str) -> AuthorizationRequest:
    base = {
        "client_id": client.client_id,
        "redirect_uri": "https://rp.example/cb",
        "response_type": "code",
        "scope": "openid",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    base.update(params)
    parsed = parse_params(base.items())
    redirect_uri = validate_client_and_redirect(parsed, client)
    return validate_authorization_request(parsed, client, redirect_uri)


def test_valid_request_is_parsed() -> None:
    request = _validate(
        _client(),
        scope="openid profile",
        state="s",
        nonce="n",
        prompt="login",
        max_age="60",
        ui_locales="nb-NO en",
        acr_values="urn:telenor.identity.aal.2 idp:local",
        login_hint="+4790000001",
    )
    assert request.scopes == ("openid", "profile")
    assert request.prompt == ("login",)
    assert request.max_age == 60
    assert request.ui_locale == "nb"
    assert request.requested_aal == 2
    assert request.requested_idp == "local"
    assert request.response_mode == "query"


def test_unknown_client_is_fatal() -> None:
    with pytest.raises(FatalAuthorizeError):
        validate_client_and_redirect(parse_params([("client_id", "x")]), None)


def test_pkce_is_optional_for_confidential_clients_but_plain_never_allowed() -> None:
    confidential = _client(client_type=ClientType.CONFIDENTIAL)
    _validate(confidential, code_challenge="", code_challenge_method="")
    with pytest.raises(RedirectableError) as caught:
        _validate(confidential, code_challenge_method="plain")
    assert caught.value.error.error == "invalid_request"


def test_error_target_keeps_state_and_response_mode() -> None:
    with pytest.raises(RedirectableError) as caught:
        _validate(_client(), scope="email", state="s1", response_mode="form_post")
    assert caught.value.error.error == "invalid_scope"
    assert caught.value.target.state == "s1"
    assert caught.value.target.response_mode == "form_post"


def test_api_scopes_need_an_api_access_client_subscribed_to_the_product() -> None:
    for client in (
        _client(api_products=("api:tv",)),
        _client(api_access=True),
        _client(api_access=True, api_products=("api:radio",)),
    ):
        with pytest.raises(RedirectableError) as caught:
            _validate(client, scope="openid api:tv")
        assert caught.value.error.error == "invalid_scope"
    _validate(_client(api_access=True, api_products=("api:tv",)), scope="openid api:tv")


def test_native_apps_may_vary_the_loopback_port_and_others_may_not() -> None:
    registered = ("http://127.0.0.1/cb", "http://[::1]:4000/cb?app=1")
    app = _client(client_type=ClientType.MOBILE_APP, redirect_uris=registered)
    spa = _client(redirect_uris=registered)
    assert registered_redirect_uri(app, "http://127.0.0.1:51234/cb") == "http://127.0.0.1:51234/cb"
    assert registered_redirect_uri(app, "http://[::1]:5/cb?app=1") == "http://[::1]:5/cb?app=1"
    assert registered_redirect_uri(app, "http://127.0.0.1:51234/other") is None
    assert registered_redirect_uri(app, "http://127.0.0.2:51234/cb") is None
    assert registered_redirect_uri(spa, "http://127.0.0.1:51234/cb") is None


@pytest.mark.parametrize(
    "attack",
    [
        # Browsers read the host as evil.com; urlsplit reads 127.0.0.1.
        "http://evil.com\\@127.0.0.1:9999/cb",
        "http://evil.com@127.0.0.1:9999/cb",
        "http://user:pw@127.0.0.1:9999/cb",
        "http://127.0.0.1:9999\\@evil.com/cb",
        "http://127.0.0.1:9999/cb#frag",
        "http://127.0.0.1:9999/cb/../cb",
        "http://127.0.0.1:9999/CB",
        "HTTP://127.0.0.1:9999/cb",
        "http://127.0.0.1:09999/cb",
        "http://127.0.0.1:9999/cb?extra=1",
        "http://127.0.0.1:9999//cb",
        "http://127.0.0.1:9999/cb\t",
        "http://0x7f.0.0.1:9999/cb",
        "http://127.1:9999/cb",
        "http://127.0.0.1:/cb",
    ],
)
def test_loopback_port_exception_refuses_a_lookalike_redirect_uri(attack: str) -> None:
    app = _client(client_type=ClientType.MOBILE_APP, redirect_uris=("http://127.0.0.1/cb",))
    assert registered_redirect_uri(app, attack) is None
    with pytest.raises(FatalAuthorizeError):
        _validate(app, redirect_uri=attack)


def test_loopback_redirect_is_rebuilt_from_the_registered_uri() -> None:
    app = _client(client_type=ClientType.MOBILE_APP, redirect_uris=("http://127.0.0.1/cb",))
    request = _validate(app, redirect_uri="http://127.0.0.1:9999/cb", response_mode="form_post")
    assert request.redirect_uri == "http://127.0.0.1:9999/cb"


@pytest.mark.parametrize(
    ("ui_locales", "locale"),
    [("no", "nb"), ("nb", "nb"), ("nn-NO", "nb"), ("en-GB no", "en"), ("sv", "en"), (None, "en")],
)
def test_ui_locale_choice(ui_locales: str | None, locale: str) -> None:
    assert choose_ui_locale(ui_locales) == locale


@pytest.mark.parametrize(
    ("ui_locales", "locale"), [(None, "nb"), ("", "nb"), ("en", "en"), ("sv", "en"), ("no", "nb")]
)
def test_without_ui_locales_the_browsers_language_is_used(
    ui_locales: str | None, locale: str
) -> None:
    """SPEC §5: the page passes the browser's language in; a given ui_locales still wins."""
    assert choose_ui_locale(ui_locales, "nb") == locale
    params = {
        "client_id": "app",
        "redirect_uri": "https://rp.example/cb",
        "response_type": "code",
        "scope": "openid",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    if ui_locales is not None:
        params["ui_locales"] = ui_locales
    parsed = parse_params(params.items())
    request = validate_authorization_request(parsed, _client(), "https://rp.example/cb", "nb")
    assert request.ui_locale == locale


def test_a_fatal_error_of_a_known_client_names_it_for_the_way_back() -> None:
    app = _client()
    with pytest.raises(KnownClientRefused) as caught:
        _validate(app, redirect_uri="https://evil.example/cb")
    assert caught.value.client == app
    assert "evil" not in caught.value.description
    with pytest.raises(FatalAuthorizeError) as unknown:
        validate_client_and_redirect(parse_params([("client_id", "x")]), None)
    assert not isinstance(unknown.value, KnownClientRefused)


def test_non_ascii_digits_are_protocol_errors_not_crashes() -> None:
    """ "²".isdigit() is True and int("²") raises: both places read digits strictly."""
    with pytest.raises(RedirectableError) as caught:
        _validate(_client(), max_age="\u00b2")
    assert caught.value.error.error == "invalid_request"
    request = _validate(_client(), acr_values="urn:telenor.identity.aal.\u00b2")
    assert request.requested_aal == 0
