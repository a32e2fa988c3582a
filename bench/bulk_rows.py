"""Production-sized tables for flat_cost.py, bulk-loaded in SQL (INSERT … SELECT
generate_series), never through HTTP.

Row i of every table belongs together: user i, its profile, session i (one per user), the
session's client, refresh token i of the session, the code and the audit event of its login.
Some sessions ended and some tokens were revoked (rows a server keeps until they expire).
Probe rows (every `step`-th) carry refresh tokens whose values the bench knows, spread over
the whole heap; the bench's requests rotate through them.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg

# Never verified: bench users never log in with a password.
PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$YmVuY2hiZW5jaA$" + "A" * 43

# Row i of a table: pg_temp.k(prefix, i, width) and pg_temp.uuid_key(prefix, i), defined by
# prepare_for_load. Parameters: n (rows), password_hash; rows and sessions for EXPIRED_ROWS.
# Rows that are alive (or kept until they expire), `n` of each.
CURRENT_ROWS = {
    "users": """
        INSERT INTO users (id, username, password_hash, phone_number, email, given_name,
            family_name, kurtid, analytics_uuid, ial, otp_required, legacy, created_at,
            updated_at)
        SELECT pg_temp.uuid_key('user', i), '+47' || (40000000 + i), %(password_hash)s,
            '+47' || (40000000 + i), 'user' || i || '@bench.example', 'Bench', 'User ' || i,
            (500000000000 + i)::text, pg_temp.uuid_key('analytics', i), 1, false, '{}',
            now() - interval '400 days', now() - interval '400 days'
        FROM generate_series(1, %(n)s) AS i""",
    "user_profiles": """
        INSERT INTO user_profiles (tnuid, user_id, position)
        SELECT pg_temp.uuid_key('tnuid', i), pg_temp.uuid_key('user', i), 0
        FROM generate_series(1, %(n)s) AS i""",
    # Every tenth session ended a day ago (kept a month for the account page).
    "sso_sessions": """
        INSERT INTO sso_sessions (id, user_id, sso_group, handle_hash, auth_time, acr, amr,
            idp, persistent, lifetime_seconds, created_at, last_seen_at, expires_at, ended_at,
            user_agent)
        SELECT pg_temp.k('session', i, 32), pg_temp.uuid_key('user', i), 'client:demo-web',
            CASE WHEN i %% 10 = 3 THEN NULL ELSE pg_temp.k('handle', i, 64) END,
            now() - interval '2 days', 'urn:telenor.identity.aal.1',
            '["urn:telenor.identity.amr.td_pwd"]', 'local', true, 1209600,
            now() - interval '2 days', now() - interval '1 hour',
            now() + interval '1 hour' + (i %% 997) * interval '20 minutes',
            CASE WHEN i %% 10 = 3 THEN now() - interval '1 day' END, 'bench'
        FROM generate_series(1, %(n)s) AS i""",
    "session_clients": """
        INSERT INTO session_clients (session_id, client_id, first_seen_at)
        SELECT pg_temp.k('session', i, 32), 'demo-web', now() - interval '2 days'
        FROM generate_series(1, %(n)s) AS i""",
    # Every tenth token was revoked a day ago (kept until it expires). Probes carry the HMAC
    # of a token value the bench knows.
    "refresh_tokens": """
        INSERT INTO refresh_tokens (id, token_hash, family_id, grant_id, client_id, user_id,
            session_id, scopes, policy, auth_time, acr, amr, idp, issued_at, expires_at,
            absolute_expires_at, revoked_at, front)
        SELECT pg_temp.k('refresh', i, 32), coalesce(p.token_hash, pg_temp.k('rhash', i, 64)),
            pg_temp.k('family', i, 32), pg_temp.k('grant', i, 32), 'demo-web',
            pg_temp.uuid_key('user', i), pg_temp.k('session', i, 32),
            '["openid", "profile", "offline_access"]', 'Confidential',
            now() - interval '2 days', 'urn:telenor.identity.aal.1',
            '["urn:telenor.identity.amr.td_pwd"]', 'local', now() - interval '2 days',
            now() + interval '1 hour' + (i %% 997) * interval '20 minutes',
            now() + interval '1 hour' + (i %% 997) * interval '20 minutes',
            CASE WHEN i %% 10 = 5 THEN now() - interval '1 day' END, 'connect'
        FROM generate_series(1, %(n)s) AS i
            LEFT JOIN bench_probes AS p ON p.probe_index = i""",
    # Used codes of the last day (kept a day after expiry, for a late replay).
    "authorization_codes": """
        INSERT INTO authorization_codes (code_hash, client_id, user_id, session_id, grant_id,
            redirect_uri, scopes, auth_time, acr, amr, idp, claims, created_at, expires_at,
            used_at, access_token_jti, access_token_expires_at)
        SELECT pg_temp.k('code', i, 64), 'demo-web', pg_temp.uuid_key('user', i),
            pg_temp.k('session', i, 32), pg_temp.k('grant', i, 32),
            'https://rp.bench.example/callback', '["openid", "profile", "offline_access"]', t,
            'urn:telenor.identity.aal.1', '["urn:telenor.identity.amr.td_pwd"]', 'local', '{}',
            t, t + interval '1 minute', t + interval '1 second', pg_temp.k('jti', i, 32),
            t + interval '1 hour'
        FROM generate_series(1, %(n)s) AS i, LATERAL (
            SELECT now() - (i %% 1380) * interval '1 minute' - interval '2 minutes') AS c(t)""",
    # Access tokens revoked within their hour of life.
    "revoked_access_tokens": """
        INSERT INTO revoked_access_tokens (jti, expires_at)
        SELECT pg_temp.k('revoked', i, 32),
            now() + interval '1 minute' + (i %% 3600) * interval '1 second'
        FROM generate_series(1, %(n)s) AS i""",
    "audit_events": """
        INSERT INTO audit_events (at, event, client_id, user_id, detail)
        SELECT now() - (i %% 360) * interval '1 day' - (i %% 86399) * interval '1 second',
            'login.succeeded', 'demo-web', pg_temp.uuid_key('user', i),
            json_build_object('method', 'password', 'acr', 'urn:telenor.identity.aal.1',
                'sid', pg_temp.k('session', i, 32))
        FROM generate_series(1, %(n)s) AS i""",
}

# What `idplus db prune` deletes: each statement's share of the expired rows asked for. They
# belong to the users of CURRENT_ROWS (user i % n + 1).
EXPIRED_ROWS = {
    # Sessions that ended or expired more than the month they are kept (half each).
    "sso_sessions": (
        0.2,
        """
        INSERT INTO sso_sessions (id, user_id, sso_group, handle_hash, auth_time, acr, amr,
            idp, persistent, lifetime_seconds, created_at, last_seen_at, expires_at, ended_at)
        SELECT pg_temp.k('xsession', i, 32), pg_temp.uuid_key('user', i %% %(n)s + 1),
            'client:demo-web', CASE WHEN i %% 2 = 0 THEN pg_temp.k('xhandle', i, 64) END,
            t, 'urn:telenor.identity.aal.1', '["urn:telenor.identity.amr.td_pwd"]', 'local',
            true, 1209600, t, t, t + interval '14 days',
            CASE WHEN i %% 2 = 1 THEN t + interval '1 day' END
        FROM generate_series(1, %(rows)s) AS i, LATERAL (
            SELECT now() - interval '60 days' - (i %% 997) * interval '1 hour') AS s(t)""",
    ),
    # Their clients, deleted with them (ON DELETE CASCADE): not counted in the share.
    "session_clients": (
        0.0,
        """
        INSERT INTO session_clients (session_id, client_id, first_seen_at)
        SELECT pg_temp.k('xsession', i, 32), 'demo-web', now() - interval '60 days'
        FROM generate_series(1, %(sessions)s) AS i""",
    ),
    # Expired refresh tokens: of the expired sessions first, then of live sessions.
    "refresh_tokens": (
        0.3,
        """
        INSERT INTO refresh_tokens (id, token_hash, family_id, grant_id, client_id, user_id,
            session_id, scopes, policy, auth_time, acr, amr, idp, issued_at, expires_at,
            absolute_expires_at, front)
        SELECT pg_temp.k('xrefresh', i, 32), pg_temp.k('xrhash', i, 64),
            pg_temp.k('xfamily', i, 32), pg_temp.k('xgrant', i, 32), 'demo-web',
            pg_temp.uuid_key('user', i %% %(n)s + 1),
            CASE WHEN i <= %(sessions)s THEN pg_temp.k('xsession', i, 32)
                 ELSE pg_temp.k('session', i %% %(n)s + 1, 32) END,
            '["openid", "profile", "offline_access"]', 'Confidential', t,
            'urn:telenor.identity.aal.1', '["urn:telenor.identity.amr.td_pwd"]', 'local', t,
            t + interval '14 days', t + interval '14 days', 'connect'
        FROM generate_series(1, %(rows)s) AS i, LATERAL (
            SELECT now() - interval '15 days' - (i %% 997) * interval '20 minutes') AS r(t)""",
    ),
    "revoked_access_tokens": (
        0.2,
        """
        INSERT INTO revoked_access_tokens (jti, expires_at)
        SELECT pg_temp.k('xrevoked', i, 32), now() - (i %% 86400) * interval '1 second'
        FROM generate_series(1, %(rows)s) AS i""",
    ),
    # Codes past their day of grace.
    "authorization_codes": (
        0.2,
        """
        INSERT INTO authorization_codes (code_hash, client_id, user_id, session_id, grant_id,
            redirect_uri, scopes, auth_time, acr, amr, idp, claims, created_at, expires_at,
            used_at)
        SELECT pg_temp.k('xcode', i, 64), 'demo-web', pg_temp.uuid_key('user', i %% %(n)s + 1),
            pg_temp.k('session', i %% %(n)s + 1, 32), pg_temp.k('xgrant', i, 32),
            'https://rp.bench.example/callback', '["openid", "profile", "offline_access"]', t,
            'urn:telenor.identity.aal.1', '["urn:telenor.identity.amr.td_pwd"]', 'local', '{}',
            t, t + interval '1 minute', t + interval '1 second'
        FROM generate_series(1, %(rows)s) AS i, LATERAL (
            SELECT now() - interval '2 days' - (i %% 1440) * interval '1 minute') AS c(t)""",
    ),
    # Audit events past the default retention (365 days), numbered below the others, as the
    # oldest events of a trail are.
    "audit_events": (
        0.1,
        """
        INSERT INTO audit_events (id, at, event, client_id, user_id, detail)
        SELECT -i, now() - interval '400 days' - (i %% 86399) * interval '1 second',
            'login.succeeded', 'demo-web', pg_temp.uuid_key('user', i %% %(n)s + 1), '{}'
        FROM generate_series(1, %(rows)s) AS i""",
    ),
}


@dataclass(frozen=True)
class Probe:
    """A bulk-loaded row whose refresh token the bench can present."""

    index: int
    refresh_token: str


def probes(size: int, count: int) -> list[Probe]:
    """`count` probes spread evenly over the rows (live ones: never a multiple of 10 plus 3
    or 5, which ended their session or were revoked)."""
    step = max(10, size // count // 10 * 10)
    return [Probe(i, f"bench-probe-{i}") for i in range(step, size + 1, step)][:count]


def new_handle_key(conn: psycopg.Connection[tuple[object, ...]]) -> bytes:
    """The server's key for hashing handles (as `idplus serve` would create it on start)."""
    value = secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO server_secrets (name, value, created_at) VALUES ('handle_key', %s, now())",
        (value,),
    )
    return value.encode()


