"""The key ring for a request: the cached one without I/O, else reloaded in a worker thread."""

from __future__ import annotations

from starlette.requests import Request

from idplus.crypto.keys import KeyRing
from idplus.entry import context_of, run_blocking


async def current_key_ring(request: Request) -> KeyRing:
    keys = context_of(request).keys
    ring = keys.fresh()
    if ring is None:
        ring = await run_blocking(keys.current)
    return ring
