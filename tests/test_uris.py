"""Registered redirect URIs: absolute, no fragment, https except loopback, private-use for apps."""

from __future__ import annotations

import pytest

from idplus.errors import ValidationError
from idplus.uris import validate_registered_uri


@pytest.mark.parametrize(
    "uri",
    [
        "https://rp.example/cb",
        "https://rp.example:8443/cb?x=1",
        "http://127.0.0.1/cb",
        "http://127.0.0.1:51234/cb",
        "http://[::1]:8080/cb",
        "http://localhost:3000/cb",
    ],
)
def test_web_redirects_that_are_accepted(uri: str) -> None:
    assert validate_registered_uri(uri, what="redirect URI", allow_private_use=False) == uri


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("/relative/cb", "absolute"),
        ("https://rp.example/cb#frag", "fragment"),
        ("http://rp.example/cb", "https"),
        ("https:///cb", "no host"),
        ("javascript://alert(1)", "forbidden"),
        ("data:text/html,hi", "forbidden"),
        ("com.example.app:/cb", "MobileApp"),
        ("https://rp.example:99999/cb", "not a valid URI"),
        ("http://evil.example\\@127.0.0.1/cb", "userinfo"),
        ("https://user@rp.example/cb", "userinfo"),
        ("https://rp.example/c b", "userinfo"),
    ],
)
def test_web_redirects_that_are_refused(uri: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        validate_registered_uri(uri, what="redirect URI", allow_private_use=False)


def test_native_apps_may_use_reverse_domain_private_use_schemes() -> None:
    uri = "com.example.app:/oauth2redirect"
    assert validate_registered_uri(uri, what="redirect URI", allow_private_use=True) == uri
    with pytest.raises(ValidationError, match="reversed domain"):
        validate_registered_uri("myapp:/cb", what="redirect URI", allow_private_use=True)
