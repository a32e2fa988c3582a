"""Identity metrics for /metrics: logins, lockouts, SMS, tokens, refresh-token reuse, back-channel
deliveries, device and CIBA decisions — what an operator asks when logins go wrong, beside the
HTTP metrics of web/middleware.py.

Counters only, created once per application on its own registry: under `idplus serve --workers
N` prometheus_client's multiprocess mode sums counters across workers, which a gauge would not
do meaningfully. Every label value comes from a closed set (an enum, a grant type the server
serves, a delivery kind it sends): never a client id, a user or anything a request chooses.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from idplus.logs import get_logger

_log = get_logger(__name__)


class LoginMethod(StrEnum):
    """How a login proved the user (a refusal: the method of the step that refused)."""

    PASSWORD = "password"
    PASSWORD_SMS_CODE = "password_sms_code"
    UPSTREAM = "upstream"
    # A passkey (a login with it, or a step-up with it instead of the SMS code).
    PASSKEY = "passkey"


LOGIN_SUCCESS = "success"
# A refused upstream login (the upstream is down, answered something unusable, …).
UPSTREAM_FAILED = "upstream_failed"


class LockoutScope(StrEnum):
    """What the password throttle locked: a username, or a client address (IPv6: its /64)."""

    USERNAME = "username"
    ADDRESS = "address"


class SmsPurpose(StrEnum):
    """Which text an SMS is (auth/sms_texts.py)."""

    LOGIN_CODE = "login_code"
    PASSWORD_RESET = "password_reset"
    PASSWORD_CHANGED = "password_changed"
    CIBA = "ciba"
    PASSKEY_ADDED = "passkey_added"
    PASSKEY_REMOVED = "passkey_removed"


class TokenKind(StrEnum):
    ACCESS_TOKEN = "access_token"
    REFRESH_TOKEN = "refresh_token"
    ID_TOKEN = "id_token"


class DeliveryResult(StrEnum):
    """One attempt of an outbox delivery."""

    DELIVERED = "delivered"
    # It failed, and will be tried again.
    RETRIED = "retried"
    # It failed for good (a final answer, or the last attempt): the receiver never gets it.
    ABANDONED = "abandoned"


class _Family:
    """A counter whose label children are kept once seen: `labels()` takes a lock and builds
    a key each call, too much beside a token issuance."""

    def __init__(self, name: str, counter: Counter) -> None:
        self._name = name
        self._counter = counter
        self._children: dict[tuple[str, ...], Any] = {}

    def inc(self, *labels: str) -> None:
        child = self._children.get(labels)
        try:
            if child is None:
                # Two threads may both get here: labels() hands both the same child.
                child = self._children[labels] = self._counter.labels(*labels)
            child.inc()
        except OSError:
            # Counting runs after the work committed (a token issued, a login finished): a
            # full or vanished multiprocess directory must not turn that into an error.
            _log.exception("metric_not_counted", metric=self._name)


class IdentityMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, documentation: str, labels: list[str]) -> _Family:
            return _Family(name, Counter(name, documentation, labels, registry=registry))

        self._logins = counter(
            "idplus_logins",
            "Completed logins (result=success) and refused login steps (result=the reason), "
            "by method.",
            ["method", "result"],
        )
        self._lockouts = counter(
            "idplus_lockouts",
            "Usernames or client addresses the password throttle locked (once per lock).",
            ["scope"],
        )
        self._sms = counter(
            "idplus_sms", "SMS handed to the sender, by purpose and result.", ["purpose", "result"]
        )
        self._tokens = counter(
            "idplus_tokens_issued",
            "Tokens issued by the token endpoints (/connect and /oauth/v2), by grant, client "
            "type and token.",
            ["grant_type", "client_type", "token"],
        )
        self._refresh_reuse = counter(
            "idplus_refresh_token_reuse",
            "Rotated refresh tokens presented again (their family was revoked), by client type.",
            ["client_type"],
        )
        self._deliveries = counter(
            "idplus_backchannel_deliveries",
            "Attempts of outbox deliveries (back-channel logout, CIBA ping), by kind and result.",
            ["kind", "result"],
        )
        self._device = counter(
            "idplus_device_decisions",
            "Device-flow requests approved or denied by the user.",
            ["decision"],
        )
        self._ciba = counter(
            "idplus_ciba_decisions", "CIBA requests approved or denied by the user.", ["decision"]
        )

    def login_succeeded(self, method: LoginMethod) -> None:
        self._logins.inc(method.value, LOGIN_SUCCESS)

    def login_refused(self, method: LoginMethod, reason: str) -> None:
        """`reason`: a value of a closed set (a ProblemReason, UPSTREAM_FAILED)."""
        self._logins.inc(method.value, reason)

    def locked_out(self, scope: LockoutScope) -> None:
        self._lockouts.inc(scope.value)

    def sms(self, purpose: SmsPurpose, *, sent: bool) -> None:
        self._sms.inc(purpose.value, "sent" if sent else "failed")

    def tokens_issued(self, grant_type: str, client_type: str, tokens: Iterable[TokenKind]) -> None:
        for token in tokens:
            self._tokens.inc(grant_type, client_type, token.value)

    def refresh_token_reused(self, client_type: str) -> None:
        self._refresh_reuse.inc(client_type)

    def delivery(self, kind: str, result: DeliveryResult) -> None:
        self._deliveries.inc(kind, result.value)

    def device_decided(self, *, approved: bool) -> None:
        self._device.inc(_decision(approved))

    def ciba_decided(self, *, approved: bool) -> None:
        self._ciba.inc(_decision(approved))


def _decision(approved: bool) -> str:
    return "approved" if approved else "denied"
