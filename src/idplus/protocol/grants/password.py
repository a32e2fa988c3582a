"""grant_type=password (RFC 6749 §4.3): served on the gateway front only (RFC 9700 §2.4 rules
it out wherever a browser login exists; SPEC §9 keeps it for partner back ends).

Only for users whose password alone is a full login: a user with a required second factor is
refused, since this grant has no step where the factor could be asked for. Only the username's
throttle applies: the peer is the partner's back end, so an address budget would let a few
wrong passwords of some users lock out every user of that partner. No SSO session starts: the
refresh tokens are bound to none, and a grant id ties them to their access tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from idplus.auth import local
from idplus.auth.providers import LOCAL_PROVIDER_ID
from idplus.auth.throttle import Throttled
from idplus.crypto.hashing import HashingBusy, hash_handle
from idplus.errors import InvalidGrant
from idplus.metrics import LoginMethod
from idplus.models import AuditEvent, Client, User
from idplus.policies import GRANT_PASSWORD
from idplus.protocol.account_lock import ACCOUNT_LOCKED, is_locked
from idplus.protocol.assurance import AMR_PASSWORD, acr_for_level
from idplus.protocol.context import AppContext
from idplus.protocol.grant import Grant
from idplus.protocol.grants import Front, GrantType, TemporarilyUnavailable, required
from idplus.protocol.issuance import TokenResponse, issue_tokens, new_lineage
from idplus.protocol.login.audit import LOGIN_FAILED, LOGIN_SUCCEEDED
from idplus.protocol.login.results import ProblemReason
from idplus.protocol.params import Params, split_space_list
from idplus.protocol.password_check import SecondFactorRequired, WrongPassword, check_password

# The password was right, but the user has a second factor this grant cannot ask for.
SECOND_FACTOR_REQUIRED = "second_factor_required"


class TooManyAttempts(InvalidGrant):
    """The username's password budget is spent; it refills by itself."""


@dataclass(frozen=True, slots=True)
class PasswordRequest:
    username: str
    password: str
    scopes: tuple[str, ...]


class PasswordGrant(GrantType[PasswordRequest]):
    name = GRANT_PASSWORD

    def parse(self, params: Params) -> PasswordRequest:
        return PasswordRequest(
            username=local.canonical_username(required(params, "username")),
            password=required(params, "password"),
            scopes=split_space_list(params.get("scope")),
        )

    def redeem(
        self, ctx: AppContext, front: Front, client: Client, request: PasswordRequest
    ) -> TokenResponse:
        # Scopes first: a request refused anyway must not spend a password attempt.
        scopes = front.requested_scopes(client, request.scopes)
        # The slow hash records failures in transactions of its own, outside the issuing one.
        user = _user_of(ctx, client, request)
        now = ctx.clock.now()
        grant = Grant(
            client=client,
            scopes=scopes,
            user=user,
            auth_time=now,
            acr=acr_for_level(1),
            amr=(AMR_PASSWORD,),
            idp=LOCAL_PROVIDER_ID,
            preferred_username=user.username,
            grant_id=ctx.random.hex_id(),
        )
        with ctx.store.transaction() as uow:
            issued = issue_tokens(
                ctx, front.tokens, grant, now, uow=uow, lineage=new_lineage(ctx.random)
            )
            uow.audit.record(
                AuditEvent(
                    LOGIN_SUCCEEDED,
                    now,
                    client_id=client.client_id,
                    user_id=user.id,
                    detail={"method": "password", "grant_type": self.name,
                            "acr": grant.acr, "amr": list(grant.amr)},
                )
            )  # fmt: skip
        ctx.identity_metrics.login_succeeded(LoginMethod.PASSWORD)
        return issued


def _refused(ctx: AppContext, client: Client, request: PasswordRequest, reason: str) -> None:
    """`login.failed` like a refused login page, named by the keyed hash of the username."""
    hashed = hash_handle(ctx.secrets.handle_key, f"username:{request.username}")
    detail: dict[str, object] = {
        "reason": reason,
        "grant_type": GRANT_PASSWORD,
        "username_hash": hashed,
    }
    with ctx.store.transaction() as uow:
        uow.audit.record(
            AuditEvent(LOGIN_FAILED, ctx.clock.now(), client_id=client.client_id, detail=detail)
        )
    ctx.identity_metrics.login_refused(LoginMethod.PASSWORD, reason)


def _user_of(ctx: AppContext, client: Client, request: PasswordRequest) -> User:
    try:
        user = check_password(
            ctx, request.username, request.password, None, password_alone_must_do=True
        )
    except WrongPassword:
        _refused(ctx, client, request, ProblemReason.INVALID_CREDENTIALS)
        raise InvalidGrant("unknown username or wrong password") from None
    except SecondFactorRequired:
        _refused(ctx, client, request, SECOND_FACTOR_REQUIRED)
        raise InvalidGrant("the user must give a second factor") from None
    except Throttled:
        # Refused unchecked while locked: counted, but no row a stranger could multiply.
        ctx.identity_metrics.login_refused(LoginMethod.PASSWORD, ProblemReason.LOCKED)
        raise TooManyAttempts("too many failed attempts") from None
    except HashingBusy:
        raise TemporarilyUnavailable(
            "temporarily overloaded, retry later", detail="every hashing slot is busy"
        ) from None
    if is_locked(user):
        _refused(ctx, client, request, ACCOUNT_LOCKED)
        raise InvalidGrant("an operator locked the user")
    return user
