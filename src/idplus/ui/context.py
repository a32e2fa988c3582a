"""Reaching the server context and page renderer from a request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from idplus.protocol.context import ServerContext

if TYPE_CHECKING:  # pages → cookies → context: only the type is needed here
    from idplus.ui.pages import Pages


def server_of(request: Request) -> ServerContext:
    server: ServerContext = request.app.state.server
    return server


def pages_of(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def client_address(request: Request) -> str | None:
    """The peer's address; uvicorn has already replaced it with X-Forwarded-For's when the
    peer is one of IDPLUS_TRUSTED_PROXIES, and only then."""
    return request.client.host if request.client else None
