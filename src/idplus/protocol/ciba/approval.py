"""The user's side of CIBA: the approval link from the SMS, opened in one browser, a fresh
login as the user the request names, then approve or deny (CIBA Core 1.0 §8).

A decision needs a login made after the request (the phone's session alone proves nothing
about now), as the named user, at level 2 for the BankID-style flow. The first browser to show
the approve / deny page after such a login keeps the request: the link then works nowhere else,
and not at all once answered or expired. (Binding before the login would not hold: every login
gives the browser a new id.)
Deciding a ping-mode request queues the client's ping in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from idplus.crypto.hashing import hash_handle
from idplus.logs import get_logger
from idplus.models import CibaRequest, Client, SsoSession, User
from idplus.outbound.ciba_ping import ping_delivery
from idplus.policies import level_of_acr
from idplus.protocol.ciba.request import approval_hash
from idplus.protocol.context import AppContext

log = get_logger(__name__)

# The BankID-style flow proves two factors.
BANKID_LEVEL = 2


class ApprovalGone(Exception):
    """Unknown, expired, answered, or opened first in another browser (reason for the log)."""


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


def _browser_hash(ctx: AppContext, browser_id: str) -> str:
    return hash_handle(ctx.secrets.handle_key, f"browser:{browser_id}")


def open_approval(ctx: AppContext, approval: str, browser_id: str) -> PendingApproval:
    """The pending request of an approval link, unless another browser holds it."""
    now = ctx.clock.now()
    with ctx.store.reading() as uow:
        request = uow.ciba.find_by_approval(approval_hash(ctx, approval)) if approval else None
        if request is None or request.status != "pending" or request.expires_at <= now:
            raise ApprovalGone("unknown, answered or expired")
        if request.browser_hash not in (None, _browser_hash(ctx, browser_id)):
            raise ApprovalGone("held by another browser")
        client = uow.clients.find(request.client_id)
        user = uow.users.find(request.user_id)
    if client is None or user is None:
        raise ApprovalGone("client or user removed")
    return PendingApproval(request, client, user)


def hold(ctx: AppContext, pending: PendingApproval, browser_id: str) -> None:
    """This browser, logged in as the named user, keeps the request (the first one does)."""
    with ctx.store.transaction() as uow:
        held = uow.ciba.bind_browser(
            pending.request.auth_req_id_hash, _browser_hash(ctx, browser_id)
        )
    if not held:
        raise ApprovalGone("held by another browser")


def decide(
    ctx: AppContext,
    pending: PendingApproval,
    browser_id: str,
    session: SsoSession,
    *,
    approve: bool,
) -> bool:
    """Approve (binding the session's login) or deny; False when it was no longer pending."""
    request, now = pending.request, ctx.clock.now()
    if session.user_id != request.user_id or not pending.accepts(session):
        # The page checks this first; a decision never rests on the page alone.
        raise ApprovalGone("not a fresh enough login of the named user")
    values: dict[str, object] = {"status": "approved" if approve else "denied"}
    if approve:
        values.update(
            session_id=session.id,
            auth_time=session.auth_time,
            acr=session.acr,
            amr=list(session.amr),
            idp=session.idp,
        )
    endpoint = pending.client.backchannel_client_notification_endpoint
    with ctx.store.transaction() as uow:
        decided = uow.ciba.decide(
            request.auth_req_id_hash, _browser_hash(ctx, browser_id), now, values
        )
        if decided and request.ping_sealed is not None and endpoint is not None:
            uow.deliveries.enqueue(
                ping_delivery(
                    ctx.random.hex_id(), endpoint, request.ping_sealed, request.client_id, now
                )
            )
    if decided:
        log.info("ciba_decided", client_id=request.client_id, user_id=request.user_id,
                 approved=approve)  # fmt: skip
        if request.ping_sealed is not None:
            ctx.outbox_signal.notify()
    return decided
