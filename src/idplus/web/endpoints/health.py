"""Liveness (/healthz: the process answers) and readiness (/readyz: the database answers)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from idplus.entry import context_of, run_probe
from idplus.logs import get_logger
from idplus.store.base import StoreUnavailable

log = get_logger(__name__)


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def readyz(request: Request) -> JSONResponse:
    try:
        await run_probe(context_of(request).store.ping)
    except StoreUnavailable as exc:
        log.warning("readiness_failed", detail=str(exc))
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"},
            status_code=503,
            headers={"Cache-Control": "no-store"},
        )
    return JSONResponse({"status": "ok", "database": "ok"}, headers={"Cache-Control": "no-store"})
