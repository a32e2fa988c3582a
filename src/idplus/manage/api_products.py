"""The gateway's API-product registry: which `api:` scopes exist and who subscribes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from idplus.clock import Clock
from idplus.errors import NotFoundError, ValidationError
from idplus.manage.display_names import check_display_name
from idplus.models import ApiProduct, AuditEvent
from idplus.store.base import Store

API_SCOPE_PATTERN = re.compile(r"^api:[a-z0-9][a-z0-9._-]{0,190}$")
# A display name is shown as plain text: no line breaks or other control characters.


class ApiProductExists(ValidationError):
    """A product asked to be new is registered already."""


def add_api_product(
    store: Store,
    clock: Clock,
    scope: str,
    client_ids: Sequence[str] = (),
    name: str | None = None,
    *,
    actor: str | None = None,
    only_new: bool = False,
) -> ApiProduct:
    """Register the product (if new) and subscribe the given clients to it. `actor`: who asked,
    for the audit trail (the admin API's caller; None from the CLI). `only_new`: refuse a scope
    registered already (ApiProductExists) rather than adding subscribers to it."""
    # fullmatch: `$` alone would let a trailing newline through.
    if not API_SCOPE_PATTERN.fullmatch(scope):
        raise ValidationError(
            f"API scope {scope!r} must look like api:NAME (lower-case letters, digits, . _ -)"
        )
    if name is not None:
        check_display_name(name, "an API product's name")
    with store.transaction() as uow:
        for client_id in client_ids:
            client = uow.clients.find(client_id)
            if client is None:
                raise NotFoundError(f"unknown client {client_id!r}")
            if not client.api_access:
                raise ValidationError(f"client {client_id!r} is not an --api-access client")
        # The insert is the check: two callers adding one scope at once cannot both create it.
        created = uow.api_products.insert(scope, name or scope[4:], clock.now())
        if only_new and not created:
            raise ApiProductExists(f"API product {scope!r} already exists")
        uow.api_products.add_subscribers(scope, client_ids)
        uow.audit.record(
            AuditEvent(
                "api_product.changed",
                clock.now(),
                target=f"api_product:{scope}",
                detail={
                    "scope": scope,
                    "created": created,
                    "subscribed": list(client_ids),
                    **({"actor": actor} if actor is not None else {}),
                },
            ),
        )
        product = uow.api_products.find(scope)
    assert product is not None
    return product


def list_api_products(
    store: Store, *, after: str | None = None, limit: int | None = None
) -> list[ApiProduct]:
    """By scope; `after`: only the scopes after that one (the next page); `limit`: at most."""
    with store.reading() as uow:
        products = uow.api_products.list_all()
    # Few products (one per gateway API): paging the whole list is cheap. Sorted here, not by
    # the database's collation, so that the order and `after` compare alike on every backend.
    ordered = sorted(products, key=lambda product: product.scope)
    following = [p for p in ordered if after is None or p.scope > after]
    return following if limit is None else following[:limit]


def find_api_product(store: Store, scope: str) -> ApiProduct:
    with store.reading() as uow:
        product = uow.api_products.find(scope)
    if product is None:
        raise NotFoundError(f"no API product {scope!r}")
    return product


def describe_api_product(product: ApiProduct) -> dict[str, Any]:
    return {"scope": product.scope, "name": product.name, "client_ids": list(product.client_ids)}
