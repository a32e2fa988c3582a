"""Request → typed input, and protocol results / OAuth errors → HTTP responses."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request

from idplus.errors import InvalidRequest

FORM_TYPE = "application/x-www-form-urlencoded"


async def read_parameters(request: Request) -> list[tuple[str, str]]:
    """Query parameters for GET; the url-encoded form body for POST (RFC 6749 §3.1)."""
    if request.method == "GET":
        return list(request.query_params.multi_items())
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise InvalidRequest(f"the body must be {FORM_TYPE}")
    form = await request.form()
    items = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            raise InvalidRequest("file uploads are not accepted")
        items.append((name, value))
    return items
