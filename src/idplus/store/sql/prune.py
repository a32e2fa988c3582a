"""Deleting rows that can no longer matter: expired one-time artefacts and dead tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.store.sql.tables import (
    audit_events,
    authorization_codes,
    ciba_requests,
    client_assertion_jtis,
    company_invitations,
    deliveries,
    device_requests,
    dpop_proof_jtis,
    gateway_tokens,
    interactions,
    login_throttle,
    password_resets,
    pushed_requests,
    refresh_tokens,
    revoked_access_tokens,
    sso_sessions,
    upstream_logouts,
    upstream_session_tokens,
    webauthn_challenges,
)

# Kept a while after expiry: a late replay of a code should still revoke what it issued.
CODE_GRACE = timedelta(days=1)
# Ended sessions stay visible in the audit of a user's account for a month.
SESSION_GRACE = timedelta(days=30)
# Finished deliveries stay a week, for an operator asking whether a logout reached an RP.
DELIVERY_GRACE = timedelta(days=7)


class SqlMaintenance:
    """Deleting rows that can no longer matter: expired one-time artefacts and dead tokens."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def prune_expired(self, now: datetime) -> dict[str, int]:
        deletions = {
            "interactions": sa.delete(interactions).where(interactions.c.expires_at <= now),
            "password_resets": sa.delete(password_resets).where(
                password_resets.c.expires_at <= now
            ),
            "authorization_codes": sa.delete(authorization_codes).where(
                authorization_codes.c.expires_at <= now - CODE_GRACE
            ),
            "device_requests": sa.delete(device_requests).where(
                device_requests.c.expires_at <= now
            ),
            "revoked_access_tokens": sa.delete(revoked_access_tokens).where(
                revoked_access_tokens.c.expires_at <= now
            ),
            "client_assertion_jtis": sa.delete(client_assertion_jtis).where(
                client_assertion_jtis.c.expires_at <= now
            ),
            "dpop_proof_jtis": sa.delete(dpop_proof_jtis).where(
                dpop_proof_jtis.c.expires_at <= now
            ),
            "refresh_tokens": sa.delete(refresh_tokens).where(refresh_tokens.c.expires_at <= now),
            "gateway_tokens": sa.delete(gateway_tokens).where(gateway_tokens.c.expires_at <= now),
            "deliveries": sa.delete(deliveries).where(
                deliveries.c.finished_at <= now - DELIVERY_GRACE
            ),
            "login_throttle": sa.delete(login_throttle).where(
                login_throttle.c.window_started_at <= now - timedelta(days=1),
            ),
            "ciba_requests": sa.delete(ciba_requests).where(ciba_requests.c.expires_at <= now),
            "webauthn_challenges": sa.delete(webauthn_challenges).where(
                webauthn_challenges.c.expires_at <= now
            ),
            "pushed_requests": sa.delete(pushed_requests).where(
                pushed_requests.c.expires_at <= now
            ),
            "upstream_logouts": sa.delete(upstream_logouts).where(
                upstream_logouts.c.expires_at <= now
            ),
            # Used or not, an invitation past its expiry opens nothing; the audit trail keeps
            # who was invited and who accepted.
            "company_invitations": sa.delete(company_invitations).where(
                company_invitations.c.expires_at <= now
            ),
            # An upstream ID token is personal data: kept only while its session can end.
            "upstream_session_tokens": sa.delete(upstream_session_tokens).where(
                upstream_session_tokens.c.session_id.in_(
                    sa.select(sso_sessions.c.id).where(
                        sa.or_(
                            sso_sessions.c.ended_at.is_not(None), sso_sessions.c.expires_at <= now
                        )
                    )
                )
            ),
            "sso_sessions": sa.delete(sso_sessions).where(
                sa.or_(
                    sso_sessions.c.ended_at <= now - SESSION_GRACE,
                    sso_sessions.c.expires_at <= now - SESSION_GRACE,
                )
            ),
        }
        return {
            name: self._conn.execute(statement).rowcount for name, statement in deletions.items()
        }

    def prune_audit_events(self, before: datetime, limit: int) -> int:
        """Delete up to `limit` of the oldest events older than `before`: one short
        transaction per batch, so a year of backlog never holds the write lock for long."""
        oldest = (
            sa.select(audit_events.c.id)
            .where(audit_events.c.at < before)
            .order_by(audit_events.c.id)
            .limit(limit)
        )
        return self._conn.execute(
            sa.delete(audit_events).where(audit_events.c.id.in_(oldest.scalar_subquery()))
        ).rowcount
