"""How a login ends: with a proof (session started or renewed, new cookie handle, code issued),
with "continue as …" (the session as it is), or cancelled (`access_denied` for the client).

Each consumes the interaction first, in the same transaction: only one request can end a login.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from idplus.auth.providers import LOCAL_PROVIDER_ID
from idplus.errors import AccessDenied
from idplus.models import Authentication
from idplus.protocol.account_lock import ACCOUNT_LOCKED, is_locked
from idplus.protocol.authenticators.base import Authenticated
from idplus.protocol.authorization_response import AuthorizationResponse, error_response
from idplus.protocol.context import AppContext
from idplus.protocol.interaction import complete_authorization, target_of
from idplus.protocol.login.audit import record_login_succeeded
from idplus.protocol.login.counting import count_login
from idplus.protocol.login.results import Cancelled, LoginFinished
from idplus.protocol.login.state import InteractionGone, InteractionView
from idplus.protocol.sso import (
    SignedInSession,
    live_session,
    session_lifetime,
    sso_group,
    start_or_renew_session,
)
from idplus.store.base import UnitOfWork


def finish_login(
    ctx: AppContext, view: InteractionView, proof: Authenticated, user_agent: str | None = None
) -> LoginFinished:
    now, interaction, client = ctx.clock.now(), view.interaction, view.client
    authentication = Authentication(
        user_id=proof.user.id,
        auth_time=min(proof.auth_time, now) if proof.auth_time is not None else now,
        amr=proof.amr,
        acr=proof.acr,
        idp=interaction.provider or LOCAL_PROVIDER_ID,
        upstream_subject=proof.upstream.subject if proof.upstream is not None else None,
    )
    group = sso_group(client)
    browser_session = timedelta(seconds=ctx.settings.sso_session_lifetime)
    with ctx.store.transaction() as uow:
        if not uow.interactions.consume(interaction.id_hash):
            raise InteractionGone("already finished")
        # Each authenticator refused a locked user where it read them; this catches a lock
        # that came since (the page it shows then is the expired login's).
        current = uow.users.find(proof.user.id)
        if current is None or is_locked(current):
            raise InteractionGone(f"the user is gone or locked ({ACCOUNT_LOCKED})")
        # A passkey's login holds its row until the session is in: a removal in parallel
        # waits and then ends that session too, or came first and the login is gone.
        if proof.passkey_id is not None and not uow.passkeys.lock(proof.passkey_id, proof.user.id):
            raise InteractionGone("the passkey is gone")
        signed_in = start_or_renew_session(
            uow,
            handle_key=ctx.secrets.handle_key,
            group=group,
            authentication=authentication,
            lifetime=session_lifetime(client, proof.remember_me, browser_session),
            existing=live_session(uow, interaction.session_id, now),
            now=now,
            random=ctx.random,
            user_agent=user_agent,
        )
        if proof.upstream is not None:
            uow.upstream_session_tokens.save(signed_in.session.id, proof.upstream.tokens, now)
        signed_in = _record_passkey(uow, signed_in, proof.passkey_id)
        record_login_succeeded(uow, view, proof, signed_in.session, now)
        request = interaction.request
        if request.return_to is not None:
            # A login for one of idplus's own pages: back to it, no code.
            response = AuthorizationResponse(ctx.settings.issuer + request.return_to, "query", {})
        else:
            response = complete_authorization(
                uow,
                ctx,
                request=request,
                client=client,
                session=signed_in.session,
                user=proof.user,
                now=now,
            )
    count_login(ctx, proof)
    return LoginFinished(response, signed_in.session, group, signed_in.handle)


def _record_passkey(
    uow: UnitOfWork, signed_in: SignedInSession, passkey_id: str | None
) -> SignedInSession:
    """The session remembers the passkey of its latest login, and forgets it after a login by
    other means: removing a passkey ends only the sessions it opened or renewed."""
    if signed_in.session.passkey_id == passkey_id:
        return signed_in
    uow.sessions.set_passkey(signed_in.session.id, passkey_id)
    return replace(signed_in, session=replace(signed_in.session, passkey_id=passkey_id))


def continue_session(ctx: AppContext, view: InteractionView) -> LoginFinished:
    """ "Continue as …": the session as it is, no new login (so no new cookie handle)."""
    now = ctx.clock.now()
    with ctx.store.transaction() as uow:
        session = live_session(uow, view.interaction.session_id, now)
        if session is None or view.user is None or session.user_id != view.user.id:
            raise InteractionGone("the session is gone")
        if not uow.interactions.consume(view.interaction.id_hash):
            raise InteractionGone("already finished")
        response = complete_authorization(
            uow,
            ctx,
            request=view.interaction.request,
            client=view.client,
            session=session,
            user=view.user,
            now=now,
        )
    return LoginFinished(response, session, sso_group(view.client))


def cancel(ctx: AppContext, view: InteractionView) -> Cancelled:
    with ctx.store.transaction() as uow:
        if not uow.interactions.consume(view.interaction.id_hash):
            raise InteractionGone("already finished")
    error = AccessDenied("the user cancelled the login")
    target = target_of(view.interaction.request)
    return Cancelled(error_response(target, ctx.settings.issuer, error))
