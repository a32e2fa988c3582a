"""Back-channel logout as an outbox delivery (OpenID Connect Back-Channel Logout 1.0 §2.5):
the signed logout token is POSTed as form data to the client's back-channel logout URI.

The token is signed when the session ends and stored with the delivery, in the same unit of
work; the outbox worker sends it afterwards, so a slow or failing RP never delays the logout.
"""

from __future__ import annotations

from datetime import datetime

import httpx

from idplus.config import Settings
from idplus.models import Delivery
from idplus.outbound.delivery import due_now

KIND = "backchannel_logout"


def logout_delivery(
    delivery_id: str, uri: str, logout_token: str, client_id: str, now: datetime
) -> Delivery:
    """A pending delivery of `logout_token` to `uri`, due at once."""
    return due_now(KIND, delivery_id, uri, {"logout_token": logout_token}, client_id, now)


async def post_logout_token(
    http: httpx.AsyncClient, delivery: Delivery, _settings: Settings
) -> httpx.Response:
    return await http.post(
        delivery.target,
        data={"logout_token": delivery.payload["logout_token"]},
        headers={"Cache-Control": "no-store"},
    )
