"""The demo seed `make run` applies to an empty database."""

from __future__ import annotations

import secrets
from typing import Any

from idplus.clock import Clock
from idplus.config import Settings
from idplus.manage.api_products import add_api_product
from idplus.manage.clients import ClientRegistration, add_client
from idplus.manage.users import UserRegistration, add_user
from idplus.policies import ACCOUNT_CLIENT_ID
from idplus.store.base import Store

DEMO_USERNAME = "+4799999999"
DEMO_API_SCOPE = "api:demo"


def seed_demo(store: Store, settings: Settings, clock: Clock) -> dict[str, Any] | None:
    """Create the demo clients and user when the database has neither; None when it had."""
    with store.reading() as uow:
        registered = [c.client_id for c in uow.clients.list_all()]
        if uow.users.count() or set(registered) - {ACCOUNT_CLIENT_ID}:
            return None
    callback = f"{settings.issuer}/debugger/callback"
    add_api_product(store, clock, DEMO_API_SCOPE, name="demo API")
    web = add_client(
        store,
        clock,
        ClientRegistration(
            client_id="demo-web",
            client_type="Confidential",
            name="Demo web app",
            redirect_uris=[callback],
            post_logout_redirect_uris=[f"{settings.issuer}/debugger"],
            grant_types=["authorization_code", "refresh_token", "client_credentials"],
            scopes=["openid", "profile", "email", "phone", "offline_access", DEMO_API_SCOPE],
            api_access=True,
        ),
    )
    add_client(
        store,
        clock,
        ClientRegistration(
            client_id="demo-spa",
            client_type="Public",
            name="Demo single-page app",
            redirect_uris=[callback],
            post_logout_redirect_uris=[f"{settings.issuer}/debugger"],
        ),
    )
    password = secrets.token_urlsafe(12)
    add_user(
        store,
        clock,
        UserRegistration(
            username=DEMO_USERNAME,
            password=password,
            email="demo@example.com",
            given_name="Demo",
            family_name="Bruker",
            ial=2,
        ),
    )
    base, secret = settings.issuer, web.client_secret
    return {
        "examples": [
            f"curl -u demo-web:{secret} --data grant_type=client_credentials {base}/oauth/v2/token",
            f'curl -H "Authorization: Bearer ACCESS_TOKEN" {base}/oauth/v2/logout',
        ],
        "clients": [
            {"client_id": "demo-web", "client_secret": web.client_secret, "redirect_uri": callback},
            {"client_id": "demo-spa", "redirect_uri": callback},
        ],
        "user": {"username": DEMO_USERNAME, "password": password},
    }
