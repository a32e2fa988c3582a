"""What an authorization request needs from the user (OIDC Core §3.1.2.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from idplus.errors import InteractionRequired, LoginRequired
from idplus.models import AuthorizationRequest, Client, SsoSession
from idplus.policies import ClientType
from idplus.protocol.interaction import Stage, decide_first_stage

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


def _decide(
    request: AuthorizationRequest, session: SsoSession | None, **kw: object
) -> Stage | None:
    """The first stage of the login, or None when the request completes without a page."""
    client = _client(bool(kw.get("silent_sso", False)))
    providers = kw.get("providers", ["local"])
    return decide_first_stage(request, client, session, NOW, providers)  # type: ignore[arg-type]


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
