"""What the developer portal (/portal) and the operator console (/admin) share: the login gate
through their built-in clients, the `Caller` the use-cases are asked with, the CSRF check,
the confirmation step before a destructive action, paging, htmx partials, and the vendored
htmx file.

Both are server-rendered pages that work without JavaScript: every list is a plain link or
GET form, every change a POST form to the page's own path with an `action` button. htmx only
swaps a table in place (search, next page) when it is there.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import re
import shlex
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from babel.dates import format_datetime
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idplus.entry import context_of, run_blocking
from idplus.errors import (
    Conflict,
    Forbidden,
    IdplusError,
    NotFoundError,
    PreconditionFailed,
    RateLimited,
    Unavailable,
)
from idplus.models import Caller, Client, User
from idplus.policies import OPERATOR_ROLE
from idplus.protocol.account_lock import is_locked
from idplus.protocol.context import AppContext
from idplus.protocol.sso import SHARED_GROUP, live_session_of_cookie
from idplus.ui.context import pages_of
from idplus.ui.cookies import browser_id, sso_session_handle
from idplus.ui.csrf import csrf_token_is_valid
from idplus.ui.i18n import gettext_for
from idplus.ui.language import page_locale
from idplus.ui.login import redirect_to_internal_login
from idplus.ui.logout import LOGOUT_PATH

T = TypeVar("T")
# Rows in one page of a table.
PAGE_SIZE = 50
# The longest search text or filter a table takes; anything longer finds nothing anyway.
MAX_QUERY = 200
# Far above any form of these pages (an app's redirect URIs included).
MAX_FIELD = 8192
# The page's language → the Babel locale its times are written in.
DATE_LOCALES = {"nb": "nb_NO", "en": "en_GB"}
STATIC_PATH = "/static/htmx.min.js"
HTMX_FILE = Path(__file__).parent / "static" / "htmx.min.js"
# The file's URL carries its digest: a year's caching never serves an old copy after an upgrade.
STATIC_CACHE = "public, max-age=31536000, immutable"

# Texts this module puts on pages (English msgids; the nb catalog translates them).
MESSAGES = {
    "locked": "Your account is locked. Ask an operator to unlock it.",
    "not_found": "There is nothing here, or you may not see it.",
    "forbidden": "You may not do this.",
    "conflict": "This clashes with something that exists already.",
    "stale": "Someone changed this while you were looking. Reload the page and try again.",
    "refused": "The change was refused.",
    "bad_link": "This page link is not valid. Start again from the first page.",
    "too_long": "A value in the form is too long or not valid.",
    "too_many": "Too many of these in a short while. Try again later.",
    "unavailable": "This cannot be done right now. Nothing was changed: try again in a while.",
    # A built-in client's callback: the authorization error codes of RFC 6749 §4.1.2.1.
    "oauth_invalid_request": "The request to the login service was not valid: a parameter is "
    "missing, repeated or wrong.",
    "oauth_unauthorized_client": "This client may not get a code this way.",
    "oauth_access_denied": "The login was cancelled, or the access was refused.",
    "oauth_unsupported_response_type": "The login service gives no code for this response type.",
    "oauth_invalid_scope": "A scope asked for is unknown, not valid or not allowed.",
    "oauth_server_error": "The login service met an unexpected error. Try again.",
    "oauth_temporarily_unavailable": "The login service is busy or down for a while. Try again "
    "later.",
    "oauth_unknown": "The login service sent no code, but an error this page does not know.",
}


@dataclass(frozen=True, slots=True)
class Area:
    """The portal or the console: where it lives and which built-in client it logs in with."""

    path: str
    client_id: str
    # Its pages' shared layout (a template extending staff/layout.html).
    layout: str
    operators_only: bool


@dataclass(frozen=True, slots=True)
class Staff:
    """The logged-in person at a portal or console page, and the request they made."""

    request: Request
    server: AppContext
    area: Area
    user: User
    caller: Caller
    locale: str
    # A POST's fields (CSRF checked already; a repeated one's last value); empty for a GET.
    form: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # Every value of every field, in order (checkboxes of one name).
    form_items: tuple[tuple[str, str], ...] = ()

    def text(self, message: str, **params: object) -> str:
        """A message (an English msgid) in the page's language."""
        translated = gettext_for(self.locale).gettext(message)
        return translated % params if params else translated

    def when(self, moment: datetime | None) -> str:
        """A time in the operator's zone, the page's way ("3 Dec 2026, 21:11:05")."""
        if moment is None:
            return ""
        locale = DATE_LOCALES.get(self.locale, DATE_LOCALES["en"])
        return format_datetime(moment, "medium", tzinfo=self.server.settings.zone, locale=locale)

    def field(self, name: str) -> str:
        return self.form.get(name, "").strip()

    def fields(self, name: str) -> list[str]:
        """Every value of a repeated field (checkboxes), blanks left out."""
        return [v.strip() for k, v in self.form_items if k == name and v.strip()]

    def lines(self, name: str) -> list[str]:
        """A text area's non-blank lines (a list of URIs, one a line)."""
        return [line.strip() for line in self.form.get(name, "").splitlines() if line.strip()]

    def query(self, name: str) -> str:
        return self.request.query_params.get(name, "").strip()

    def render(self, template: str, *, status_code: int = 200, **context: Any) -> Response:
        return pages_of(self.request).render(
            self.request,
            self.server,
            template,
            locale=self.locale,
            status_code=status_code,
            layout=self.area.layout,
            area_path=self.area.path,
            here=self.request.url.path,
            user_name=self.user.username,
            logout_action=LOGOUT_PATH,
            htmx_url=htmx_url(),
            htmx_integrity=htmx_integrity(),
            **context,
        )

    def listing(self, page: str, table: str, **context: Any) -> Response:
        """A page with a table: only the table for htmx's swap, else the whole page."""
        response = self.render(table if wants_partial(self.request) else page, **context)
        response.headers["Vary"] = "HX-Request"
        return response

    def confirm(
        self,
        question: str,
        *,
        action: str,
        button: str,
        fields: Mapping[str, str] | None = None,
        back: str | None = None,
        reason_label: str | None = None,
    ) -> Response:
        """The confirmation step: the same form again with `confirmed=yes`, and a way back;
        `reason_label`: also ask why (a text field named `reason`)."""
        return self.render(
            "staff/confirm.html",
            question=question,
            reason_label=reason_label,
            action_path=self.request.url.path,
            action=action,
            button=button,
            fields=dict(fields or {}),
            back=back or self.request.url.path,
            switch_back_to=self.request.url.path,
        )

    def confirmed(self) -> bool:
        return self.form.get("confirmed") == "yes"

    def error(self, message: str, status_code: int, detail: str | None = None) -> Response:
        """An error page; `message` a key of MESSAGES or an English msgid, `detail` an
        untranslated reason."""
        return self.render(
            "staff/refused.html",
            status_code=status_code,
            message=self.text(MESSAGES.get(message, message)),
            detail=detail,
            switch_back_to=self.request.url.path,
        )

    def refused(self, error: IdplusError) -> Response:
        """What a use-case's refusal says on a page. An outsider's "not found" says nothing of
        what exists; other refusals show the use-case's reason (in English: it names values)."""
        if isinstance(error, NotFoundError):
            return self.error("not_found", 404)
        if isinstance(error, BadCursor):
            return self.error("bad_link", 400)
        if isinstance(error, Forbidden):
            return self.error("forbidden", 403, error.description)
        if isinstance(error, PreconditionFailed):
            return self.error("stale", 412)
        if isinstance(error, Conflict):
            return self.error("conflict", 409, error.description)
        if isinstance(error, RateLimited):
            response = self.error("too_many", 429)
            response.headers["Retry-After"] = str(error.retry_after)
            return response
        if isinstance(error, Unavailable):
            response = self.error("unavailable", 503)
            response.headers["Retry-After"] = "60"
            return response
        return self.error("refused", 400, error.description)

    def problem(self, error: IdplusError) -> str:
        """A refusal shown above the form that caused it: what happened, then the use-case's
        reason (in English: it names the values)."""
        return f"{self.text(MESSAGES['refused'])} {error.description}"

    def notice(self, messages: Mapping[str, str]) -> str | None:
        """The `?notice=` a redirect after a change asked for, if it is one of `messages`."""
        key = self.query("notice")
        return self.text(messages[key]) if key in messages else None

    def see_other(self, path: str, **params: str) -> Response:
        """Post/redirect/get, with a notice the next page shows."""
        query = urlencode({k: v for k, v in params.items() if v})
        return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)


