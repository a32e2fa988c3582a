"""The store boundary: repository protocols and the unit of work that groups them.

Logic (protocol/, manage/, auth/) sees only these. `store/sql/` implements them on SQLite and
PostgreSQL; any other implementation must pass the same store contract suite
(tests/store/sql/test_store_contract.py). Inserts two processes may race are idempotent, and
every counter that limits an attacker is one atomic statement.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from idplus.models import (
    ApiProduct,
    AuditEvent,
    AuditSubject,
    AuthorizationRequest,
    CibaRequest,
    Client,
    ClientSecret,
    CodeGrant,
    Company,
    Delivery,
    DeviceRequest,
    GatewayToken,
    Interaction,
    Invitation,
    Membership,
    Passkey,
    PasswordReset,
    PushedRequest,
    RefreshToken,
    SigningKey,
    SsoSession,
    SubscriptionRequest,
    UpstreamAccount,
    UpstreamProvider,
    UpstreamSessionTokens,
    User,
    WebAuthnChallenge,
)

# The user fields an upstream login may refresh (`UserRepository.update_profile`).
PROFILE_FIELDS = frozenset(
    {"given_name", "family_name", "birthdate", "email", "phone_number", "ial"}
)
# The user fields an upstream login may link by.
LINK_FIELDS = frozenset({"email", "phone_number"})


class ClientRepository(Protocol):
    """Client registry rows ⇄ `models.Client`."""

    def exists(self, client_id: str) -> bool: ...

    def insert(self, client: Client, now: datetime) -> bool:
        """False when the client id is taken (also by a concurrent insert): nothing written."""
        ...

    def insert_if_absent(self, client: Client, now: datetime) -> bool:
        """Create a built-in client; processes starting together all succeed, one creates it."""
        ...

    def update(self, client: Client, now: datetime) -> bool:
        """Store the client's settings (not its secrets or subscriptions); False for an
        unknown client."""
        ...

    def insert_secret(self, client_id: str, secret: ClientSecret) -> None: ...

    def delete_secrets(self, secret_ids: Sequence[str]) -> None: ...

    def set_secret_expiry(
        self, client_id: str, secret_id: str, expires_at: datetime | None
    ) -> bool:
        """When the client's secret stops working (a rotation's overlap); False for an unknown
        secret."""
        ...

    def page_of_apps(
        self, *, after: str | None, limit: int, company_ids: Collection[str] | None = None
    ) -> list[Client]:
        """The developer portal's apps (clients with a company), by client_id after `after`;
        `company_ids`: only those companies' apps."""
        ...

    def delete(self, client_id: str) -> bool: ...

    def registered_at(self, client_id: str) -> datetime | None:
        """When the client was registered; None for an unknown one (one indexed lookup)."""
        ...

    def count_of_company(self, company_id: str) -> int:
        """How many clients are apps of the company (a company with apps cannot go)."""
        ...

    def find(self, client_id: str, *, lock: bool = False) -> Client | None:
        """`lock`: hold the row until the transaction ends (a change checked against the
        version read)."""
        ...

    def list_all(self) -> list[Client]: ...


