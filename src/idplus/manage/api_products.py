"""The gateway's API-product registry: which `api:` scopes exist and who subscribes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from idplus.clock import Clock
from idplus.errors import NotFoundError, ValidationError
from idplus.models import ApiProduct, AuditEvent
from idplus.store.sql import api_products as product_store
from idplus.store.sql import audit
from idplus.store.sql import clients as client_store
from idplus.store.sql.engine import Database

API_SCOPE_PATTERN = re.compile(r"^api:[a-z0-9][a-z0-9._-]{0,190}$")


def add_api_product(
    db: Database,
    clock: Clock,
    scope: str,
    client_ids: Sequence[str] = (),
    name: str | None = None,
) -> ApiProduct:
    """Register the product (if new) and subscribe the given clients to it."""
    if not API_SCOPE_PATTERN.match(scope):
        raise ValidationError(
            f"API scope {scope!r} must look like api:NAME (lower-case letters, digits, . _ -)"
        )
    with db.transaction() as conn:
        for client_id in client_ids:
            client = client_store.find_client(conn, client_id)
            if client is None:
                raise NotFoundError(f"unknown client {client_id!r}")
            if not client.api_access:
                raise ValidationError(f"client {client_id!r} is not an --api-access client")
        if product_store.find_api_product(conn, scope) is None:
            product_store.insert_api_product(conn, scope, name or scope[4:], clock.now())
        product_store.add_subscribers(conn, scope, client_ids)
        audit.record_event(
            conn,
            AuditEvent(
                "api_product.changed",
                clock.now(),
                detail={"scope": scope, "subscribed": list(client_ids)},
            ),
        )
        product = product_store.find_api_product(conn, scope)
    assert product is not None
    return product


def list_api_products(db: Database) -> list[ApiProduct]:
    with db.reading() as conn:
        return product_store.list_api_products(conn)


def describe_api_product(product: ApiProduct) -> dict[str, Any]:
    return {"scope": product.scope, "name": product.name, "client_ids": list(product.client_ids)}
