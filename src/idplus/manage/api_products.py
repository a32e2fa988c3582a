"""The gateway's API-product registry: which `api:` scopes exist and who subscribes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from idplus.clock import Clock
from idplus.errors import NotFoundError, ValidationError
from idplus.models import ApiProduct, AuditEvent
from idplus.store.base import Store

API_SCOPE_PATTERN = re.compile(r"^api:[a-z0-9][a-z0-9._-]{0,190}$")


def add_api_product(
    store: Store,
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
    with store.transaction() as uow:
        for client_id in client_ids:
            client = uow.clients.find(client_id)
            if client is None:
                raise NotFoundError(f"unknown client {client_id!r}")
            if not client.api_access:
                raise ValidationError(f"client {client_id!r} is not an --api-access client")
        created = uow.api_products.find(scope) is None
        if created:
            uow.api_products.insert(scope, name or scope[4:], clock.now())
        uow.api_products.add_subscribers(scope, client_ids)
        uow.audit.record(
            AuditEvent(
                "api_product.changed",
                clock.now(),
                detail={"scope": scope, "created": created, "subscribed": list(client_ids)},
            ),
        )
        product = uow.api_products.find(scope)
    assert product is not None
    return product


def list_api_products(store: Store) -> list[ApiProduct]:
    with store.reading() as uow:
        return uow.api_products.list_all()


def describe_api_product(product: ApiProduct) -> dict[str, Any]:
    return {"scope": product.scope, "name": product.name, "client_ids": list(product.client_ids)}