class UserRepository(Protocol):
    """User rows and their tnuid profiles ⇄ `models.User`."""

    def insert(self, user: User, now: datetime) -> None: ...

    def insert_if_absent(self, user: User, now: datetime) -> bool:
        """Create the user unless the username exists; True when this call created it."""
        ...

    def username_taken(self, username: str) -> bool: ...

    def kurtid_taken(self, kurtid: str) -> bool: ...

    def taken_tnuids(self, tnuids: list[str]) -> list[str]: ...

    def find_by_username(self, username: str) -> User | None: ...

    def find_by_kurtid(self, kurtid: str) -> User | None: ...

    def find(self, user_id: str) -> User | None: ...

    def set_password_hash(self, user_id: str, password_hash: str, now: datetime) -> None: ...

    def delete(self, user_id: str) -> bool: ...

    def count(self) -> int: ...

    def users_with_password_where(self, field: str, value: str, limit: int) -> list[User]:
        """Up to `limit` users who have a password and this `field` (one of LINK_FIELDS)."""
        ...

    def update_profile(self, user_id: str, values: dict[str, object], now: datetime) -> None:
        """Set the given PROFILE_FIELDS."""
        ...

    def roles_of(self, user_id: str) -> tuple[str, ...]:
        """The hub roles (policies.USER_ROLES) the user holds, sorted."""
        ...

    def grant_role(self, user_id: str, role: str, now: datetime) -> bool:
        """False when the user holds the role already (also by a concurrent grant)."""
        ...

    def revoke_role(self, user_id: str, role: str) -> bool: ...

    def with_role(self, role: str, *, lock: bool = False) -> list[str]:
        """The ids of the users holding the role. `lock`: hold those rows until the unit of
        work ends (PostgreSQL; SQLite's write lock does it there), so that two changes that
        must each leave an operator are serialised and the second sees the first."""
        ...

    def search(self, text: str, *, after: str | None, limit: int) -> list[User]:
        """Up to `limit` users by id, after the id `after`, whose username, e-mail, phone
        number or kurtid starts with `text` (stored normalised: compare a normalised text), or
        whose given or family name does, case-insensitively ("Kari Nor": given name "Kari…"
        and family name "Nor…"). LIKE's wildcards in `text` match themselves. "" matches all."""
        ...

    def set_disabled(self, user_id: str, at: datetime | None, now: datetime) -> bool:
        """Lock the user as of `at` (None: unlock). False for an unknown user and for one
        already locked (or, unlocking, not locked): of parallel calls, one changes it."""
        ...


class ApiProductRepository(Protocol):
    """API-product registry rows (the gateway's `api:` scopes and their subscribers)."""

    def find(self, scope: str) -> ApiProduct | None: ...

    def insert(self, scope: str, name: str, now: datetime) -> bool:
        """False when the scope is registered already (also by a concurrent insert)."""
        ...

    def add_subscribers(self, scope: str, client_ids: Sequence[str]) -> None: ...

    def list_all(self) -> list[ApiProduct]: ...

    def add_subscribers_to_many(self, scopes: Sequence[str], client_id: str) -> None: ...


class UpstreamProviderRepository(Protocol):
    """Upstream OpenID provider registry rows ⇄ `models.UpstreamProvider`."""

    def insert(self, provider: UpstreamProvider) -> None: ...

    def find(self, provider_id: str, *, lock: bool = False) -> UpstreamProvider | None:
        """`lock`: hold the row until the unit of work ends, so it cannot be removed meanwhile."""
        ...

    def list_all(self) -> list[UpstreamProvider]: ...

    def delete(self, provider_id: str) -> bool: ...


class UpstreamAccountRepository(Protocol):
    """Which local user an upstream account (provider id, upstream `sub`) logs in as."""

    def find_user_id(self, provider_id: str, subject: str) -> str | None: ...

    def insert_if_absent(self, provider_id: str, subject: str, user_id: str, now: datetime) -> bool:
        """Link the account unless it is linked already (parallel first logins both succeed)."""
        ...

    def list_for_user(self, user_id: str) -> list[UpstreamAccount]: ...

    def unlink_unless_last(self, provider_id: str, subject: str, user: User) -> bool:
        """Remove the link, unless the user would be left with no way in (no password and no
        other upstream account), and remember it was removed (`was_unlinked`). Parallel
        unlinks of one user's accounts are serialised."""
        ...

    def was_unlinked(self, provider_id: str, subject: str, user_id: str) -> bool:
        """The user disconnected this upstream account: it must not be linked again."""
        ...

    def delete_provider(self, provider_id: str) -> int:
        """Forget every account of a removed provider (and what was unlinked from it)."""
        ...


