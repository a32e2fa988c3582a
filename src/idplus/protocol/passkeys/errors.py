"""Why a passkey ceremony is refused: one exception with a machine reason.

The web layer turns the reason into a clear message on the page and a structured log line
(with `detail`, which never holds the credential, a challenge or a key); none of them is a 5xx
and none opens a session.
"""

from __future__ import annotations

from enum import StrEnum


class PasskeyProblemReason(StrEnum):
    # Passkeys are off for this issuer (an IP address, plain http off localhost).
    UNAVAILABLE = "unavailable"
    # The challenge is unknown, expired, used already, or belongs to another login or session.
    CHALLENGE_UNKNOWN = "challenge_unknown"
    # No passkey with this credential id is registered (removed, or never here).
    CREDENTIAL_UNKNOWN = "credential_unknown"
    # The passkey is another user's than the login (step-up), the challenge or its user handle.
    USER_MISMATCH = "user_mismatch"
    # Made for another site: the browser's origin or the authenticator's rp id is not ours.
    ORIGIN_OR_RP_MISMATCH = "origin_or_rp_mismatch"
    # Not a WebAuthn response at all (bad JSON, base64url, CBOR, client data …).
    MALFORMED = "malformed"
    # The signature, attestation or flags (user verification) do not verify.
    VERIFICATION_FAILED = "verification_failed"
    # The authenticator's sign count did not go up: a cloned authenticator, or a replay.
    SIGN_COUNT = "sign_count"
    # The credential is registered already (to this user or another).
    ALREADY_REGISTERED = "already_registered"
    # Adding a passkey needs a two-factor login within the last minutes (registration).
    FRESH_LOGIN_REQUIRED = "fresh_login_required"
    # The account has neither a phone number nor an e-mail address: nobody could be told of
    # a new passkey, so none is added (registration).
    NO_CONTACT = "no_contact"


class PasskeyProblem(Exception):
    """A refused passkey ceremony. `detail` is for the log line only (never shown)."""

    def __init__(self, reason: PasskeyProblemReason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail
