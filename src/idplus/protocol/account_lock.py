"""Users an operator locked (`User.disabled_at`, set by `manage/user_admin.lock_user`).

A locked user logs in by no means (password, SMS code, passkey, upstream provider), refreshes
no token on either front, gets no token from the gateway's password grant, and approves no
device or CIBA request, until unlocked. The lock ends their sessions; `sso.live_login` takes
any session that outlived it in a race for no login at all.

Each flow asks `is_locked` once, where it reads its user, and refuses in its own terms: a login
page says that the account is locked and nothing more, a token request gets `invalid_grant`, an
approval link is gone. The log says why (`ACCOUNT_LOCKED`); the operator's reason for the lock
is in the audit trail (`user.locked`).
"""

from __future__ import annotations

from idplus.models import User

# The reason refusals of a locked user give in logs, audit events and metrics.
ACCOUNT_LOCKED = "account_locked"


def is_locked(user: User) -> bool:
    return user.disabled_at is not None