class CibaRepository(Protocol):
    """CIBA requests ⇄ `models.CibaRequest`; every state change is one conditional UPDATE."""

    def insert(self, request: CibaRequest) -> None: ...

    def delete(self, auth_req_id_hash: str) -> None: ...

    def find(self, auth_req_id_hash: str) -> CibaRequest | None: ...

    def find_by_approval(self, approval_hash: str) -> CibaRequest | None: ...

    def bind_browser(self, auth_req_id_hash: str, browser_hash: str) -> bool:
        """The first holder (an HMAC of the approving login) keeps the request; True for it."""
        ...

    def decide(
        self,
        auth_req_id_hash: str,
        browser_hash: str | None,
        now: datetime,
        values: dict[str, Any],
    ) -> bool:
        """Approve or deny a pending, live request held by `browser_hash` (None: held by
        nobody yet); False otherwise."""
        ...

    def take_poll(self, auth_req_id_hash: str, now: datetime) -> bool:
        """Record a poll if it keeps the interval (next_poll_at reached); False: too early."""
        ...

    def slow_down(self, auth_req_id_hash: str, step: int, now: datetime) -> None:
        """A poll came too early: the interval grows by `step` seconds from now."""
        ...

    def redeem(self, auth_req_id_hash: str) -> bool:
        """approved → used, once."""
        ...


class UpstreamSessionTokenRepository(Protocol):
    """The upstream ID token and refresh token of a session that an upstream login started."""

    def save(self, session_id: str, tokens: UpstreamSessionTokens, now: datetime) -> None:
        """Insert or replace (a new upstream login in the same session)."""
        ...

    def find(self, session_id: str) -> UpstreamSessionTokens | None: ...

    def delete(self, session_id: str) -> None: ...


class UpstreamLogoutRepository(Protocol):
    """Browsers on their way through upstream logouts (one row per upstream hop)."""

    def insert(
        self, state_hash: str, provider_id: str, next_url: str, expires_at: datetime
    ) -> None: ...

    def consume(self, state_hash: str, provider_id: str, now: datetime) -> str | None:
        """The next URL of a live hop, deleting it (one use); None if unknown or expired."""
        ...


class SessionRepository(Protocol):
    """SSO session rows ⇄ `models.SsoSession`, and which clients each session has served."""

    def insert(self, session: SsoSession, handle_hash: str) -> None: ...

    def find(self, session_id: str) -> SsoSession | None: ...

    def find_with_user(self, session_id: str) -> tuple[SsoSession, User] | None:
        """The session and its user, read together (every grant for a user asks both)."""
        ...

    def find_by_handle(self, handle_hash: str) -> SsoSession | None: ...

    def ids_by_handle(self, handle_hashes: list[str]) -> dict[str, str]:
        """handle hash → session id, for the handles that name a session."""
        ...

    def replace_handle(self, session_id: str, handle_hash: str) -> None:
        """A new cookie handle; the old cookie stops working (no session fixation)."""
        ...

    def reauthenticate(
        self,
        session_id: str,
        *,
        auth_time: datetime,
        acr: str,
        amr: tuple[str, ...],
        idp: str,
        upstream_subject: str | None,
        now: datetime,
        user_agent: str | None = None,
    ) -> None:
        """A new login (prompt=login, max_age, step-up) refreshes what the session asserts;
        a login without a User-Agent keeps the one stored."""
        ...

    def touch(self, session: SsoSession, now: datetime) -> None:
        """Slide the session's expiry forward on use (never backwards)."""
        ...

    def end(self, session_id: str, now: datetime) -> bool: ...

    def add_client(self, session_id: str, client_id: str, now: datetime) -> None:
        """Record that the session served the client; parallel code issues may both call it."""
        ...

    def client_ids(self, session_id: str) -> list[str]: ...

    def extend(self, session: SsoSession, now: datetime) -> None:
        """Give the session a longer lifetime ("remember me" on a later login)."""
        ...

    def active_of_user(self, user_id: str, now: datetime) -> list[SsoSession]: ...

    def page_live(
        self, now: datetime, *, after: str | None, limit: int, user_id: str | None = None
    ) -> list[SsoSession]:
        """Up to `limit` live sessions by id, after the id `after`; `user_id`: only that
        user's (the operator's session list)."""
        ...

    def set_passkey(self, session_id: str, passkey_id: str | None) -> None:
        """Record the passkey the session's latest login used (None: a login without one)."""
        ...

    def active_of_passkey(self, passkey_id: str, now: datetime) -> list[str]:
        """Ids of the live sessions whose login used the passkey."""
        ...


