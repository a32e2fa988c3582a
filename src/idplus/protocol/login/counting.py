"""The login counts of /metrics (`idplus_logins_total{method, result}`): a completed login by
the method that proved the user, a refused step by the method of the step and its reason.

Refusals are the audit's `login.failed` ones (login/audit.py): a stale form or a code asked
for too soon is no failed login, and would only blur a failure ratio.
"""

from __future__ import annotations

from idplus.metrics import LoginMethod
from idplus.protocol.assurance import AMR_PASSKEY, AMR_SMS_OTP
from idplus.protocol.authenticators.base import Authenticated
from idplus.protocol.context import AppContext
from idplus.protocol.interaction import Stage
from idplus.protocol.login.audit import NOT_FAILURES
from idplus.protocol.login.state import InteractionView

# The stages that send or check the SMS code.
_CODE_STAGES = frozenset({Stage.OTP, Stage.STEP_UP})


def count_login(ctx: AppContext, proof: Authenticated) -> None:
    """After the transaction that started or renewed the session committed."""
    if proof.upstream is not None:
        method = LoginMethod.UPSTREAM
    elif AMR_PASSKEY in proof.amr:
        method = LoginMethod.PASSKEY
    elif AMR_SMS_OTP in proof.amr:
        method = LoginMethod.PASSWORD_SMS_CODE
    else:
        method = LoginMethod.PASSWORD
    ctx.identity_metrics.login_succeeded(method)


def count_refusal(ctx: AppContext, view: InteractionView, reason: str) -> None:
    """A local login step refused (`reason`: a ProblemReason value)."""
    if reason in NOT_FAILURES:
        return
    at_code = view.stage in _CODE_STAGES
    method = LoginMethod.PASSWORD_SMS_CODE if at_code else LoginMethod.PASSWORD
    ctx.identity_metrics.login_refused(method, reason)


def count_upstream_refusal(ctx: AppContext, reason: str) -> None:
    """An upstream login that cannot go on (`reason`: upstream_failed, upstream_link_refused)."""
    ctx.identity_metrics.login_refused(LoginMethod.UPSTREAM, reason)
