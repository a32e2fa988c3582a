"""Issuing authorization codes (RFC 6749 §4.1.2): 256 random bits, stored only as an HMAC."""

from __future__ import annotations

from datetime import datetime, timedelta

from idplus.crypto.hashing import hash_handle
from idplus.models import AuthorizationRequest, CodeGrant, SsoSession, User
from idplus.randomness import Randomness
from idplus.store.base import UnitOfWork


def issue_code(
    uow: UnitOfWork,
    *,
    handle_key: bytes,
    request: AuthorizationRequest,
    session: SsoSession,
    user: User,
    now: datetime,
    lifetime: timedelta,
    random: Randomness,
) -> str:
    code = random.handle(32)
    uow.codes.insert(
        CodeGrant(
            code_hash=hash_handle(handle_key, code),
            grant_id=random.hex_id(),
            client_id=request.client_id,
            user_id=user.id,
            session_id=session.id,
            redirect_uri=request.redirect_uri,
            scopes=request.scopes,
            auth_time=session.auth_time,
            acr=session.acr,
            amr=session.amr,
            idp=session.idp,
            created_at=now,
            expires_at=now + lifetime,
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
            dpop_jkt=request.dpop_jkt,
            claims={"preferred_username": user.username},
        ),
    )
    return code
