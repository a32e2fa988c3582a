"""Issuing authorization codes (RFC 6749 §4.1.2): 256 random bits, stored only as an HMAC."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from idplus.crypto.hashing import hash_handle, new_handle
from idplus.models import AuthorizationRequest, CodeGrant, SsoSession, User
from idplus.store.sql.codes import insert_code


def issue_code(
    conn: Connection,
    *,
    handle_key: bytes,
    request: AuthorizationRequest,
    session: SsoSession,
    user: User,
    now: datetime,
    lifetime: timedelta,
) -> str:
    code = new_handle(32)
    insert_code(
        conn,
        CodeGrant(
            code_hash=hash_handle(handle_key, code),
            grant_id=str(uuid.uuid4()),
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
            claims={"preferred_username": user.username},
        ),
    )
    return code