StaffHandler = Callable[[Staff], Awaitable[Response]]
Handler = Callable[[Request], Awaitable[Response]]


def staff_page(area: Area, *, login_return: str | None = None) -> Callable[[StaffHandler], Handler]:
    """A portal or console endpoint: the person must be logged in (else the login pages, then
    back here, or to `login_return` for a page whose address holds a secret: the login keeps
    its return address in the database), not locked, and for the console an operator; a POST
    must carry the page's CSRF token. A use-case's refusal becomes a 4xx page."""

    def decorate(handler: StaffHandler) -> Handler:
        async def endpoint(request: Request) -> Response:
            entered = await enter(request, area, login_return)
            if isinstance(entered, Response):
                return whole_page(request, entered)
            try:
                return await handler(entered)
            except IdplusError as error:
                return whole_page(request, entered.refused(error))

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return decorate


async def enter(request: Request, area: Area, login_return: str | None = None) -> Staff | Response:
    server, locale = context_of(request), page_locale(request)
    items: list[tuple[str, str]] = []
    if request.method == "POST":
        posted = await _form(request)
        token = dict(posted).get("csrf_token") if posted is not None else None
        if not csrf_token_is_valid(server.secrets.cookie_key, browser_id(request), token):
            return pages_of(request).form_check_failed(request, server, locale)
        assert posted is not None
        items = posted
    form = dict(items)
    if not _readable(request, [value for _, value in items]):
        return _plain_error(request, server, locale, MESSAGES["too_long"], 400)
    found = await run_blocking(_who, server, request)
    if found is None:
        return await _login_first(request, server, area, locale, login_return)
    user, operator = found
    if is_locked(user):
        return _plain_error(request, server, locale, MESSAGES["locked"], 403)
    if area.operators_only and not operator:
        return pages_of(request).render(
            request, server, "console/not_operator.html", locale=locale, status_code=403,
            user_name=user.username, logout_action=LOGOUT_PATH,
        )  # fmt: skip
    caller = Caller.user(user.id, operator=operator)
    return Staff(request, server, area, user, caller, locale, form, tuple(items))


def whole_page(request: Request, response: Response) -> Response:
    """The gate's own answer (the login, a refusal) to an htmx request: htmx would swap it in
    place of a table (the login page inside the users table), so it is told to load it as a
    whole page instead (HX-Redirect), with nothing to swap. Other requests get it as it is."""
    if not wants_partial(request):
        return response
    # A redirect's target (the login pages); else this address again, as a whole page.
    query = request.url.query if request.method == "GET" else ""
    target = response.headers.get("location") or (request.url.path + (f"?{query}" if query else ""))
    whole = Response(status_code=200, headers={"HX-Redirect": target, "Vary": "HX-Request"})
    # The login may have set the browser's id cookie, which the login pages need.
    for cookie in response.headers.getlist("set-cookie"):
        whole.headers.append("set-cookie", cookie)
    return whole


async def _form(request: Request) -> list[tuple[str, str]] | None:
    """The POST's text fields; None for a body that is not a form."""
    try:
        posted = await request.form()
    except (MultiPartException, ValueError):
        return None
    return [(k, v) for k, v in posted.multi_items() if isinstance(v, str)]


def _readable(request: Request, form: Sequence[str]) -> bool:
    """No NUL (PostgreSQL refuses it in text: a 500, not an answer) and nothing absurdly long
    in the path, the query or the form."""
    values = [
        *(str(v) for v in request.path_params.values()),
        *(value for _, value in request.query_params.multi_items()),
        *form,
    ]
    return all("\x00" not in v and len(v) <= MAX_FIELD for v in values)


def _who(server: AppContext, request: Request) -> tuple[User, bool] | None:
    """The user of this browser's SSO session, and whether they are an operator (read now:
    a lock or a withdrawn role counts from the next page on)."""
    handle = sso_session_handle(server, request, SHARED_GROUP)
    with server.store.reading() as uow:
        session = live_session_of_cookie(uow, server.secrets.handle_key, handle, server.clock.now())
        # The session's user even when locked (no login for the flows): the gate tells them.
        user = uow.users.find(session.user_id) if session is not None else None
        if user is None:
            return None
        return user, OPERATOR_ROLE in uow.users.roles_of(user.id)


async def _login_first(
    request: Request, server: AppContext, area: Area, locale: str, login_return: str | None
) -> Response:
    def built_in_client() -> Client:
        with server.store.reading() as uow:
            client = uow.clients.find(area.client_id)
        assert client is not None, "the built-in clients are registered at start-up"
        return client

    client = await run_blocking(built_in_client)
    # Back to the page asked for (a POST's page is found again by a GET of its path).
    query = request.url.query if request.method == "GET" else ""
    return_to = login_return or request.url.path + (f"?{query}" if query else "")
    return await redirect_to_internal_login(request, server, client, return_to, locale)


def _plain_error(
    request: Request, server: AppContext, locale: str, message: str, status_code: int
) -> Response:
    return pages_of(request).error(
        request, server, locale=locale, message=message, status_code=status_code
    )


def authorize_example(issuer: str, client_id: str, path: str, scope: str) -> str:
    """The authorization request that gets a user an admin API token through a built-in
    client (its challenge left for the reader to fill in)."""
    return f"{issuer}/connect/authorize?" + urlencode(
        {
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": issuer + path,
            "scope": f"openid {scope}",
            "code_challenge": "YOUR_S256_CHALLENGE",
            "code_challenge_method": "S256",
        }
    )


# The error codes of an authorization response (RFC 6749 §4.1.2.1); MESSAGES explains each.
AUTHORIZATION_ERRORS = frozenset(
    {
        "invalid_request",
        "unauthorized_client",
        "access_denied",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
    }
)
# An authorization code as idplus issues them (base64url); anything else is not shown as one.
_CODE = re.compile(r"[A-Za-z0-9_-]{1,200}")


async def callback_page(request: Request, client_id: str, path: str, scope: str) -> Response:
    """A built-in client's redirect URI: a developer (or operator) who sent their browser to
    the authorization endpoint for an admin API token sees the code and the curl command that
    redeems it with their PKCE verifier. It needs no login: the code is in the address
    already, and without the verifier it is worth nothing."""
    server, locale = context_of(request), page_locale(request)
    issuer, params = server.settings.issuer, request.query_params
    code = params.get("code", "")
    redirect_uri = issuer + path
    redeem = None
    if _CODE.fullmatch(code):
        # Quoted for the shell: the page shows what a link put in the address.
        redeem = (
            f"curl -s {shlex.quote(issuer + '/connect/token')} \\\n"
            "  -d grant_type=authorization_code \\\n"
            f"  -d client_id={shlex.quote(client_id)} \\\n"
            f"  --data-urlencode redirect_uri={shlex.quote(redirect_uri)} \\\n"
            f"  -d code={shlex.quote(code)} \\\n"
            '  -d code_verifier="$VERIFIER"'
        )
    error = params.get("error", "")
    # Anyone can write a link to this page: idplus's own sentence for a known error code,
    # never the text of the address (its error_description is whatever the link says).
    known = error in AUTHORIZATION_ERRORS
    explained = MESSAGES[f"oauth_{error}" if known else "oauth_unknown"]
    # No Referer leaves with the code (web/middleware.py sets no-referrer on every answer).
    return pages_of(request).render(
        request,
        server,
        "staff/callback.html",
        locale=locale,
        code=code if redeem else None,
        redeem=redeem,
        error=gettext_for(locale).gettext(explained) if error else None,
        error_code=error if known else None,
        authorize=authorize_example(issuer, client_id, path, scope),
        # The language switch comes back without the code: it was shown once.
        switch_back_to=path,
    )


def wants_partial(request: Request) -> bool:
    """htmx asks for the table alone; its history restore (a reload after back) wants the
    whole page."""
    headers = request.headers
    return headers.get("hx-request") == "true" and "hx-history-restore-request" not in headers


# Paging: a cursor is the base64url of the last row's sort key, opaque to the browser.


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> str | None:
    """The sort key a cursor continues after; None when it is not one these pages made."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError):
        return None


class BadCursor(IdplusError):
    """A page link whose cursor these pages did not make."""


def page_after(
    items: Sequence[T], key: Callable[[T], str], cursor: str, limit: int = PAGE_SIZE
) -> Listing[T]:
    """One page of `items` (any order; sorted here by `key`) after the cursor's key."""
    after = decode_cursor(cursor) if cursor else None
    if cursor and after is None:
        raise BadCursor("not a cursor of these pages")
    ordered = sorted(items, key=key)
    following = [item for item in ordered if after is None or key(item) > after]
    page = following[:limit]
    more = len(following) > limit
    return Listing(page, encode_cursor(key(page[-1])) if more and page else None)


def matches(search: str, *texts: str | None) -> bool:
    """A table's search: every word of it somewhere in the row's texts, any case."""
    haystack = " ".join(t for t in texts if t).casefold()
    return all(word in haystack for word in search.casefold().split())


def page_url(path: str, params: Mapping[str, str]) -> str:
    """A link to a table page with these parameters (empty ones left out)."""
    query = urlencode({k: v for k, v in params.items() if v})
    return f"{path}?{query}" if query else path


# The vendored htmx (2.x, Zero-Clause BSD): served here, under a digest-bearing URL.


@cache
def _htmx() -> bytes:
    return HTMX_FILE.read_bytes()


@cache
def htmx_url() -> str:
    return f"{STATIC_PATH}?v={hashlib.sha256(_htmx()).hexdigest()[:16]}"


@cache
def htmx_integrity() -> str:
    """Subresource Integrity: the browser runs the file only if it is this one."""
    return "sha384-" + base64.b64encode(hashlib.sha384(_htmx()).digest()).decode()


async def htmx_script(_request: Request) -> Response:
    return Response(
        _htmx(),
        media_type="text/javascript",
        headers={"Cache-Control": STATIC_CACHE},
    )
