"""CIBA ping notifications as outbox deliveries (CIBA Core 1.0 §10.2): once the user has
decided, POST `{"auth_req_id": …}` to the client's notification endpoint with its
client_notification_token as Bearer. Both values stay sealed in the delivery's payload until
the moment of sending."""

from __future__ import annotations

import json
from datetime import datetime

import httpx

from idplus.config import Settings
from idplus.crypto.secrets import open_secret
from idplus.models import Delivery
from idplus.outbound.delivery import due_now

KIND = "ciba_ping"


def ping_delivery(
    delivery_id: str, endpoint: str, sealed: str, client_id: str, now: datetime
) -> Delivery:
    """A pending ping of the request whose auth_req_id and token `sealed` holds, due at once."""
    return due_now(KIND, delivery_id, endpoint, {"sealed": sealed}, client_id, now)


async def post_ping(
    http: httpx.AsyncClient, delivery: Delivery, settings: Settings
) -> httpx.Response:
    opened = json.loads(
        open_secret(str(delivery.payload["sealed"]), settings.key_encryption_key_value)
    )
    return await http.post(
        delivery.target,
        json={"auth_req_id": opened["auth_req_id"]},
        headers={
            "Authorization": f"Bearer {opened['client_notification_token']}",
            "Cache-Control": "no-store",
        },
    )
