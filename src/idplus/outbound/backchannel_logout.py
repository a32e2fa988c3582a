"""Delivering logout tokens to relying parties: short timeout, a few retries, never raises.

Runs after the user's logout response is sent, so a slow or failing RP cannot delay or
break the user's logout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

import httpx

from idplus.logs import get_logger

log = get_logger("idplus.backchannel")

TIMEOUT_SECONDS = 5.0
ATTEMPTS = 3
FIRST_BACKOFF_SECONDS = 1.0


class Notice(Protocol):
    @property
    def uri(self) -> str: ...

    @property
    def logout_token(self) -> str: ...

    @property
    def client_id(self) -> str: ...


async def deliver_logout_notices(client: httpx.AsyncClient, notices: Sequence[Notice]) -> None:
    """`client`: the application's outbound client (TIMEOUT_SECONDS, no redirects followed)."""
    if not notices:
        return
    backoff = FIRST_BACKOFF_SECONDS
    await asyncio.gather(*(_deliver(client, notice, backoff) for notice in notices))


async def _deliver(client: httpx.AsyncClient, notice: Notice, backoff: float) -> None:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            response = await client.post(
                notice.uri,
                data={"logout_token": notice.logout_token},
                headers={"Cache-Control": "no-store"},
            )
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        else:
            if response.status_code == 200:
                log.info("backchannel_logout_delivered", client_id=notice.client_id)
                return
            outcome = f"HTTP {response.status_code}"
            if 400 <= response.status_code < 500:
                break  # the RP refused the token; sending it again will not help
        if attempt < ATTEMPTS:
            await asyncio.sleep(backoff * 2 ** (attempt - 1))
    log.warning("backchannel_logout_failed", client_id=notice.client_id, outcome=outcome)
