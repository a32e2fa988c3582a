"""The icon browsers ask every site for: without it each page view also logs a 404."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

FAVICON_PATH = "/favicon.ico"
ICON = Path(__file__).parent / "static" / "favicon.svg"


@cache
def _icon() -> bytes:
    return ICON.read_bytes()


async def favicon(_request: Request) -> Response:
    # Browsers take an SVG icon at any path when its type says so (the pages link it with
    # type="image/svg+xml"); a day's caching keeps it off the request path.
    return Response(
        _icon(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )
