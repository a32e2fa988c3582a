"""Prometheus metrics count requests by route template, not by raw path."""

from __future__ import annotations

from starlette.testclient import TestClient


def test_requests_are_counted_by_route_and_status(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/no/such/path/123")

    body = client.get("/metrics").text

    assert 'idplus_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in body
    assert 'route="unmatched",status="404"' in body
    assert "/no/such/path/123" not in body
    assert "idplus_http_request_duration_seconds_bucket" in body
