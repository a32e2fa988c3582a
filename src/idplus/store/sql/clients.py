"""Client registry rows ⇄ `models.Client`."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import Client, ClientSecret
from idplus.policies import ClientType
from idplus.store.sql.dialect import insert_if_absent
from idplus.store.sql.tables import api_product_clients, client_secrets, clients


def _client_values(client: Client) -> dict[str, Any]:
    return {
        "name": client.name,
        "client_type": client.client_type.value,
        "redirect_uris": list(client.redirect_uris),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
        "scopes": list(client.scopes),
        "grant_types": list(client.grant_types),
        "response_types": list(client.response_types),
        "api_access": client.api_access,
        "silent_sso": client.silent_sso,
        "one_telenor": client.one_telenor,
        "update_at_claims": client.update_at_claims,
        "ciba_enabled": client.ciba_enabled,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "backchannel_client_notification_endpoint": client.backchannel_client_notification_endpoint,
        "environment": client.environment,
        "providers": list(client.providers),
        "exchange_from": list(client.exchange_from) or None,
        "access_token_lifetime": client.access_token_lifetime,
        "id_token_lifetime": client.id_token_lifetime,
        "require_pushed_authorization_requests": client.require_pushed_authorization_requests,
        "require_dpop": client.require_dpop,
        "signing_alg": client.signing_alg,
        "profile": client.profile,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "jwks": dict(client.jwks) if client.jwks is not None else None,
        "jwks_uri": client.jwks_uri,
        "company_id": client.company_id,
    }


_FIND = sa.select(clients).where(clients.c.client_id == sa.bindparam("client_id"))
_PRODUCTS = (
    sa.select(api_product_clients.c.scope)
    .where(api_product_clients.c.client_id == sa.bindparam("client_id"))
    .order_by(api_product_clients.c.scope)
)


def _secrets_of(conn: Connection, client_ids: Sequence[str]) -> dict[str, tuple[ClientSecret, ...]]:
    if not client_ids:
        return {}
    rows = conn.execute(
        sa.select(client_secrets)
        .where(client_secrets.c.client_id.in_(client_ids))
        .order_by(client_secrets.c.created_at, client_secrets.c.id)
    ).all()
    found: dict[str, list[ClientSecret]] = {}
    for row in rows:
        secret = ClientSecret(
            id=row.id,
            secret_hash=row.secret_hash,
            created_at=row.created_at,
            expires_at=row.expires_at,
        )
        found.setdefault(row.client_id, []).append(secret)
    return {client_id: tuple(items) for client_id, items in found.items()}


def _client_from_row(
    row: Any, secrets: tuple[ClientSecret, ...], api_products: tuple[str, ...]
) -> Client:
    return Client(
        client_id=row["client_id"],
        name=row["name"],
        client_type=ClientType(row["client_type"]),
        redirect_uris=tuple(row["redirect_uris"]),
        post_logout_redirect_uris=tuple(row["post_logout_redirect_uris"]),
        scopes=tuple(row["scopes"]),
        grant_types=tuple(row["grant_types"]),
        response_types=tuple(row["response_types"]),
        api_access=row["api_access"],
        silent_sso=row["silent_sso"],
        one_telenor=row["one_telenor"],
        update_at_claims=row["update_at_claims"],
        ciba_enabled=row["ciba_enabled"],
        backchannel_logout_uri=row["backchannel_logout_uri"],
        backchannel_client_notification_endpoint=row["backchannel_client_notification_endpoint"],
        environment=row["environment"],
        providers=tuple(row["providers"]),
        exchange_from=tuple(row["exchange_from"] or ()),
        access_token_lifetime=row["access_token_lifetime"],
        id_token_lifetime=row["id_token_lifetime"],
        require_pushed_authorization_requests=row["require_pushed_authorization_requests"],
        require_dpop=row["require_dpop"],
        signing_alg=row["signing_alg"],
        profile=row["profile"],
        token_endpoint_auth_method=row["token_endpoint_auth_method"],
        jwks=row["jwks"],
        jwks_uri=row["jwks_uri"],
        company_id=row["company_id"],
        secrets=secrets,
        created_at=row["created_at"],
        api_products=api_products,
    )


def _with_details(conn: Connection, rows: Sequence[Any]) -> list[Client]:
    """Clients of these rows, with their secrets and subscriptions (one query each)."""
    client_ids = [row.client_id for row in rows]
    secrets = _secrets_of(conn, client_ids)
    products: dict[str, list[str]] = {}
    if client_ids:
        for scope, client_id in conn.execute(
            sa.select(api_product_clients.c.scope, api_product_clients.c.client_id)
            .where(api_product_clients.c.client_id.in_(client_ids))
            .order_by(api_product_clients.c.scope)
        ):
            products.setdefault(client_id, []).append(scope)
    return [
        _client_from_row(
            row._mapping, secrets.get(row.client_id, ()), tuple(products.get(row.client_id, ()))
        )
        for row in rows
    ]


class SqlClients:
    """Client registry rows ⇄ `models.Client`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def exists(self, client_id: str) -> bool:
        query = sa.select(clients.c.client_id).where(clients.c.client_id == client_id)
        return self._conn.execute(query).first() is not None

    def insert(self, client: Client, now: datetime) -> bool:
        """False when the client id is taken (also by a concurrent insert): nothing written."""
        values = {"client_id": client.client_id, "created_at": now, "updated_at": now,
                  **_client_values(client)}  # fmt: skip
        if not insert_if_absent(self._conn, clients, values, ["client_id"]):
            return False
        for secret in client.secrets:
            self.insert_secret(client.client_id, secret)
        return True

    def insert_if_absent(self, client: Client, now: datetime) -> bool:
        """Create a built-in client; processes starting together all succeed, one creates it."""
        assert not client.secrets, "a client with secrets is registered, not ensured"
        values = {"client_id": client.client_id, "created_at": now, "updated_at": now}
        return insert_if_absent(
            self._conn, clients, {**values, **_client_values(client)}, ["client_id"]
        )

    def update(self, client: Client, now: datetime) -> bool:
        """Store the client's settings (not its secrets or subscriptions); False for an
        unknown client."""
        changed = self._conn.execute(
            sa.update(clients)
            .where(clients.c.client_id == client.client_id)
            .values(**_client_values(client), updated_at=now)
            .returning(clients.c.client_id)
        ).first()
        return changed is not None

    def insert_secret(self, client_id: str, secret: ClientSecret) -> None:
        self._conn.execute(
            sa.insert(client_secrets).values(
                id=secret.id,
                client_id=client_id,
                secret_hash=secret.secret_hash,
                created_at=secret.created_at,
                expires_at=secret.expires_at,
            )
        )

    def delete_secrets(self, secret_ids: Sequence[str]) -> None:
        if secret_ids:
            self._conn.execute(sa.delete(client_secrets).where(client_secrets.c.id.in_(secret_ids)))

    def set_secret_expiry(
        self, client_id: str, secret_id: str, expires_at: datetime | None
    ) -> bool:
        changed = self._conn.execute(
            sa.update(client_secrets)
            .where(client_secrets.c.id == secret_id, client_secrets.c.client_id == client_id)
            .values(expires_at=expires_at)
            .returning(client_secrets.c.id)
        ).first()
        return changed is not None

    def page_of_apps(
        self, *, after: str | None, limit: int, company_ids: Collection[str] | None = None
    ) -> list[Client]:
        """Apps' ids are generated in lower-case ASCII, so SQL's order is every backend's."""
        query = (
            sa.select(clients)
            .where(clients.c.company_id.is_not(None))
            .order_by(clients.c.client_id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(clients.c.client_id > after)
        if company_ids is not None:
            query = query.where(clients.c.company_id.in_(list(company_ids)))
        return _with_details(self._conn, self._conn.execute(query).all())

    def delete(self, client_id: str) -> bool:
        result = self._conn.execute(sa.delete(clients).where(clients.c.client_id == client_id))
        return result.rowcount > 0

    def registered_at(self, client_id: str) -> datetime | None:
        query = sa.select(clients.c.created_at).where(clients.c.client_id == client_id)
        registered: datetime | None = self._conn.execute(query).scalar()
        return registered

    def count_of_company(self, company_id: str) -> int:
        query = sa.select(sa.func.count()).where(clients.c.company_id == company_id)
        return int(self._conn.execute(query).scalar_one())

    def find(self, client_id: str, *, lock: bool = False) -> Client | None:
        """`lock`: hold the row until the transaction ends (PostgreSQL; SQLite's writer lock
        already serialises writers), for a change checked against the version read."""
        query = _FIND.with_for_update() if lock else _FIND
        row = self._conn.execute(query, {"client_id": client_id}).first()
        if row is None:
            return None
        products = tuple(self._conn.execute(_PRODUCTS, {"client_id": client_id}).scalars())
        secrets = _secrets_of(self._conn, [client_id]).get(client_id, ())
        return _client_from_row(row._mapping, secrets, products)

    def list_all(self) -> list[Client]:
        rows = self._conn.execute(sa.select(clients).order_by(clients.c.client_id)).all()
        secrets = _secrets_of(self._conn, [row.client_id for row in rows])
        products: dict[str, list[str]] = {}
        for scope, client_id in self._conn.execute(
            sa.select(api_product_clients.c.scope, api_product_clients.c.client_id).order_by(
                api_product_clients.c.scope
            )
        ):
            products.setdefault(client_id, []).append(scope)
        return [
            _client_from_row(
                row._mapping, secrets.get(row.client_id, ()), tuple(products.get(row.client_id, ()))
            )
            for row in rows
        ]