class InteractionRepository(Protocol):
    """Pending authorization requests waiting for the user ⇄ `models.Interaction`."""

    def insert(self, interaction: Interaction) -> None: ...

    def save(self, interaction: Interaction) -> None:
        """Store the login's progress (stage, user, provider …); never its one-time-code state."""
        ...

    def find(self, id_hash: str) -> Interaction | None: ...

    def find_by_upstream_state(self, state_hash: str) -> Interaction | None:
        """The login whose upstream `state` has this HMAC (federation callback)."""
        ...

    def save_request(self, id_hash: str, request: AuthorizationRequest) -> None:
        """Replace the request alone (a language picked mid-login); the progress stays."""
        ...

    def record_otp_sent(
        self,
        id_hash: str,
        *,
        otp_hash: str,
        expires_at: datetime,
        max_sends: int,
        not_sent_since: datetime,
        now: datetime,
    ) -> bool:
        """Replace the code if fewer than `max_sends` went out, none after `not_sent_since`."""
        ...

    def reserve_otp_attempt(self, id_hash: str, max_attempts: int) -> bool:
        """Count a guess before it is checked; False once the login has used all of them."""
        ...

    def consume(self, id_hash: str) -> bool:
        """Delete it; True only for the one caller that did (a finished login is not replayable)."""
        ...


class CodeRepository(Protocol):
    """Authorization-code rows ⇄ `models.CodeGrant`; consumption is one atomic UPDATE."""

    def insert(self, grant: CodeGrant) -> None: ...

    def find(self, code_hash: str) -> CodeGrant | None: ...

    def consume(self, code_hash: str, now: datetime) -> bool:
        """Mark the code used; True only for the first caller (RFC 6749 §4.1.2: one use)."""
        ...

    def record_issued_access_token(
        self, code_hash: str, jti: str, expires_at: datetime
    ) -> None: ...

    def issued_access_token(self, code_hash: str) -> tuple[str, datetime] | None: ...


class RefreshTokenRepository(Protocol):
    """Refresh-token rows ⇄ `models.RefreshToken`. Rotation consumes with one atomic UPDATE."""

    def insert(self, token: RefreshToken) -> None: ...

    def find(self, token_hash: str) -> RefreshToken | None: ...

    def consume(self, token_id: str, now: datetime) -> bool:
        """Mark a rotating token used; True only for the one caller that did."""
        ...

    def revoke_family(self, family_id: str, now: datetime) -> int: ...

    def revoke_grant(self, grant_id: str, now: datetime) -> int:
        """Every token of the families one authorization (a code, a password grant) began."""
        ...

    def revoke_session(self, session_id: str, now: datetime) -> int: ...

    def clients_of_user(self, user_id: str, now: datetime) -> list[str]:
        """Client ids with at least one live refresh token of the user."""
        ...

    def revoke_user_client(self, user_id: str, client_id: str, now: datetime) -> int: ...


