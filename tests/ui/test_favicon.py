from __future__ import annotations

from tests.harness import Harness


def test_browsers_get_an_icon_instead_of_a_404(harness: Harness) -> None:
    response = harness.http.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")
    assert "max-age" in response.headers["cache-control"]


def test_every_page_names_the_icon(harness: Harness) -> None:
    page = harness.http.get("/")
    assert '<link rel="icon" href="/favicon.ico" type="image/svg+xml">' in page.text
