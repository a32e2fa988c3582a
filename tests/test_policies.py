"""The SPEC §1–2 tables, pinned row by row."""

from __future__ import annotations

from datetime import timedelta

import pytest

from idplus.policies import (
    CLIENT_TYPE_RULES,
    REFRESH_POLICIES,
    ClientType,
    OAuthClientType,
    RefreshPolicyName,
    is_api_scope,
    rules_for,
)


@pytest.mark.parametrize(
    ("client_type", "oauth_type", "policy"),
    [
        (ClientType.PUBLIC, OAuthClientType.PUBLIC, RefreshPolicyName.NO_REFRESH),
        (ClientType.PUBLIC_WITH_REFRESH, OAuthClientType.PUBLIC, RefreshPolicyName.PUBLIC_WEB),
        (ClientType.CONFIDENTIAL, OAuthClientType.CONFIDENTIAL, RefreshPolicyName.CONFIDENTIAL),
        (ClientType.MOBILE_APP, OAuthClientType.PUBLIC, RefreshPolicyName.MOBILE),
    ],
)
def test_client_type_maps_to_oauth_type_and_refresh_policy(
    client_type: ClientType, oauth_type: OAuthClientType, policy: RefreshPolicyName
) -> None:
    rules = rules_for(client_type)
    assert rules.oauth_type is oauth_type
    assert rules.refresh_policy.name is policy


def test_undefined_is_never_a_usable_client_type() -> None:
    assert ClientType.UNDEFINED not in CLIENT_TYPE_RULES
    with pytest.raises(KeyError):
        rules_for(ClientType.UNDEFINED)


@pytest.mark.parametrize(
    ("policy", "issues", "sliding", "lifetime"),
    [
        (RefreshPolicyName.NO_REFRESH, False, False, timedelta(0)),
        (RefreshPolicyName.CONFIDENTIAL, True, False, timedelta(days=14)),
        (RefreshPolicyName.MOBILE, True, True, timedelta(days=90)),
        (RefreshPolicyName.PUBLIC_WEB, True, True, timedelta(minutes=10)),
        (RefreshPolicyName.WEB, True, True, timedelta(minutes=10)),
    ],
)
def test_refresh_policy_table(
    policy: RefreshPolicyName, issues: bool, sliding: bool, lifetime: timedelta
) -> None:
    rules = REFRESH_POLICIES[policy]
    assert (rules.issues_refresh_token, rules.sliding, rules.lifetime) == (
        issues,
        sliding,
        lifetime,
    )


def test_public_clients_refresh_tokens_rotate_and_confidential_ones_do_not() -> None:
    assert REFRESH_POLICIES[RefreshPolicyName.MOBILE].rotates
    assert REFRESH_POLICIES[RefreshPolicyName.PUBLIC_WEB].rotates
    assert not REFRESH_POLICIES[RefreshPolicyName.CONFIDENTIAL].rotates


def test_web_is_an_alias_of_public_web() -> None:
    assert REFRESH_POLICIES[RefreshPolicyName.WEB] is REFRESH_POLICIES[RefreshPolicyName.PUBLIC_WEB]


def test_mobile_logins_keep_the_sso_cookie_for_90_days() -> None:
    assert rules_for(ClientType.MOBILE_APP).sso_cookie_lifetime == timedelta(days=90)
    assert rules_for(ClientType.CONFIDENTIAL).sso_cookie_lifetime is None


@pytest.mark.parametrize(
    ("scope", "expected"), [("api:tv", True), ("api:", False), ("openid", False)]
)
def test_api_scopes_start_with_api_prefix(scope: str, expected: bool) -> None:
    assert is_api_scope(scope) is expected
