"""Prometheus metrics count requests by route template, not by raw path, and outside
development only the scraper holding IDPLUS_METRICS_TOKEN may read them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from idplus.application.app import create_app
from idplus.clock import FrozenClock
from idplus.config import Settings

PUBLIC_ISSUER = "https://id.example.no"
SCRAPE_TOKEN = "scrape-token-of-decent-length"


def test_requests_are_counted_by_route_and_status(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/no/such/path/123")

    body = client.get("/metrics").text

    assert 'idplus_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in body
    assert 'route="unmatched",status="404"' in body
    assert "/no/such/path/123" not in body
    assert "idplus_http_request_duration_seconds_bucket" in body


@contextmanager
def _serve(settings: Settings, clock: FrozenClock, **update: object) -> Iterator[TestClient]:
    production = {
        "issuer": PUBLIC_ISSUER,
        "secret_key": SecretStr("cookie-key-from-the-vault"),
        "key_encryption_key": SecretStr("kek-from-the-vault"),
    }
    app = create_app(settings.model_copy(update={**production, **update}), clock=clock)
    with TestClient(app, base_url=str(update.get("issuer", PUBLIC_ISSUER))) as client:
        yield client


@pytest.fixture
def scraped(settings: Settings, clock: FrozenClock) -> Iterator[TestClient]:
    with _serve(settings, clock, metrics_token=SecretStr(SCRAPE_TOKEN)) as client:
        yield client


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {SCRAPE_TOKEN}", f"Bearer {SCRAPE_TOKEN}x", "Bearer "],
)
def test_metrics_of_a_public_issuer_refuse_a_scraper_without_the_token(
    scraped: TestClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = scraped.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "idplus_http_requests" not in response.text


def test_metrics_of_a_public_issuer_answer_the_token_holder(scraped: TestClient) -> None:
    response = scraped.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
    assert response.status_code == 200
    assert "idplus_http_requests" in response.text


@pytest.mark.parametrize("issuer", [PUBLIC_ISSUER, "http://id.example.no"])
def test_metrics_of_a_public_issuer_without_a_token_are_not_found(
    settings: Settings, clock: FrozenClock, issuer: str
) -> None:
    with _serve(settings, clock, issuer=issuer) as client:
        response = client.get("/metrics")
        assert response.status_code == 404
        assert "idplus_http_requests" not in response.text


def test_a_configured_token_is_required_on_a_loopback_issuer_too(
    settings: Settings, clock: FrozenClock
) -> None:
    app = create_app(
        settings.model_copy(update={"metrics_token": SecretStr(SCRAPE_TOKEN)}), clock=clock
    )
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 401
        bearer = {"Authorization": f"bearer {SCRAPE_TOKEN}"}
        assert client.get("/metrics", headers=bearer).status_code == 200


def test_metrics_are_not_on_the_public_port_when_a_metrics_port_is_set(
    settings: Settings, clock: FrozenClock
) -> None:
    """Even for the token holder: the scraper is sent to the private port."""
    with _serve(
        settings, clock, metrics_port=9100, metrics_token=SecretStr(SCRAPE_TOKEN)
    ) as client:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
        assert response.status_code == 404
        assert "idplus_http_requests" not in response.text


def test_made_up_methods_are_counted_as_other(client: TestClient) -> None:
    """Each invented method would otherwise be a new series for ever."""
    for method in ("X0", "X1", "BREW"):
        client.request(method, "/healthz")

    body = client.get("/metrics").text

    assert 'idplus_http_requests_total{method="other",route="/healthz",status="405"} 3.0' in body
    assert 'method="X0"' not in body
