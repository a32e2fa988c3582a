"""Reaching the page renderer from a request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

if TYPE_CHECKING:  # pages → cookies → context: only the type is needed here
    from idplus.ui.pages import Pages


def pages_of(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages
