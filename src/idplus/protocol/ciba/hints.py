"""The BankID-style flow's login_hint_token: idplus signs, for one client and a short while, who
the user is (by kurtid) and the binding message both screens will show."""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from idplus.clock import epoch_seconds
from idplus.crypto.keys import InvalidSignature
from idplus.errors import OAuthError
from idplus.models import Client, User
from idplus.protocol.context import AppContext

HINT_TYPE = "login-hint+jwt"
HINT_LIFETIME = timedelta(minutes=5)
# Easy to compare on two screens: no 0/O, 1/I/L.
_BINDING_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "01OIL")


class UnknownUser(OAuthError):
    error = "unknown_user_id"


class ExpiredLoginHintToken(OAuthError):
    error = "expired_login_hint_token"


@dataclass(frozen=True, slots=True)
class PreparedHint:
    login_hint_token: str
    binding_message: str

    def to_json(self) -> dict[str, str]:
        return {"login_hint_token": self.login_hint_token, "binding_message": self.binding_message}


def prepare_hint(ctx: AppContext, client: Client, kurtid: str | None) -> PreparedHint:
    if not kurtid or len(kurtid) > 64:
        raise OAuthError("kurtid is required")
    with ctx.store.reading() as uow:
        user = uow.users.find_by_kurtid(kurtid)
    if user is None:
        raise UnknownUser("no user has this kurtid")
    binding = "".join(
        _BINDING_ALPHABET[int(d) % len(_BINDING_ALPHABET)]
        for d in (ctx.random.digits(2) for _ in range(4))
    )
    binding = f"{binding}-{ctx.random.digits(4)}"
    now = epoch_seconds(ctx.clock.now())
    claims = {
        "iss": ctx.settings.issuer,
        "aud": client.client_id,
        "sub": user.kurtid,
        "binding_message": binding,
        "iat": now,
        "exp": now + int(HINT_LIFETIME.total_seconds()),
        "jti": ctx.random.hex_id(16),
    }
    token = ctx.keys.current().sign(claims, typ=HINT_TYPE)
    return PreparedHint(token, binding)


@dataclass(frozen=True, slots=True)
class HintedUser:
    user: User
    binding_message: str | None


def read_hint_token(ctx: AppContext, client: Client, token: str) -> HintedUser:
    """The user a login_hint_token of ours names, if it was prepared for this client and has
    not expired (CIBA Core §7.1)."""
    try:
        decoded = ctx.keys.all_keys_ring().verify(token)
    except InvalidSignature:
        raise OAuthError("login_hint_token is not one of ours") from None
    claims: dict[str, Any] = dict(decoded.claims)
    if decoded.header.get("typ") != HINT_TYPE or claims.get("iss") != ctx.settings.issuer:
        raise OAuthError("login_hint_token is not one of ours")
    if claims.get("aud") != client.client_id:
        raise OAuthError("login_hint_token was prepared for another client")
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= epoch_seconds(ctx.clock.now()):
        raise ExpiredLoginHintToken("login_hint_token has expired")
    with ctx.store.reading() as uow:
        user = uow.users.find_by_kurtid(str(claims.get("sub")))
    if user is None:
        raise UnknownUser("the user of login_hint_token is gone")
    binding = claims.get("binding_message")
    return HintedUser(user, binding if isinstance(binding, str) else None)
