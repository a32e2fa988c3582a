"""/metrics tells an operator what happens to logins, not only to HTTP routes: logins by method
and result, lockouts, SMS sent and failed, tokens by grant and client type, refresh-token reuse,
back-channel deliveries, device and CIBA decisions — each driven here through the real pages and
endpoints, then read back the way Prometheus parses it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from idplus.application.app import create_app
from idplus.auth.sender import Message, OutboxSender
from idplus.clock import FrozenClock
from idplus.config import Settings
from tests.flows.forms import FormBrowser
from tests.harness import (
    PASSWORD,
    Harness,
    basic,
    code_from_login,
    exchange_code,
    redirect_params,
    refresh,
)
from tests.outbound.receiver import Receiver, pending, wait_until
from tests.protocol.ciba.helpers import PHONE, add_ciba_client, approve, start, started

Labels = frozenset[tuple[str, str]]
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class SwitchableSender:
    """The outbox file, or a failing SMS provider while `failing` is set."""

    def __init__(self, path: Path) -> None:
        self.outbox = OutboxSender(path)
        self.failing = False

    def send(self, message: Message) -> None:
        if self.failing:
            raise ConnectionError("the SMS provider is down")
        self.outbox.send(message)


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    """Both backends; two delivery attempts, and a worker that looks for due retries often."""
    update = {"database_url": database_url, "delivery_attempts": 2, "outbox_poll_seconds": 0.05}
    return settings.model_copy(update=update)


@pytest.fixture
def sender(settings: Settings) -> SwitchableSender:
    return SwitchableSender(settings.outbox)


@pytest.fixture
def client(
    settings: Settings, clock: FrozenClock, sender: SwitchableSender
) -> Iterator[TestClient]:
    app = create_app(settings, clock=clock, sender=sender)
    with TestClient(app, base_url=settings.issuer, follow_redirects=False) as test_client:
        yield test_client


def scrape(h: Harness) -> dict[str, dict[Labels, float]]:
    """Every counter's `_total` samples: name → labels → value."""
    response = h.http.get("/metrics")
    assert response.status_code == 200
    counters: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name.endswith("_total"):
                labels = frozenset(sample.labels.items())
                counters.setdefault(sample.name, {})[labels] = sample.value
    return counters


def labels(**values: str) -> Labels:
    return frozenset(values.items())


def test_logins_are_counted_by_method_and_result_with_their_sms(harness: Harness) -> None:
    harness.add_client("spa")
    harness.add_user("+4790000001", otp_required=True)
    harness.add_user("+4790000002")
    browser = harness.browser()
    browser.get(harness.authorize_url())
    browser.submit({"username": "+4790000001", "password": "wrong"}, ("action", "login"))
    assert 'name="otp"' in harness.login(browser).text
    browser.submit({"otp": "000000"}, ("action", "verify"))
    code = harness.outbox()[-1]["code"]
    assert "code" in redirect_params(browser.submit({"otp": code}, ("action", "verify")))
    harness.http.cookies.clear()
    code_from_login(harness, username="+4790000002")

    metrics = scrape(harness)

    assert metrics["idplus_logins_total"] == {
        labels(method="password", result="invalid_credentials"): 1,
        labels(method="password_sms_code", result="otp_invalid"): 1,
        labels(method="password_sms_code", result="success"): 1,
        labels(method="password", result="success"): 1,
    }
    assert metrics["idplus_sms_total"] == {labels(purpose="login_code", result="sent"): 1}


def test_a_lockout_is_counted_once_however_often_the_lock_refuses(harness: Harness) -> None:
    harness.add_client("spa")
    harness.add_user()
    browser = harness.browser()
    browser.get(harness.authorize_url())
    for _ in range(5):
        browser.submit({"username": "+4790000001", "password": "wrong"}, ("action", "login"))
    assert scrape(harness)["idplus_lockouts_total"] == {labels(scope="username"): 1}
    for _ in range(3):
        assert harness.login(browser).status_code == 429

    metrics = scrape(harness)

    assert metrics["idplus_lockouts_total"] == {labels(scope="username"): 1}
    assert metrics["idplus_logins_total"] == {
        labels(method="password", result="invalid_credentials"): 5,
        labels(method="password", result="locked"): 3,
    }


def test_sms_that_fail_are_counted_apart_from_those_sent(
    harness: Harness, sender: SwitchableSender
) -> None:
    add_ciba_client(harness)
    harness.add_user(PHONE)
    sender.failing = True
    assert start(harness).status_code == 503
    sender.failing = False
    started(harness)

    assert scrape(harness)["idplus_sms_total"] == {
        labels(purpose="ciba", result="failed"): 1,
        labels(purpose="ciba", result="sent"): 1,
    }


