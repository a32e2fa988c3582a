"""A login that cannot go on still knows the app it came from, so its error page leads back
there; a callback that matches no login knows no language, so the page picks one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest

from idplus.crypto.hashing import PasswordHashSlots
from idplus.protocol.authenticators.upstream import callback
from idplus.protocol.context import AppContext
from idplus.protocol.login.machine import show
from idplus.protocol.login.results import BrowserRedirect, Busy, UpstreamFailed
from tests.protocol.federation.fake_upstream import FakeUpstream, wired_to
from tests.protocol.login.driver import BROWSER, Browser, add_login_user, add_web_client


@pytest.fixture
def fake(context: AppContext) -> FakeUpstream:
    return FakeUpstream(context.clock.now())


@pytest.fixture
def ctx(context: AppContext, fake: FakeUpstream) -> Iterator[AppContext]:
    yield from wired_to(context, fake)


def test_a_login_shed_for_load_names_its_app_and_language(context: AppContext) -> None:
    ctx = replace(context, hash_slots=PasswordHashSlots(1))
    add_web_client(ctx)
    add_login_user(ctx)
    browser = Browser(ctx)
    handle = browser.authorize(ui_locales="no")
    with ctx.hash_slots.slot():
        result = browser.log_in(handle)
    assert isinstance(result, Busy), result
    assert (result.locale, result.client.client_id) == ("nb", "web")


def test_an_upstream_that_is_down_names_the_app(ctx: AppContext, fake: FakeUpstream) -> None:
    add_web_client(ctx, providers=("local", "up"))
    fake.down = True
    result = show(ctx, Browser(ctx).authorize(acr_values="idp:up", ui_locales="no"), BROWSER)
    assert isinstance(result, UpstreamFailed), result
    assert (result.locale, result.client and result.client.client_id) == ("nb", "web")


def test_a_failed_callback_of_a_login_names_its_app_and_language(
    ctx: AppContext, fake: FakeUpstream
) -> None:
    add_web_client(ctx, providers=("local", "up"))
    redirect = show(ctx, Browser(ctx).authorize(acr_values="idp:up", ui_locales="no"), BROWSER)
    assert isinstance(redirect, BrowserRedirect), redirect
    query = {k: v[0] for k, v in parse_qs(urlsplit(redirect.url).query).items()}
    fake.claims = {"nonce": query["nonce"], "aud": "someone-else"}
    result = callback(ctx, "up", BROWSER, {"state": query["state"], "code": "c-1"})
    assert isinstance(result, UpstreamFailed), result
    assert (result.locale, result.client and result.client.client_id) == ("nb", "web")


@pytest.mark.parametrize("state", ["", "unknown"])
def test_a_callback_of_no_login_leaves_language_and_app_to_the_page(
    ctx: AppContext, state: str
) -> None:
    result = callback(ctx, "up", BROWSER, {"state": state, "code": "c-1"})
    assert isinstance(result, UpstreamFailed), result
    assert (result.locale, result.client) == (None, None)
