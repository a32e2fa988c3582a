"""Scopes in words for the approval pages: none hidden, none repeated, unknown ones verbatim."""

from __future__ import annotations

from idplus.policies import IDENTITY_SCOPES
from idplus.protocol.scope_descriptions import (
    FLOW_SCOPES,
    SCOPE_WORDS,
    ScopeLine,
    describe_scopes,
)


def _same(text: str) -> str:
    return text


def test_every_identity_scope_has_words_or_grants_nothing() -> None:
    assert set(IDENTITY_SCOPES) == set(SCOPE_WORDS) | FLOW_SCOPES


def test_lines_keep_the_order_asked_for_and_say_each_thing_once() -> None:
    lines = describe_scopes(["offline_access", "openid", "ial1", "ial2", "vipps"], _same)
    assert lines == (
        ScopeLine("keep you logged in"),
        ScopeLine("know who you are"),
        ScopeLine("see how surely your identity is confirmed"),
    )


def test_api_scopes_name_the_api_and_unknown_scopes_are_shown_as_they_are() -> None:
    assert describe_scopes(["api:mobile-product-v2", "custom.read"], _same) == (
        ScopeLine("use mobile-product-v2 on your behalf"),
        ScopeLine("custom.read", verbatim=True),
    )