def load_current_rows(
    conn: psycopg.Connection[tuple[object, ...]], size: int, handle_key: bytes, chosen: list[Probe]
) -> dict[str, float]:
    """`size` rows of each table of CURRENT_ROWS; seconds per table."""
    conn.execute(
        "CREATE TEMPORARY TABLE bench_probes (probe_index integer PRIMARY KEY, token_hash text)"
    )
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO bench_probes (probe_index, token_hash) VALUES (%s, %s)",
            [(p.index, _hash_handle(handle_key, p.refresh_token)) for p in chosen],
        )
    params = {"n": size, "password_hash": PASSWORD_HASH}
    with indexes_set_aside(conn, list(CURRENT_ROWS)):
        seconds = {table: _timed(conn, sql, params) for table, sql in CURRENT_ROWS.items()}
    return seconds


def load_expired_rows(
    conn: psycopg.Connection[tuple[object, ...]], size: int, rows: int
) -> dict[str, int]:
    """About `rows` rows that `idplus db prune` deletes, spread over the tables that grow;
    the rows inserted per table."""
    sessions = int(rows * EXPIRED_ROWS["sso_sessions"][0])
    inserted = {}
    with indexes_set_aside(conn, list(EXPIRED_ROWS)):
        for table, (share, sql) in EXPIRED_ROWS.items():
            params = {"n": size, "rows": int(rows * share), "sessions": sessions}
            inserted[table] = conn.execute(sql, params).rowcount
    return inserted


