"""The user's side of CIBA: the approval link from the SMS, a fresh login as the user the
request names, then approve or deny (CIBA Core 1.0 §8).

A decision needs a login made after the request (the phone's session alone proves nothing
about now), as the named user, at level 2 for the BankID-style flow. The first SSO session to
show the approve / deny page after such a login holds the request: nobody else's login can
answer it then, and nobody's once it is answered or expired. (A session, not a browser id: every
login gives the browser a new id.) Cancelling that login denies the request. Deciding a
ping-mode request queues the client's ping in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from idplus.crypto.hashing import hash_handle
from idplus.logs import get_logger
from idplus.models import AuditEvent, CibaRequest, Client, SsoSession, User
from idplus.outbound.ciba_ping import ping_delivery
from idplus.policies import level_of_acr
from idplus.protocol.account_lock import ACCOUNT_LOCKED, is_locked
from idplus.protocol.ciba.request import BANKID_LEVEL, approval_hash
from idplus.protocol.context import AppContext

log = get_logger(__name__)


class ApprovalGone(Exception):
    """Unknown, expired or answered (the reason is for the log)."""


class HeldElsewhere(ApprovalGone):
    """Another login is answering this request."""


@dataclass(frozen=True, slots=True)
class PendingApproval:
    request: CibaRequest
    client: Client
    user: User

    @property
    def required_level(self) -> int:
        return BANKID_LEVEL if self.request.flow == "bankid" else 0

    def accepts(self, session: SsoSession) -> bool:
        """A login for this request: after it was made, and strong enough."""
        return (
            session.auth_time >= self.request.created_at
            and level_of_acr(session.acr) >= self.required_level
        )


def _holder_hash(ctx: AppContext, session: SsoSession) -> str:
    return hash_handle(ctx.secrets.handle_key, f"ciba-holder:{session.id}")


def open_approval(ctx: AppContext, approval: str) -> PendingApproval:
    """The pending request of an approval link."""
    now = ctx.clock.now()
    with ctx.store.reading() as uow:
        request = uow.ciba.find_by_approval(approval_hash(ctx, approval)) if approval else None
        if request is None or request.status != "pending" or request.expires_at <= now:
            raise ApprovalGone("unknown, answered or expired")
        client = uow.clients.find(request.client_id)
        user = uow.users.find(request.user_id)
    if client is None or user is None:
        raise ApprovalGone("client or user removed")
    if is_locked(user):
        # The page says only that the request is gone; the log says why.
        log.info("ciba_refused", reason=ACCOUNT_LOCKED, client_id=client.client_id,
                 user_id=user.id)  # fmt: skip
        raise ApprovalGone(f"an operator locked the user ({ACCOUNT_LOCKED})")
    return PendingApproval(request, client, user)


def hold(ctx: AppContext, pending: PendingApproval, session: SsoSession) -> None:
    """This login of the named user keeps the request (the first one to get here does)."""
    _check_login(pending, session)
    with ctx.store.transaction() as uow:
        held = uow.ciba.bind_browser(pending.request.auth_req_id_hash, _holder_hash(ctx, session))
    if not held:
        raise HeldElsewhere("held by another login")


def decide(
    ctx: AppContext, pending: PendingApproval, session: SsoSession, *, approve: bool
) -> bool:
    """Approve (binding the session's login) or deny; False when it was no longer pending or
    another login holds it."""
    _check_login(pending, session)
    values: dict[str, object] = {"status": "approved" if approve else "denied"}
    if approve:
        values.update(
            session_id=session.id,
            auth_time=session.auth_time,
            acr=session.acr,
            amr=list(session.amr),
            idp=session.idp,
        )
    return _decide(ctx, pending, _holder_hash(ctx, session), values)


def deny_cancelled(ctx: AppContext, pending: PendingApproval) -> bool:
    """The user cancelled the login the link led to: they do not want this login, so the
    client hears `access_denied` (unless another login already holds the request)."""
    return _decide(ctx, pending, None, {"status": "denied"}, cancelled=True)


def _decision_event(
    request: CibaRequest, approved: bool, now: datetime, cancelled: bool
) -> AuditEvent:
    """Never the auth_req_id or the approval link's token."""
    detail: dict[str, object] = {"scope": " ".join(request.scopes)}
    if cancelled:
        detail["cancelled"] = True
    return AuditEvent(
        "ciba.approved" if approved else "ciba.denied",
        now,
        client_id=request.client_id,
        user_id=request.user_id,
        detail=detail,
    )


def _check_login(pending: PendingApproval, session: SsoSession) -> None:
    # The page checks this first; a decision never rests on the page alone.
    if session.user_id != pending.request.user_id or not pending.accepts(session):
        raise ApprovalGone("not a fresh enough login of the named user")


def _decide(
    ctx: AppContext,
    pending: PendingApproval,
    holder: str | None,
    values: dict[str, object],
    *,
    cancelled: bool = False,
) -> bool:
    request, now = pending.request, ctx.clock.now()
    endpoint = pending.client.backchannel_client_notification_endpoint
    with ctx.store.transaction() as uow:
        decided = uow.ciba.decide(request.auth_req_id_hash, holder, now, values)
        if decided:
            approved = values["status"] == "approved"
            uow.audit.record(_decision_event(request, approved, now, cancelled))
        if decided and request.ping_sealed is not None and endpoint is not None:
            uow.deliveries.enqueue(
                ping_delivery(
                    ctx.random.hex_id(), endpoint, request.ping_sealed, request.client_id, now
                )
            )
    if decided:
        ctx.identity_metrics.ciba_decided(approved=values["status"] == "approved")
        log.info("ciba_decided", client_id=request.client_id, user_id=request.user_id,
                 status=values["status"])  # fmt: skip
        if request.ping_sealed is not None:
            ctx.outbox_signal.notify()
    return decided
