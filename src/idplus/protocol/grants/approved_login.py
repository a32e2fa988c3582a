"""The tokens of a login the user approved on another device (RFC 8628 device flow, CIBA):
the approval's scopes and login, the live session it is bound to, a new refresh lineage."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from idplus.models import Client, SsoSession, User
from idplus.protocol.context import AppContext
from idplus.protocol.grant import Grant
from idplus.protocol.grants import Front
from idplus.protocol.issuance import TokenResponse, issue_tokens, new_lineage
from idplus.store.base import UnitOfWork


class Approval(Protocol):
    """What a device request and a CIBA request both keep of the approving login."""

    @property
    def scopes(self) -> Sequence[str]: ...

    @property
    def auth_time(self) -> datetime | None: ...

    @property
    def acr(self) -> str | None: ...

    @property
    def amr(self) -> tuple[str, ...]: ...

    @property
    def idp(self) -> str | None: ...


def tokens_for_approval(
    uow: UnitOfWork,
    ctx: AppContext,
    front: Front,
    client: Client,
    approval: Approval,
    login: tuple[SsoSession, User],
    now: datetime,
) -> TokenResponse:
    session, user = login
    uow.sessions.add_client(session.id, client.client_id, now)
    grant = Grant(
        client=client,
        scopes=front.granted_scopes(tuple(approval.scopes)),
        user=user,
        session_id=session.id,
        auth_time=approval.auth_time,
        acr=approval.acr,
        amr=approval.amr,
        idp=approval.idp,
        extsub=session.upstream_subject,
        preferred_username=user.username,
    )
    return issue_tokens(ctx, front.tokens, grant, now, uow=uow, lineage=new_lineage(ctx.random))
