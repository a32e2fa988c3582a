"""The debugger's calls to this server's endpoints, made over HTTP as a relying party makes
them: the code exchange and refresh (RFC 6749 §4.1.3, §6), userinfo (OIDC Core §5.3),
introspection (RFC 7662) and revocation (RFC 7009).

The requests pass through the whole application (middleware, routing, each endpoint's
adapters), so the debugger sees the status and body any client would; they travel over an
in-process ASGI transport rather than a socket to the issuer's address, which a container or
proxy may not route back, and which a test could not serve.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlsplit

import httpx
import structlog

from idplus.protocol.context import AppContext


@dataclass(frozen=True, slots=True)
class Answer:
    """What an endpoint answered: HTTP status and the JSON body (or its text, or None)."""

    request_line: str
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def json_object(self) -> dict[str, Any]:
        """The body when it is a JSON object, else an empty one."""
        return self.body if isinstance(self.body, dict) else {}


def endpoint_path(server: AppContext, name: str) -> str:
    """The path this application serves a discovery endpoint at (the issuer may have a path a
    proxy strips before the request reaches us)."""
    url = str(server.discovery[name])
    return url.removeprefix(server.settings.issuer) or "/"


class Endpoints:
    """One client's calls, authenticated as the token endpoint expects: HTTP Basic for a
    Confidential client (client_secret_basic), the client_id in the body for a public one."""

    def __init__(
        self, app: Any, server: AppContext, client_id: str, client_secret: str | None
    ) -> None:
        self._app = app
        self._server = server
        self._client_id = client_id
        self._client_secret = client_secret

    async def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> Answer:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        return await self._authenticated("token_endpoint", form)

    async def refresh(self, refresh_token: str) -> Answer:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return await self._authenticated("token_endpoint", form)

    async def introspect(self, token: str, hint: str) -> Answer:
        form = {"token": token, "token_type_hint": hint}
        return await self._authenticated("introspection_endpoint", form)

    async def revoke(self, token: str, hint: str) -> Answer:
        form = {"token": token, "token_type_hint": hint}
        return await self._authenticated("revocation_endpoint", form)

    async def userinfo(self, access_token: str) -> Answer:
        headers = {"Authorization": f"Bearer {access_token}"}
        return await self._send("GET", endpoint_path(self._server, "userinfo_endpoint"), headers)

    async def _authenticated(self, endpoint: str, form: dict[str, str]) -> Answer:
        headers: dict[str, str] = {}
        if self._client_secret is not None:
            headers["Authorization"] = _basic(self._client_id, self._client_secret)
        else:
            form = {**form, "client_id": self._client_id}
        return await self._send("POST", endpoint_path(self._server, endpoint), headers, form)

    async def _send(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        form: dict[str, str] | None = None,
    ) -> Answer:
        # A task of its own: the inner request binds and unbinds its own logging context
        # (request id), which must not leak into the page request that made the call.
        return await asyncio.create_task(self._request(method, path, headers, form))

    async def _request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        form: dict[str, str] | None,
    ) -> Answer:
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        if isinstance(request_id, str):
            headers = {**headers, "X-Request-Id": request_id}
        issuer = urlsplit(self._server.settings.issuer)
        transport = httpx.ASGITransport(app=self._app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url=f"{issuer.scheme}://{issuer.netloc}"
        ) as http:
            response = await http.request(method, path, headers=headers, data=form)
        return Answer(f"{method} {path}", response.status_code, _body(response))


def _basic(client_id: str, secret: str) -> str:
    # RFC 6749 §2.3.1: each part is form-urlencoded before the two are joined.
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def _body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return response.text