class RevokedAccessTokenRepository(Protocol):
    """Revoked access-token ids (JWTs cannot be recalled, so their jti is refused until expiry)."""

    def revoke(self, jti: str, expires_at: datetime) -> None: ...

    def is_revoked(self, jti: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class AccessTokenStanding:
    """What a signed access token's validity hangs on besides its signature and expiry."""

    # The token, or one it was exchanged from (RFC 8693), is revoked.
    revoked: bool
    # When the token's client was registered (None: no such client any more).
    client_registered_at: datetime | None
    # The session the token's `sid` names (None: no `sid`, or no such session).
    session: SsoSession | None
    # The session's user, when asked for (userinfo).
    user: User | None = None


class AccessTokenStandingRepository(Protocol):
    """A presented access token's standing in one statement: introspection and userinfo ask
    it on every request, so it costs one round trip, not one per table."""

    def of(
        self,
        jtis: Sequence[str],
        client_id: str,
        session_id: str | None,
        *,
        with_user: bool = False,
    ) -> AccessTokenStanding:
        """`jtis`: the token's own first, then those it was exchanged from; `with_user`: the
        session's user too (its profiles one more statement)."""
        ...


class UsedOnceRepository(Protocol):
    """What is accepted once, by the keyed hash of its id, until it expires: private_key_jwt
    assertions (RFC 7523 §3 item 7), DPoP proofs (RFC 9449 §11.1)."""

    def use_once(self, jti_hash: str, expires_at: datetime, now: datetime) -> bool:
        """Record it; False when it is recorded and not expired (a replay), also when another
        instance recorded it at the same moment."""
        ...


class GatewayTokenRepository(Protocol):
    """Opaque reference tokens of the API gateway front ⇄ `models.GatewayToken`."""

    def insert(self, token: GatewayToken) -> None: ...

    def find(self, token_hash: str) -> GatewayToken | None: ...

    def revoke(self, token_hash: str, now: datetime) -> bool: ...

    def revoke_user(self, user_id: str, now: datetime) -> int:
        """Revoke every live token issued for the user (their password changed)."""
        ...

    def revoke_grant(self, grant_id: str, now: datetime) -> int:
        """Revoke every token issued from one authorization (a replayed code's first tokens)."""
        ...


class DeliveryRepository(Protocol):
    """The durable outbox: messages any instance may send, claimed by one at a time."""

    def enqueue(self, delivery: Delivery) -> None:
        """Store a pending delivery; it commits with the unit of work that caused it."""
        ...

    def claim_due(
        self, now: datetime, *, lease_until: datetime, limit: int, kinds: Collection[str]
    ) -> list[Delivery]:
        """Pending deliveries of `kinds` due by `now` and not claimed by a live lease, now
        claimed by the caller until `lease_until` (PostgreSQL: FOR UPDATE SKIP LOCKED, so
        instances never claim the same one). A row that cannot be read is marked failed."""
        ...

    def mark_delivered(self, delivery_id: str, now: datetime) -> None: ...

    def mark_retry(self, delivery_id: str, *, next_attempt_at: datetime, error: str) -> None:
        """Count a failed attempt and release the claim until `next_attempt_at`."""
        ...

    def mark_failed(self, delivery_id: str, now: datetime, error: str) -> None:
        """Count the last attempt and give up (kept for the operator to see)."""
        ...

    def find(self, delivery_id: str) -> Delivery | None: ...


class DeviceRequestRepository(Protocol):
    """Device authorization requests ⇄ `models.DeviceRequest`. State changes are conditional"""

    def insert(self, request: DeviceRequest) -> None: ...

    def user_code_taken(self, user_code: str) -> bool: ...

    def find_by_device_code(self, device_code_hash: str) -> DeviceRequest | None: ...

    def find_by_user_code(self, user_code: str) -> DeviceRequest | None: ...

    def record_poll(self, device_code_hash: str, now: datetime, interval: int) -> None: ...

    def decide(self, user_code: str, values: dict[str, Any]) -> bool:
        """Approve or deny a pending request; False when it was no longer pending."""
        ...

    def redeem(self, device_code_hash: str) -> bool: ...


class ThrottleRepository(Protocol):
    """Attempt counters per key (username, client address, phone number …), each change one
    atomic statement. A window starts with a key's first attempt and holds `limit` of them."""

    def reserve_attempt(
        self, key: str, *, limit: int, window_start: datetime, now: datetime
    ) -> int | None:
        """Count one attempt unless `limit` were counted since the key's window began (a
        window that began at or before `window_start` is over): the attempts counted in the
        window with this one, or None when refused."""
        ...

    def window_started_at(self, key: str) -> datetime | None: ...

    def refund_attempt(self, key: str) -> None:
        """Give back an attempt that turned out to be legitimate (a successful login)."""
        ...

    def clear(self, key: str) -> None: ...


class SigningKeyRepository(Protocol):
    """Signing-key rows ⇄ `models.SigningKey`."""

    def insert(self, key: SigningKey) -> None: ...

    def list_all(self) -> list[SigningKey]: ...

    def retire(self, kids: list[str], publish_until: datetime) -> None:
        """Stop keys from signing once a successor activates; keep them published until then."""
        ...

    def lock(self) -> None:
        """Serialise key creation and rotation between processes (PostgreSQL; SQLite is already)."""
        ...


class ServerSecretRepository(Protocol):
    """Server-wide secrets generated on first start (cookie key, pairwise salt, handle key)."""

    def find_or_create(self, name: str, make_value: Callable[[], str], now: datetime) -> str:
        """The stored value, created on first use; concurrent first starts agree on one value."""
        ...


class AuditRepository(Protocol):
    """The audit trail: an append-only record of credential and registry changes."""

    def record(self, event: AuditEvent) -> None: ...

    def list_events(
        self,
        limit: int = 100,
        *,
        actors: Sequence[str] = (),
        since: datetime | None = None,
        events: Sequence[str] = (),
        before_id: int | None = None,
        changed_by: str | None = None,
        about: AuditSubject | None = None,
    ) -> list[AuditEvent]:
        """Newest first. `actors`: events whose client_id or user_id is one of them; `since`:
        at or after; `events`: names, or prefixes ending in `*`; `before_id`: recorded before
        that event (the next page after it); `changed_by`: made by this actor
        (detail["actor"]); `about`: events about this client, user or other target. An empty
        filter matches all."""
        ...


class PasswordResetRepository(Protocol):
    """Forgotten-password resets in progress ⇄ `models.PasswordReset`; each counter and each
    one-time step is one conditional statement."""

    def insert(self, reset: PasswordReset) -> None: ...

    def find_by_handle(self, handle_hash: str) -> PasswordReset | None: ...

    def find_by_email_token(self, token_hash: str) -> PasswordReset | None: ...

    def record_code_sent(
        self,
        reset_id: str,
        *,
        code_hash: str | None,
        expires_at: datetime,
        max_sends: int,
        not_sent_since: datetime,
        now: datetime,
    ) -> bool:
        """Replace the code (None: by none, when no code could be sent) unless `max_sends`
        went out, one went out after `not_sent_since`, or the code was already verified."""
        ...

    def reserve_code_attempt(self, reset_id: str, max_attempts: int) -> bool:
        """Count a guess before it is compared; False once all of them are used."""
        ...

    def mark_code_verified(self, reset_id: str, *, now: datetime, expires_at: datetime) -> bool:
        """The code was right (once); the reset now lives until `expires_at`."""
        ...

    def record_email_sent(self, reset_id: str, *, token_hash: str, expires_at: datetime) -> bool:
        """Give the reset its one e-mail link, after the code; the reset lives as long."""
        ...

    def confirm_email(
        self,
        token_hash: str,
        *,
        browser_hash: str,
        new_handle_hash: str,
        now: datetime,
        expires_at: datetime,
    ) -> bool:
        """Use the e-mail link once, from the browser that started the reset and before it
        expires; the reset gets a new handle and lives until `expires_at`."""
        ...

    def consume(self, reset_id: str, handle_hash: str) -> bool:
        """Delete the reset; True only for the one caller that did (one reset, one password)."""
        ...

    def delete_of_user(self, user_id: str) -> int:
        """Delete every reset of the user, at any step (a new password ends them all)."""
        ...


class PasskeyRepository(Protocol):
    """Users' WebAuthn credentials ⇄ `models.Passkey`."""

    def insert(self, passkey: Passkey) -> bool:
        """Store it unless its credential id is registered already (to anyone): True when
        this call stored it; parallel registrations of one credential store it once."""
        ...

    def find(self, passkey_id: str) -> Passkey | None: ...

    def find_by_credential_id(self, credential_id: str) -> Passkey | None: ...

    def list_for_user(self, user_id: str) -> list[Passkey]:
        """Oldest first."""
        ...

    def record_use(
        self, passkey_id: str, *, sign_count: int, backed_up: bool, now: datetime
    ) -> bool:
        """Store a login's sign count and backup state, only if the count went up (or both the
        stored and the new count are 0, as synced passkeys report); False otherwise: a cloned
        authenticator, or a parallel login that counted further first."""
        ...

    def delete(self, passkey_id: str, user_id: str) -> bool:
        """Remove the user's passkey; False when it is not theirs (or gone)."""
        ...

    def lock(self, passkey_id: str, user_id: str) -> bool:
        """True when the user's passkey exists, holding its row until the transaction ends
        (SELECT … FOR UPDATE on PostgreSQL; SQLite's write lock does it there): a parallel
        removal waits, then sees what this transaction did."""
        ...


class WebAuthnChallengeRepository(Protocol):
    """Challenges handed to browsers for one registration or login (`models.WebAuthnChallenge`)."""

    def replace(self, challenge: WebAuthnChallenge) -> None:
        """Store it in place of any earlier challenge of the same purpose and binding: one
        live challenge per login or account session, even for parallel callers (an upsert on
        the unique (purpose, binding_hash))."""
        ...

    def consume(
        self, id_hash: str, *, purpose: str, binding_hash: str, now: datetime
    ) -> WebAuthnChallenge | None:
        """Delete the live challenge with this hash, purpose and binding and return it; None
        when there is none (unknown, expired, used, or bound to something else). One atomic
        statement: of parallel callers, one gets it."""
        ...


class PushedRequestRepository(Protocol):
    """Authorization requests pushed to /connect/par (`models.PushedRequest`)."""

    def insert(self, pushed: PushedRequest) -> None: ...

    def consume(self, request_uri_hash: str, client_id: str, now: datetime) -> PushedRequest | None:
        """Delete the client's live pushed request with this hash and return it; None when
        there is none (unknown, expired, used, or another client's). One atomic statement:
        of parallel callers, one gets it."""
        ...


class MaintenanceRepository(Protocol):
    """Deleting rows that can no longer matter: expired one-time artefacts and dead tokens."""

    def prune_expired(
        self, now: datetime, limit: int | None = None, only: Collection[str] | None = None
    ) -> dict[str, int]:
        """Delete what expired by `now`: at most `limit` rows of each table (None: all), of
        the tables named in `only` (None: every one); the rows deleted, by table."""
        ...

    def prune_audit_events(self, before: datetime, limit: int) -> int:
        """Delete up to `limit` of the oldest audit events older than `before`; how many."""
        ...


class RegistryRepository(Protocol):
    """The registries' generation: raised in the same transaction by every change to clients,
    their secrets, API products and subscribers, signing keys and upstream providers (the
    store does it itself, so no write path can forget). Caches compare it to know they are
    stale."""

    def generation(self) -> int: ...

    def lock(self) -> None:
        """Hold the generation's row until the unit of work ends: the changes that must not
        run side by side (removing operators) take it first."""
        ...


class CompanyRepository(Protocol):
    """Developer portal companies and their members ⇄ `models.Company`, `models.Membership`."""

    def insert(self, company: Company) -> None: ...

    def find(self, company_id: str, *, lock: bool = False) -> Company | None:
        """`lock`: hold the row until the unit of work ends (member changes of one company
        are serialised by it, so two cannot both remove "another" admin)."""
        ...

    def rename(self, company_id: str, name: str) -> bool: ...

    def delete(self, company_id: str) -> bool: ...

    def page(self, *, after: str | None, limit: int, user_id: str | None = None) -> list[Company]:
        """By id, after `after`; `user_id`: only the companies that user belongs to."""
        ...

    def add_member(self, membership: Membership) -> bool:
        """False when the user is a member already (also by a concurrent add)."""
        ...

    def role_of(self, company_id: str, user_id: str) -> str | None: ...

    def members(self, company_id: str) -> list[Membership]: ...

    def memberships_of(self, user_id: str) -> list[Membership]: ...

    def set_role(self, company_id: str, user_id: str, role: str) -> bool: ...

    def remove_member(self, company_id: str, user_id: str) -> bool: ...

    def admin_count(self, company_id: str) -> int: ...


class InvitationRepository(Protocol):
    """E-mailed invitations to join a company ⇄ `models.Invitation`, found by the HMAC of
    their link's token (the token itself is never stored)."""

    def insert(self, invitation: Invitation) -> None: ...

    def find(self, invitation_id: str) -> Invitation | None: ...

    def find_pending(self, token_hash: str, now: datetime) -> Invitation | None:
        """The invitation of this token, unless it was accepted or expired by `now`."""
        ...

    def pending_of_company(self, company_id: str, now: datetime) -> list[Invitation]:
        """Neither accepted nor expired, oldest first."""
        ...

    def accept(self, token_hash: str, user_id: str, now: datetime) -> Invitation | None:
        """Use the invitation once: one conditional UPDATE, so of concurrent acceptances one
        gets it and the others None (as for an unknown, used or expired token)."""
        ...

    def revoke(self, company_id: str, invitation_id: str) -> bool:
        """Delete the company's invitation unless it was accepted; False: nothing deleted."""
        ...


class SubscriptionRequestRepository(Protocol):
    """Apps' requests for API products ⇄ `models.SubscriptionRequest`."""

    def insert(self, request: SubscriptionRequest) -> bool:
        """False when the app has a pending request for the product already (also one sent at
        the same moment): nothing written."""
        ...

    def find(self, request_id: str) -> SubscriptionRequest | None: ...

    def decide(
        self,
        request_id: str,
        *,
        status: str,
        decided_by: str,
        decided_at: datetime,
        reason: str | None = None,
    ) -> SubscriptionRequest | None:
        """Pending → `status` in one statement; None when it is not pending (decided already,
        also by a concurrent decision) or unknown."""
        ...

    def cancel(self, request_id: str) -> bool:
        """Withdraw a pending request; False when it is not pending or unknown."""
        ...

    def page(
        self,
        *,
        after: tuple[datetime, str] | None,
        limit: int,
        status: str | None = None,
        company_ids: Collection[str] | None = None,
    ) -> list[SubscriptionRequest]:
        """Oldest first, by (requested_at, id) after `after`; `company_ids`: only the requests
        of those companies' apps."""
        ...

    def of_client(self, client_id: str, *, limit: int) -> list[SubscriptionRequest]:
        """The app's requests, newest first: the `limit` newest, and every pending one even
        when older."""
        ...


class UnitOfWork(Protocol):
    """One transaction's view of every repository; it commits when its block ends
    without an exception and rolls back otherwise."""

    @property
    def clients(self) -> ClientRepository: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def api_products(self) -> ApiProductRepository: ...

    @property
    def upstream_providers(self) -> UpstreamProviderRepository: ...

    @property
    def upstream_accounts(self) -> UpstreamAccountRepository: ...

    @property
    def upstream_session_tokens(self) -> UpstreamSessionTokenRepository: ...

    @property
    def ciba(self) -> CibaRepository: ...

    @property
    def upstream_logouts(self) -> UpstreamLogoutRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def interactions(self) -> InteractionRepository: ...

    @property
    def codes(self) -> CodeRepository: ...

    @property
    def refresh_tokens(self) -> RefreshTokenRepository: ...

    @property
    def revoked_access_tokens(self) -> RevokedAccessTokenRepository: ...

    @property
    def access_token_standing(self) -> AccessTokenStandingRepository: ...

    @property
    def client_assertions(self) -> UsedOnceRepository: ...

    @property
    def dpop_proofs(self) -> UsedOnceRepository: ...

    @property
    def gateway_tokens(self) -> GatewayTokenRepository: ...

    @property
    def deliveries(self) -> DeliveryRepository: ...

    @property
    def devices(self) -> DeviceRequestRepository: ...

    @property
    def throttles(self) -> ThrottleRepository: ...

    @property
    def signing_keys(self) -> SigningKeyRepository: ...

    @property
    def server_secrets(self) -> ServerSecretRepository: ...

    @property
    def audit(self) -> AuditRepository: ...

    @property
    def maintenance(self) -> MaintenanceRepository: ...

    @property
    def password_resets(self) -> PasswordResetRepository: ...

    @property
    def passkeys(self) -> PasskeyRepository: ...

    @property
    def webauthn_challenges(self) -> WebAuthnChallengeRepository: ...

    @property
    def pushed_requests(self) -> PushedRequestRepository: ...

    @property
    def companies(self) -> CompanyRepository: ...

    @property
    def registry(self) -> RegistryRepository: ...

    @property
    def subscription_requests(self) -> SubscriptionRequestRepository: ...

    @property
    def invitations(self) -> InvitationRepository: ...


class StoreUnavailable(Exception):
    """The store cannot be reached (readiness probes report it; nothing else catches it)."""


class Store(Protocol):
    """Where units of work come from; one per request (or per command)."""

    @property
    def dialect_name(self) -> str: ...

    def transaction(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work that may write; on SQLite it holds the write lock throughout."""
        ...

    def reading(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work that only reads (on SQLite: no write lock)."""
        ...

    def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""
        ...

    def dispose(self) -> None: ...
