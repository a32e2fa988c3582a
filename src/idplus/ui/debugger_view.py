"""What the debugger's result page shows: raw and decoded tokens, their times as dates, and
each endpoint's answer (RFC 7519 §4.1 for the time claims, OIDC Core §2 for auth_time)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from idplus.crypto.keys import InvalidSignature, KeyRing
from idplus.ui.debugger_http import Answer

Translate = Callable[[str], str]
# The NumericDate claims a developer reads as dates (RFC 7519 §4.1.4-6, OIDC Core §2).
TIME_CLAIMS = ("exp", "nbf", "iat", "auth_time")


@dataclass(frozen=True, slots=True)
class TimeClaim:
    name: str
    iso: str
    relative: str


@dataclass(frozen=True, slots=True)
class TokenView:
    key: str  # access / id / refresh: names the page elements of this token
    title: str
    raw: str
    header: str | None = None
    claims: str | None = None
    times: tuple[TimeClaim, ...] = ()
    verified: bool | None = None


@dataclass(frozen=True, slots=True)
class AnswerView:
    title: str
    request_line: str
    # None for what the browser brought back rather than an endpoint answered.
    status: int | None
    body: str | None


@dataclass(frozen=True, slots=True)
class Check:
    text: str
    passed: bool


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def answer_view(title: str, answer: Answer) -> AnswerView:
    body = None if answer.body is None else pretty(answer.body)
    return AnswerView(title, answer.request_line, answer.status, body)


def token_view(
    key: str, title: str, raw: str, ring: KeyRing, now: datetime, _: Translate
) -> TokenView:
    """A JWT with its parts decoded and its signature checked; any other token as it is."""
    parts = jwt_parts(raw)
    if parts is None:
        return TokenView(key, title, raw)
    header, claims = parts
    return TokenView(
        key,
        title,
        raw,
        header=pretty(header),
        claims=pretty(claims),
        times=time_claims(claims, now, _),
        verified=_verifies(ring, raw),
    )


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Header and claims of a compact JWS, read without checking anything."""
    pieces = token.split(".")
    if len(pieces) != 3:
        return None
    try:
        header, claims = (json.loads(_unbase64(p)) for p in pieces[:2])
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims


def _unbase64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _verifies(ring: KeyRing, token: str) -> bool:
    try:
        ring.verify(token)
    except InvalidSignature:
        return False
    return True


def time_claims(claims: dict[str, Any], now: datetime, _: Translate) -> tuple[TimeClaim, ...]:
    shown = []
    for name in TIME_CLAIMS:
        value = claims.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        try:
            instant = datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            continue
        seconds = int((instant - now).total_seconds())
        shown.append(TimeClaim(name, instant.strftime("%Y-%m-%dT%H:%M:%SZ"), relative(seconds, _)))
    return tuple(shown)


def relative(seconds: int, _: Translate) -> str:
    """ "in 59 min", "3 min ago": how far an instant is from now, roughly."""
    if seconds == 0:
        return _("now")
    amount = _amount(abs(seconds), _)
    if seconds > 0:
        return _("in %(amount)s") % {"amount": amount}
    return _("%(amount)s ago") % {"amount": amount}


def _amount(seconds: int, _: Translate) -> str:
    if seconds < 90:
        return _("%(count)s s") % {"count": seconds}
    if seconds < 90 * 60:
        return _("%(count)s min") % {"count": round(seconds / 60)}
    if seconds < 48 * 3600:
        return _("%(count)s h") % {"count": round(seconds / 3600)}
    return _("%(count)s d") % {"count": round(seconds / 86400)}
