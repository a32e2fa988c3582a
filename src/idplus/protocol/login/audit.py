"""The audit events of logins: `login.succeeded` for each real authentication (credentials
asked for, a step-up, or an upstream login; never an SSO "continue as …"), `login.failed` for
each refused step that counts against the user.

Neither ever holds a password, code, handle or the typed username: before the password is
proved a login names nobody but a keyed hash of the typed name (the hash the `login_refused`
log line carries, so the two can be matched).
"""

from __future__ import annotations

from datetime import datetime

from idplus.auth.local import canonical_username
from idplus.crypto.hashing import hash_handle
from idplus.models import AuditEvent, SsoSession
from idplus.protocol.assurance import AMR_PASSKEY, AMR_PASSWORD, AMR_SMS_OTP
from idplus.protocol.authenticators.base import Authenticated
from idplus.protocol.context import AppContext
from idplus.protocol.login.results import ProblemReason
from idplus.protocol.login.state import Inputs, InteractionView
from idplus.store.base import UnitOfWork

LOGIN_SUCCEEDED = "login.succeeded"
LOGIN_FAILED = "login.failed"
METHOD_UPSTREAM = "upstream"
# The factors of the local provider, in the order a login gives them ("password+passkey": a
# step-up with a passkey instead of the SMS code).
_FACTORS = ((AMR_PASSWORD, "password"), (AMR_SMS_OTP, "sms_code"), (AMR_PASSKEY, "passkey"))
# Refusals the user can simply go on from: a stale or forged form, or a new code asked for
# too soon or too often (the code already sent still works). Not failed logins.
NOT_FAILURES = frozenset(
    {
        ProblemReason.UNKNOWN_ACTION,
        ProblemReason.UNKNOWN_PROVIDER,
        ProblemReason.OTP_RESEND_WAIT,
        ProblemReason.OTP_RESEND_LIMIT,
    }
)
# An upstream login that failed: the upstream was down or answered something unusable (or the
# callback matched the login no more), or its account cannot be linked to a user.
UPSTREAM_FAILED = "upstream_failed"
UPSTREAM_LINK_REFUSED = "upstream_link_refused"


def login_method(proof: Authenticated, provider_id: str) -> dict[str, str]:
    """`password`, `password+sms_code`, `sms_code` …; `upstream` with the provider's id."""
    if proof.upstream is not None:
        return {"method": METHOD_UPSTREAM, "provider": provider_id}
    factors = [name for amr, name in _FACTORS if amr in proof.amr]
    return {"method": "+".join(factors) or "unknown"}


def record_login_succeeded(
    uow: UnitOfWork,
    view: InteractionView,
    proof: Authenticated,
    session: SsoSession,
    now: datetime,
) -> None:
    """In the transaction that starts or renews the session."""
    detail: dict[str, object] = {
        **login_method(proof, session.idp),
        "acr": proof.acr,
        "amr": list(proof.amr),
        "sid": session.id,
    }
    uow.audit.record(
        AuditEvent(
            LOGIN_SUCCEEDED,
            now,
            client_id=view.client.client_id,
            user_id=proof.user.id,
            detail=detail,
        )
    )


def username_hash(ctx: AppContext, view: InteractionView, inputs: Inputs) -> str | None:
    """A keyed hash of the typed username while the login names no user yet (the same name
    gives the same hash, so attempts at one name can be traced), else None."""
    typed = canonical_username(inputs.get("username")) if view.user is None else ""
    return hash_handle(ctx.secrets.handle_key, f"username:{typed}") if typed else None


def record_login_failed(
    ctx: AppContext,
    view: InteractionView,
    reason: str,
    *,
    username_hashed: str | None = None,
    provider: str | None = None,
    refusal: str | None = None,
) -> None:
    """A small write of its own: the refused step has committed (or rolled back) its counters
    already, and they stay as atomic as they are."""
    if reason in NOT_FAILURES or reason == ProblemReason.LOCKED:
        # While locked every attempt is refused unchecked, and anyone could write a row per
        # request; the attempts that filled the budget were recorded as they failed.
        return
    detail: dict[str, object] = {"reason": reason, "stage": view.stage.value}
    optional = {"username_hash": username_hashed, "provider": provider, "refusal": refusal}
    detail.update({name: value for name, value in optional.items() if value is not None})
    event = AuditEvent(
        LOGIN_FAILED,
        ctx.clock.now(),
        client_id=view.client.client_id,
        # Known once the password is proved (a wrong code), never before.
        user_id=view.user.id if view.user is not None else None,
        detail=detail,
    )
    with ctx.store.transaction() as uow:
        uow.audit.record(event)
