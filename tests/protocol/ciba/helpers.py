"""A CIBA client, its users, and the steps of the flow over HTTP, for the CIBA tests."""

from __future__ import annotations

import re
from typing import Any

from tests.flows.forms import FormBrowser
from tests.harness import PASSWORD, Harness, basic

CIBA_GRANT = "urn:openid:params:grant-type:ciba"
SECRET = "shop-secret-0123456789"
PHONE = "+4790000001"


def add_ciba_client(h: Harness, client_id: str = "shop", **fields: Any) -> None:
    fields.setdefault("grant_types", [CIBA_GRANT, "refresh_token"])
    fields.setdefault("scopes", ["openid", "vipps", "bankid", "offline_access", "profile"])
    h.add_client(
        client_id,
        client_type="Confidential",
        secret=SECRET,
        ciba_enabled=True,
        redirect_uris=[],
        name="Telenor Shop",
        **fields,
    )


def start(h: Harness, client_id: str = "shop", **form: str) -> Any:
    data = {"scope": "openid vipps", "login_hint": "90000001", **form}
    return h.http.post("/connect/ciba", data=data, headers=basic(client_id, SECRET))


def started(h: Harness, **form: str) -> dict[str, Any]:
    response = start(h, **form)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def poll(h: Harness, auth_req_id: str, client_id: str = "shop") -> Any:
    data = {"grant_type": CIBA_GRANT, "auth_req_id": auth_req_id}
    return h.http.post("/connect/token", data=data, headers=basic(client_id, SECRET))


def approval_link(h: Harness) -> str:
    """The approval URL of the newest SMS, as a path on the test server."""
    body = h.outbox()[-1]["body"]
    url = re.search(r"https?://\S+", body)
    assert url is not None, body
    return url.group(0).removeprefix(h.settings.issuer)


def approve(
    h: Harness,
    *,
    action: str = "approve",
    username: str = PHONE,
    browser: FormBrowser | None = None,
    otp: bool = False,
) -> Any:
    """Open the newest approval link, log in, and press `action`; the last page."""
    browser = browser or FormBrowser(h.http, "https://nowhere.invalid")
    page = browser.get(approval_link(h))
    if 'name="password"' in page.text:
        page = browser.submit({"username": username, "password": PASSWORD}, ("action", "login"))
    if otp and 'name="otp"' in page.text:
        code = h.outbox()[-1]["code"]
        page = browser.submit({"otp": code}, ("action", "verify"))
    if f'value="{action}"' not in page.text:
        return page
    return browser.submit(button=("action", action))
