"""What an authorization request needs from the user (OIDC Core §3.1.2.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from idplus.auth.providers import LOCAL_PROVIDER, ProviderInfo, ProviderKind
from idplus.errors import InteractionRequired, LoginRequired, UnmetAuthenticationRequirements
from idplus.models import AuthorizationRequest, Client, SsoSession
from idplus.policies import ClientType
from idplus.protocol.interaction import Route, Stage, decide_first_stage

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def _request(**fields: object) -> AuthorizationRequest:
    values: dict[str, object] = {
        "client_id": "app",
        "redirect_uri": "https://rp.example/cb",
        "response_type": "code",
        "response_mode": "query",
        "scopes": ("openid",),
    }
    values.update(fields)
    return AuthorizationRequest(**values)  # type: ignore[arg-type]


def _client(silent_sso: bool = False) -> Client:
    return Client("app", "App", ClientType.PUBLIC, silent_sso=silent_sso)


def _session(acr: str = "urn:telenor.identity.aal.1", idp: str = "local") -> SsoSession:
    return SsoSession(
        id="sid",
        user_id="u",
        sso_group="client:app",
        auth_time=NOW - timedelta(minutes=10),
        acr=acr,
        amr=("urn:telenor.identity.amr.td_pwd",),
        idp=idp,
        persistent=False,
        lifetime_seconds=3600,
        created_at=NOW,
        last_seen_at=NOW,
        expires_at=NOW + timedelta(hours=1),
    )


def _provider(provider_id: str) -> ProviderInfo:
    """`local`, or an upstream whose level is the digit its id ends with (1 without one)."""
    if provider_id == "local":
        return LOCAL_PROVIDER
    level = int(provider_id[-1]) if provider_id[-1].isdigit() else 1
    return ProviderInfo(provider_id, {"en": provider_id}, ProviderKind.UPSTREAM, level)


def _route(request: AuthorizationRequest, session: SsoSession | None, **kw: object) -> Route | None:
    client = _client(bool(kw.get("silent_sso", False)))
    providers = [_provider(p) for p in kw.get("providers", ["local"])]  # type: ignore[attr-defined]
    return decide_first_stage(request, client, session, NOW, providers)


def _decide(
    request: AuthorizationRequest, session: SsoSession | None, **kw: object
) -> Stage | None:
    """The first stage of the login, or None when the request completes without a page."""
    route = _route(request, session, **kw)
    return route.stage if route is not None else None


def test_no_session_needs_a_login_or_a_provider_choice() -> None:
    assert _decide(_request(), None) is Stage.LOGIN
    assert _decide(_request(), None, providers=["local", "bankid"]) is Stage.SELECT_PROVIDER
    with_idp = _request(requested_idp="bankid")
    assert _decide(with_idp, None, providers=["local", "bankid"]) is Stage.LOGIN


def test_session_gives_continue_page_or_silent_completion() -> None:
    assert _decide(_request(), _session()) is Stage.CONTINUE
    assert _decide(_request(), _session(), silent_sso=True) is None


def test_prompt_login_max_age_and_other_idp_force_a_login() -> None:
    assert _decide(_request(prompt=("login",)), _session(), silent_sso=True) is Stage.LOGIN
    assert _decide(_request(max_age=300), _session(), silent_sso=True) is Stage.LOGIN
    assert _decide(_request(max_age=3600), _session(), silent_sso=True) is None
    other = _request(requested_idp="bankid")
    assert _decide(other, _session(), silent_sso=True, providers=["local", "bankid"]) is Stage.LOGIN


def test_higher_acr_gives_a_step_up() -> None:
    assert _decide(_request(requested_aal=2), _session(), silent_sso=True) is Stage.STEP_UP
    strong = _session(acr="urn:telenor.identity.aal.2")
    assert _decide(_request(requested_aal=2), strong, silent_sso=True) is None


def test_prompt_none() -> None:
    none = _request(prompt=("none",))
    with pytest.raises(LoginRequired):
        _decide(none, None)
    with pytest.raises(LoginRequired):
        _decide(_request(prompt=("none",), requested_aal=2), _session(), silent_sso=True)
    with pytest.raises(InteractionRequired):
        _decide(none, _session())
    assert _decide(none, _session(), silent_sso=True) is None


def test_an_idp_the_client_does_not_allow_shows_the_selection_page() -> None:
    foreign = _request(requested_idp="elsewhere")
    assert _route(foreign, None) == Route(Stage.SELECT_PROVIDER)
    assert _route(foreign, None, providers=["local", "bankid"]) == Route(Stage.SELECT_PROVIDER)
    with pytest.raises(LoginRequired):
        _route(_request(requested_idp="elsewhere", prompt=("none",)), _session())


def test_a_login_goes_only_to_providers_that_reach_the_requested_level() -> None:
    providers = ["local", "tid1", "bankid3"]
    assert _route(_request(requested_aal=3), None, providers=providers) == Route(
        Stage.LOGIN, "bankid3"
    )
    assert _route(_request(requested_aal=2), None, providers=providers) == Route(
        Stage.SELECT_PROVIDER
    )
    # Asking for a provider that cannot reach the level: choose among those that can.
    weak = _request(requested_aal=3, requested_idp="tid1")
    assert _route(weak, None, providers=providers) == Route(Stage.SELECT_PROVIDER)


def test_no_provider_reaching_the_level_is_unmet_authentication_requirements() -> None:
    with pytest.raises(UnmetAuthenticationRequirements):
        _route(_request(requested_aal=3), None)
    with pytest.raises(UnmetAuthenticationRequirements):
        _route(_request(requested_aal=2), None, providers=["tid1"])
    # prompt=none never shows a page, so it is login_required first.
    with pytest.raises(LoginRequired):
        _route(_request(requested_aal=3, prompt=("none",)), None)


def test_a_step_up_beyond_the_sessions_provider_logs_in_with_one_that_reaches_it() -> None:
    upstream_session = _session(idp="tid1")
    providers = ["tid1", "local"]
    route = _route(_request(requested_aal=2), upstream_session, providers=providers)
    assert route == Route(Stage.LOGIN, "local")
    with pytest.raises(UnmetAuthenticationRequirements):
        _route(_request(requested_aal=2), upstream_session, providers=["tid1"])
    with pytest.raises(LoginRequired):
        _route(_request(requested_aal=2, prompt=("none",)), upstream_session, providers=providers)


def test_an_upstream_session_below_its_own_providers_level_logs_in_there_again() -> None:
    # The operator raised the provider's level after the session began.
    session = _session(idp="bankid3", acr="urn:telenor.identity.aal.1")
    route = _route(_request(requested_aal=3), session, providers=["bankid3"], silent_sso=True)
    assert route == Route(Stage.LOGIN, "bankid3")
