"""What a requested scope lets an app do, in words a person reads before approving it.

RFC 8628 §3.3 and CIBA Core 1.0 §8 leave the approval page's wording to the authorization
server. The words here are English message ids; the page passes its catalog's `gettext`. A
scope idplus has no words for is shown as it is, so nothing an app asks for is hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from idplus.policies import API_SCOPE_PREFIX, is_api_scope

SCOPE_WORDS: Mapping[str, str] = {
    "openid": "know who you are",
    "profile": "see your name and birth date",
    "email": "see your e-mail address",
    "phone": "see your phone number",
    "offline_access": "keep you logged in",
    "ial0": "see how surely your identity is confirmed",
    "ial1": "see how surely your identity is confirmed",
    "ial2": "see how surely your identity is confirmed",
    "tnn.ids": "see your customer number",
    "extsub": "see your user ID at the service you log in with",
    "tnn.legacy": "see details of your older Telenor account",
    "account.profiles": "see every profile on your account",
}
API_WORDS = "use %(api)s on your behalf"
# They choose how a CIBA login is approved and grant the app nothing: no line of their own.
FLOW_SCOPES = frozenset({"vipps", "bankid"})


@dataclass(frozen=True, slots=True)
class ScopeLine:
    text: str
    # True when `text` is the scope itself: idplus has no words for it.
    verbatim: bool = False


def describe_scopes(scopes: Iterable[str], gettext: Callable[[str], str]) -> tuple[ScopeLine, ...]:
    """One line per distinct thing the scopes allow, in the order asked for."""
    lines: dict[str, ScopeLine] = {}
    for scope in scopes:
        line = _line(scope, gettext)
        if line is not None:
            lines.setdefault(line.text, line)
    return tuple(lines.values())


def _line(scope: str, gettext: Callable[[str], str]) -> ScopeLine | None:
    if scope in FLOW_SCOPES:
        return None
    if scope in SCOPE_WORDS:
        return ScopeLine(gettext(SCOPE_WORDS[scope]))
    if is_api_scope(scope):
        return ScopeLine(gettext(API_WORDS) % {"api": scope.removeprefix(API_SCOPE_PREFIX)})
    return ScopeLine(scope, verbatim=True)