def prepare_for_load(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """The rows are consistent by construction: skip the foreign-key triggers while loading
    (superuser), and do not wait for the WAL flush of each statement."""
    conn.execute("SET session_replication_role = replica")
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET maintenance_work_mem = '256MB'")
    conn.execute(_KEY_FUNCTIONS)


# Keys unique per prefix and scattered like random ones (i times an odd constant, modulo 2^32,
# is a permutation), padded to the length of the real ones; far cheaper than md5 per row.
_KEY_FUNCTIONS = """
    CREATE FUNCTION pg_temp.k(prefix text, i bigint, width integer) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
        SELECT rpad(prefix || lpad(to_hex(i * 2654435761 % 4294967296), 8, '0'), width, '0')
    $$;
    CREATE FUNCTION pg_temp.uuid_key(prefix text, i bigint) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
        SELECT lpad(to_hex(i * 2654435761 % 4294967296), 8, '0') || '-'
            || substr(md5(prefix), 1, 4) || '-4000-8000-000000000000'
    $$"""


@contextlib.contextmanager
def indexes_set_aside(
    conn: psycopg.Connection[tuple[object, ...]], tables: list[str]
) -> Iterator[None]:
    """Drop the secondary indexes and unique constraints of `tables`, and build them again,
    the same, afterwards: one sort per index instead of a million random insertions
    (PostgreSQL manual, "Populating a Database"). Primary keys stay: foreign keys need them."""
    rebuilds: list[str] = []
    for table in tables:
        for name, index_sql, constraint, constraint_sql in conn.execute(
            _SECONDARY_INDEXES, (table,)
        ).fetchall():
            if constraint is not None:
                conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{constraint}"')
                rebuilds.append(
                    f'ALTER TABLE {table} ADD CONSTRAINT "{constraint}" {constraint_sql}'
                )
            else:
                conn.execute(f'DROP INDEX "{name}"')
                rebuilds.append(str(index_sql))
    try:
        yield
    finally:
        for statement in rebuilds:
            conn.execute(statement.encode())


_SECONDARY_INDEXES = """
    SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), c.conname,
        pg_get_constraintdef(c.oid)
    FROM pg_index AS i LEFT JOIN pg_constraint AS c ON c.conindid = i.indexrelid
        AND c.conrelid = i.indrelid
    WHERE i.indrelid = %s::regclass AND NOT i.indisprimary"""


def vacuum_analyze(conn: psycopg.Connection[tuple[object, ...]]) -> float:
    """What autovacuum would have done to tables that grew over months; seconds."""
    started = time.monotonic()
    conn.execute("VACUUM (ANALYZE)")
    return time.monotonic() - started


def row_counts(conn: psycopg.Connection[tuple[object, ...]], tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
        counts[table] = int(str(row[0])) if row else 0
    return counts


def _timed(
    conn: psycopg.Connection[tuple[object, ...]], sql: str, params: dict[str, object]
) -> float:
    started = time.monotonic()
    conn.execute(sql.encode(), params)
    return time.monotonic() - started


def _hash_handle(key: bytes, handle: str) -> str:
    # idplus.crypto.hashing.hash_handle: what the server compares a presented token with.
    return hmac.new(key, handle.encode(), hashlib.sha256).hexdigest()
