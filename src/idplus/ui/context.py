"""Reaching the server context and page renderer from a request."""

from __future__ import annotations

from starlette.requests import Request

from idplus.protocol.context import ServerContext
from idplus.ui.pages import Pages


def server_of(request: Request) -> ServerContext:
    server: ServerContext = request.app.state.server
    return server


def pages_of(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages
