"""The language of every page (SPEC §5), and the "Norsk / English" switch that picks it.

One rule for every page: the request's `ui_locales` (or the page's own `ui_locales` /
`locale` query parameter) wins; then the language the user picked with the switch (a cookie);
then the browser's Accept-Language (RFC 9110 §12.5.4); then English.

The switch is a plain link to `GET /language?lang=nb&next=/the/page?query`, so it works without
JavaScript and inside a form-driven login. It remembers the choice for a year, tells a login in
progress (held by this browser), and goes back to `next`, which must be a path on this server.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idplus.entry import context_of, run_blocking
from idplus.protocol.authorize import choose_ui_locale, locale_of_tag
from idplus.protocol.context import AppContext
from idplus.protocol.login.language import switch_login_language, without_locale_parameters
from idplus.ui.cookies import SECURE_PREFIX, browser_id

LANGUAGE_PATH = "/language"
LANGUAGE_COOKIE = "idplus_lang"
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600
HOME_PATH = "/"
# The languages in the switch, in its order: locale, HTML language tag, name in itself.
LANGUAGES = (("nb", "no", "Norsk"), ("en", "en", "English"))
# An Accept-Language header lists a handful of languages; past this many the rest are noise.
_MAX_ACCEPTED = 32
# Far above any page address here (an authorization request included).
_MAX_NEXT = 8192


def page_locale(request: Request, ui_locales: str | None = None) -> str:
    """The page's language: `ui_locales` (given, or the page's query parameter), then the
    switch's choice, then Accept-Language, then English."""
    asked = (
        ui_locales or request.query_params.get("ui_locales") or request.query_params.get("locale")
    )
    return choose_ui_locale(asked, browser_locale(request))


def browser_locale(request: Request) -> str:
    """The language for a request that names none: the switch's choice, then Accept-Language."""
    picked = request.cookies.get(_cookie_name(context_of(request)))
    if picked in {locale for locale, _, _ in LANGUAGES}:
        return str(picked)
    return accepted_locale(request.headers.get("accept-language")) or "en"


def accepted_locale(header: str | None) -> str | None:
    """The supported language the browser prefers most (highest q, then first listed)."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((header or "").split(",")[:_MAX_ACCEPTED]):
        tag, _, parameters = item.partition(";")
        locale = locale_of_tag(tag.strip())
        weight = _weight(parameters)
        if locale is not None and weight > 0:
            ranked.append((-weight, position, locale))
    return min(ranked)[2] if ranked else None


def _weight(parameters: str) -> float:
    """The `q` of one Accept-Language entry (1 when absent, 0 when malformed)."""
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value.strip())
            except ValueError:
                return 0.0
            # NaN fails both comparisons, so it counts as "not acceptable" too.
            return weight if 0 <= weight <= 1 else 0.0
    return 1.0


@dataclass(frozen=True, slots=True)
class LanguageChoice:
    """One language in the switch: a link to it, or None for the page's own language."""

    lang: str
    name: str
    href: str | None


def language_switch(
    request: Request, locale: str, interaction: str | None = None, page: str | None = None
) -> list[LanguageChoice]:
    """The switch for a page in `locale`. A page answered to a POST is found again by a GET of
    its path (with its login's `interaction`, for the login pages), or of `page`."""
    here = without_locale_parameters(page or _current_page(request, interaction))
    return [
        LanguageChoice(lang, name, None if code == locale else switch_url(code, here))
        for code, lang, name in LANGUAGES
    ]


def switch_url(locale: str, next_path: str) -> str:
    return f"{LANGUAGE_PATH}?{urlencode({'lang': locale, 'next': next_path})}"


def _current_page(request: Request, interaction: str | None) -> str:
    path, query = quote(request.url.path, safe="/%:@!$&'()*+,;=~"), request.url.query
    if interaction and "interaction" not in parse_qs(query):
        query = "&".join(filter(None, (query, urlencode({"interaction": interaction}))))
    return f"{path}?{query}" if query else path


async def switch_language(request: Request) -> Response:
    """GET /language: remember the language, tell this browser's login in progress, and go
    back to `next` (a path on this server; anything else goes to the front page)."""
    server = context_of(request)
    lang = request.query_params.get("lang")
    locale = locale_of_tag(lang) if lang else None
    target = without_locale_parameters(local_path(request.query_params.get("next")))
    response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
    if locale is None:
        return response
    handle, browser = _login_handle(target), browser_id(request)
    if handle is not None and browser is not None:
        await run_blocking(switch_login_language, server, handle, browser, locale)
    remember_language(server, response, locale)
    return response


def local_path(value: str | None) -> str:
    """`value` when it is a path on this server (an open redirect otherwise), else "/"."""
    if not value or len(value) > _MAX_NEXT:
        return HOME_PATH
    # "//host" and "/\host" leave the site in browsers; control characters and spaces are
    # read differently by different parsers, so none is let through.
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return HOME_PATH
    if any(ord(c) <= 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        return HOME_PATH
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return HOME_PATH
    return urlunsplit(("", "", parts.path, parts.query, ""))


def _login_handle(path: str) -> str | None:
    """The login a page belongs to: the login pages carry it as `interaction`."""
    handles = parse_qs(urlsplit(path).query).get("interaction")
    return handles[0] if handles else None


def remember_language(server: AppContext, response: Response, locale: str) -> None:
    """The switch's choice, for a year: HttpOnly, SameSite=Lax, and on an https issuer Secure
    under a `__Host-` name (as every cookie of ours, ui/cookies.py)."""
    response.set_cookie(
        _cookie_name(server),
        locale,
        max_age=LANGUAGE_COOKIE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=server.settings.issuer_is_https,
        path="/",
    )


def _cookie_name(server: AppContext) -> str:
    https = server.settings.issuer_is_https
    return SECURE_PREFIX + LANGUAGE_COOKIE if https else LANGUAGE_COOKIE
