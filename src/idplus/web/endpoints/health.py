"""Liveness (/healthz: the process answers) and readiness (/readyz: the database answers)."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from idplus.logs import get_logger
from idplus.web.services import services_of

log = get_logger(__name__)


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def readyz(request: Request) -> JSONResponse:
    try:
        await run_in_threadpool(services_of(request).db.ping)
    except SQLAlchemyError as exc:
        log.warning("readiness_failed", error=type(exc).__name__, detail=str(exc))
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"},
            status_code=503,
            headers={"Cache-Control": "no-store"},
        )
    return JSONResponse({"status": "ok", "database": "ok"}, headers={"Cache-Control": "no-store"})
