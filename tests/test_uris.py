"""Registered redirect URIs: absolute, no fragment, https except loopback, private-use for apps."""

from __future__ import annotations

import pytest

from idplus.errors import ValidationError
from idplus.uris import is_internal_host, validate_registered_uri


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


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST.",
        "metrics.localhost",
        "127.0.0.1",
        "127.1",  # the short forms resolvers read as IPv4
        "2130706433",
        "0x7f.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - a host to refuse, not to bind
        "224.0.0.251",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:10.0.0.1",  # IPv4 written as IPv6
        "2002:a00:1::",
    ],
)
def test_hosts_inside_idplus_network(host: str) -> None:
    assert is_internal_host(host)


@pytest.mark.parametrize(
    "host", [None, "", "rp.example", "localhost.rp.example", "93.184.216.34", "2606:4700::1111"]
)
def test_hosts_on_the_internet(host: str | None) -> None:
    assert not is_internal_host(host)