def test_tokens_are_counted_by_grant_client_type_and_token_and_reuse_by_client_type(
    harness: Harness,
) -> None:
    harness.add_client("app", client_type="MobileApp", scopes=["openid", "offline_access"])
    secret = harness.add_client(
        "svc", client_type="Confidential", grant_types=["client_credentials"]
    )
    assert secret is not None
    harness.add_user()
    code = code_from_login(harness, "app", scope="openid offline_access")
    first = exchange_code(harness, code, "app").json()["refresh_token"]
    assert refresh(harness, first, "app").status_code == 200
    assert refresh(harness, first, "app").json()["error"] == "invalid_grant"  # reused
    form = {"grant_type": "client_credentials"}
    assert harness.http.post("/connect/token", data=form, headers=basic("svc", secret)).is_success

    metrics = scrape(harness)

    code_grant = {"grant_type": "authorization_code", "client_type": "MobileApp"}
    refresh_grant = {"grant_type": "refresh_token", "client_type": "MobileApp"}
    every = ("access_token", "refresh_token", "id_token")
    assert metrics["idplus_tokens_issued_total"] == {
        **{labels(**code_grant, token=token): 1 for token in every},
        **{labels(**refresh_grant, token=token): 1 for token in every},
        labels(
            grant_type="client_credentials", client_type="Confidential", token="access_token"
        ): 1,
    }
    assert metrics["idplus_refresh_token_reuse_total"] == {labels(client_type="MobileApp"): 1}


def test_the_gateway_counts_its_tokens_under_its_own_grant_types(harness: Harness) -> None:
    harness.add_api_products("api:tv")
    secret = harness.add_client("partner", client_type="Confidential", api_access=True,
                                grant_types=["client_credentials"], scopes=["api:tv"])  # fmt: skip
    assert secret is not None
    form = {"grant_type": "client_credentials", "scope": "api:tv"}
    answer = harness.http.post("/oauth/v2/token", data=form, headers=basic("partner", secret))
    assert answer.status_code == 200, answer.text

    assert scrape(harness)["idplus_tokens_issued_total"] == {
        labels(grant_type="client_credentials", client_type="Confidential", token="access_token"): 1
    }


def test_a_back_channel_logout_that_fails_is_retried_then_abandoned(harness: Harness) -> None:
    failing = Receiver(status=500)
    try:
        harness.add_client("app", client_type="MobileApp", scopes=["openid"], one_telenor=True)
        harness.add_client("tv", silent_sso=True, one_telenor=True,
                           backchannel_logout_uri=failing.uri)  # fmt: skip
        harness.add_user()
        id_token = exchange_code(harness, code_from_login(harness, "app"), "app").json()["id_token"]
        code_from_login(harness, "tv")  # SSO: the tv client joins the session
        harness.http.get("/connect/endsession", params={"id_token_hint": id_token})

        def given_up() -> bool:
            harness.clock.advance(timedelta(seconds=60))  # the retry is due
            return pending(harness.settings.database_url) == 0

        wait_until(given_up, "the outbox to give up")
    finally:
        failing.close()

    assert scrape(harness)["idplus_backchannel_deliveries_total"] == {
        labels(kind="backchannel_logout", result="retried"): 1,
        labels(kind="backchannel_logout", result="abandoned"): 1,
    }


def _device_decision(h: Harness, action: str) -> None:
    answer = h.http.post("/connect/deviceauthorization", data={"client_id": "tv"})
    user_code: str = answer.json()["user_code"]
    browser = FormBrowser(h.http, "https://nowhere.invalid")
    browser.get("/device")
    page: Any = browser.submit({"user_code": user_code}, ("action", "continue"))
    if 'name="password"' in page.text:
        page = browser.submit({"username": PHONE, "password": PASSWORD}, ("action", "login"))
    assert f'value="{action}"' in page.text, page.text[:400]
    browser.submit(button=("action", action))


def test_device_decisions_are_counted(harness: Harness) -> None:
    harness.add_client("tv", client_type="MobileApp", grant_types=[DEVICE_GRANT],
                       scopes=["openid"], redirect_uris=[])  # fmt: skip
    harness.add_user(PHONE)
    _device_decision(harness, "approve")
    _device_decision(harness, "deny")
    _device_decision(harness, "deny")

    assert scrape(harness)["idplus_device_decisions_total"] == {
        labels(decision="approved"): 1,
        labels(decision="denied"): 2,
    }


def test_ciba_decisions_are_counted(harness: Harness) -> None:
    add_ciba_client(harness)
    harness.add_user(PHONE)
    started(harness)
    approve(harness)
    harness.http.cookies.clear()
    started(harness)
    approve(harness, action="deny")

    assert scrape(harness)["idplus_ciba_decisions_total"] == {
        labels(decision="approved"): 1,
        labels(decision="denied"): 1,
    }
