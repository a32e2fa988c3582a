"""The SQL unit of work: one connection in one transaction, and the repositories over it.

Repositories are made on first use, so a request that touches two of them pays for two.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from idplus.config import Settings
from idplus.store.base import StoreUnavailable
from idplus.store.sql.api_products import SqlApiProducts
from idplus.store.sql.audit import SqlAudit
from idplus.store.sql.ciba import SqlCiba
from idplus.store.sql.clients import SqlClients
from idplus.store.sql.codes import SqlCodes
from idplus.store.sql.companies import SqlCompanies
from idplus.store.sql.deliveries import SqlDeliveries
from idplus.store.sql.devices import SqlDevices
from idplus.store.sql.engine import Database, PoolSizing
from idplus.store.sql.gateway_tokens import SqlGatewayTokens
from idplus.store.sql.interactions import SqlInteractions
from idplus.store.sql.invitations import SqlInvitations
from idplus.store.sql.passkeys import SqlPasskeys, SqlWebAuthnChallenges
from idplus.store.sql.password_resets import SqlPasswordResets
from idplus.store.sql.prune import SqlMaintenance
from idplus.store.sql.pushed_requests import SqlPushedRequests
from idplus.store.sql.refresh_tokens import SqlRefreshTokens
from idplus.store.sql.registry import SqlRegistry
from idplus.store.sql.revoked_tokens import SqlRevokedAccessTokens
from idplus.store.sql.server_secrets import SqlServerSecrets
from idplus.store.sql.sessions import SqlSessions
from idplus.store.sql.signing_keys import SqlSigningKeys
from idplus.store.sql.subscriptions import SqlSubscriptionRequests
from idplus.store.sql.tables import client_assertion_jtis, dpop_proof_jtis
from idplus.store.sql.throttle import SqlThrottles
from idplus.store.sql.token_standing import SqlAccessTokenStanding
from idplus.store.sql.upstream_accounts import SqlUpstreamAccounts
from idplus.store.sql.upstream_providers import SqlUpstreamProviders
from idplus.store.sql.upstream_sessions import SqlUpstreamLogouts, SqlUpstreamSessionTokens
from idplus.store.sql.used_once import SqlUsedOnce
from idplus.store.sql.users import SqlUsers


class SqlUnitOfWork:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @cached_property
    def clients(self) -> SqlClients:
        return SqlClients(self._conn)

    @cached_property
    def users(self) -> SqlUsers:
        return SqlUsers(self._conn)

    @cached_property
    def api_products(self) -> SqlApiProducts:
        return SqlApiProducts(self._conn)

    @cached_property
    def upstream_providers(self) -> SqlUpstreamProviders:
        return SqlUpstreamProviders(self._conn)

    @cached_property
    def upstream_accounts(self) -> SqlUpstreamAccounts:
        return SqlUpstreamAccounts(self._conn)

    @cached_property
    def upstream_session_tokens(self) -> SqlUpstreamSessionTokens:
        return SqlUpstreamSessionTokens(self._conn)

    @cached_property
    def ciba(self) -> SqlCiba:
        return SqlCiba(self._conn)

    @cached_property
    def upstream_logouts(self) -> SqlUpstreamLogouts:
        return SqlUpstreamLogouts(self._conn)

    @cached_property
    def sessions(self) -> SqlSessions:
        return SqlSessions(self._conn)

    @cached_property
    def interactions(self) -> SqlInteractions:
        return SqlInteractions(self._conn)

    @cached_property
    def codes(self) -> SqlCodes:
        return SqlCodes(self._conn)

    @cached_property
    def refresh_tokens(self) -> SqlRefreshTokens:
        return SqlRefreshTokens(self._conn)

    @cached_property
    def access_token_standing(self) -> SqlAccessTokenStanding:
        return SqlAccessTokenStanding(self._conn)

    @cached_property
    def revoked_access_tokens(self) -> SqlRevokedAccessTokens:
        return SqlRevokedAccessTokens(self._conn)

    @cached_property
    def client_assertions(self) -> SqlUsedOnce:
        return SqlUsedOnce(self._conn, client_assertion_jtis)

    @cached_property
    def dpop_proofs(self) -> SqlUsedOnce:
        return SqlUsedOnce(self._conn, dpop_proof_jtis)

    @cached_property
    def gateway_tokens(self) -> SqlGatewayTokens:
        return SqlGatewayTokens(self._conn)

    @cached_property
    def deliveries(self) -> SqlDeliveries:
        return SqlDeliveries(self._conn)

    @cached_property
    def devices(self) -> SqlDevices:
        return SqlDevices(self._conn)

    @cached_property
    def throttles(self) -> SqlThrottles:
        return SqlThrottles(self._conn)

    @cached_property
    def signing_keys(self) -> SqlSigningKeys:
        return SqlSigningKeys(self._conn)

    @cached_property
    def server_secrets(self) -> SqlServerSecrets:
        return SqlServerSecrets(self._conn)

    @cached_property
    def audit(self) -> SqlAudit:
        return SqlAudit(self._conn)

    @cached_property
    def maintenance(self) -> SqlMaintenance:
        return SqlMaintenance(self._conn)

    @cached_property
    def password_resets(self) -> SqlPasswordResets:
        return SqlPasswordResets(self._conn)

    @cached_property
    def passkeys(self) -> SqlPasskeys:
        return SqlPasskeys(self._conn)

    @cached_property
    def webauthn_challenges(self) -> SqlWebAuthnChallenges:
        return SqlWebAuthnChallenges(self._conn)

    @cached_property
    def pushed_requests(self) -> SqlPushedRequests:
        return SqlPushedRequests(self._conn)

    @cached_property
    def companies(self) -> SqlCompanies:
        return SqlCompanies(self._conn)

    @cached_property
    def registry(self) -> SqlRegistry:
        return SqlRegistry(self._conn)

    @cached_property
    def subscription_requests(self) -> SqlSubscriptionRequests:
        return SqlSubscriptionRequests(self._conn)

    @cached_property
    def invitations(self) -> SqlInvitations:
        return SqlInvitations(self._conn)


class SqlStore:
    """The `store.base.Store` of SQLite and PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @classmethod
    def from_url(cls, url: str, pool: PoolSizing | None = None) -> SqlStore:
        return cls(Database(url, pool))

    @classmethod
    def from_settings(cls, settings: Settings) -> SqlStore:
        pool = PoolSizing(
            size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            timeout_seconds=settings.database_pool_timeout_seconds,
            connect_timeout_seconds=settings.database_connect_timeout_seconds,
            statement_timeout_seconds=settings.database_statement_timeout_seconds,
            lock_timeout_seconds=settings.database_lock_timeout_seconds,
        )
        return cls.from_url(settings.database_url, pool)

    @property
    def dialect_name(self) -> str:
        return self.database.dialect_name

    @contextmanager
    def transaction(self) -> Iterator[SqlUnitOfWork]:
        with _unavailable_as_such(), self.database.transaction() as conn:
            yield SqlUnitOfWork(conn)

    @contextmanager
    def reading(self) -> Iterator[SqlUnitOfWork]:
        with _unavailable_as_such(), self.database.reading() as conn:
            yield SqlUnitOfWork(conn)

    def ping(self) -> None:
        try:
            self.database.ping()
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def dispose(self) -> None:
        self.database.dispose()


# SQLSTATEs of a passing condition: the connection (08), the server's resources (53), a
# shutdown or restart (57P01-57P03), a serialization failure or deadlock victim (40001, 40P01),
# a lock or statement timeout (55P03, 57014), a standby after a failover (25006).
_PASSING_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "40001", "40P01", "55P03", "57014",
                                "25006"})  # fmt: skip
_PASSING_SQLSTATE_CLASSES = ("08", "53")
# SQLite's own: another process holds the file, or the disk failed under it.
_PASSING_SQLITE_MESSAGES = ("database is locked", "database table is locked", "disk I/O error",
                            "unable to open database file")  # fmt: skip


@contextmanager
def _unavailable_as_such() -> Iterator[None]:
    """A server that is down, restarting, frozen or out of connections, a lock or statement
    that timed out, a deadlock victim, SQLite's busy file: a passing condition, raised as
    StoreUnavailable, which the web layer answers 503 with Retry-After. The transaction rolled
    back (or, when the connection died during COMMIT, its outcome is unknown — every write is
    one transaction, so it is whole or absent). Anything else (a bug, a constraint) propagates
    as it was."""
    try:
        yield
    except PoolTimeout as exc:
        raise StoreUnavailable(f"no free connection: {exc}") from exc
    except DBAPIError as exc:
        if not _is_passing(exc):
            raise
        raise StoreUnavailable(f"{type(exc.orig).__name__}: {exc.orig}") from exc


def _is_passing(exc: DBAPIError) -> bool:
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate in _PASSING_SQLSTATES or sqlstate.startswith(_PASSING_SQLSTATE_CLASSES)
    if isinstance(exc, OperationalError):
        if type(exc.orig).__module__.startswith("sqlite3"):
            return any(message in str(exc.orig) for message in _PASSING_SQLITE_MESSAGES)
        return True  # psycopg: a connection that could not be opened, or was lost (no SQLSTATE)
    return False


def _conforms() -> None:
    """mypy checks here that the SQL classes implement the protocols of store/base.py."""
    from idplus.store.base import Store, UnitOfWork

    def uow(conn: Connection) -> UnitOfWork:
        return SqlUnitOfWork(conn)

    def store(database: Database) -> Store:
        return SqlStore(database)
