"""API products: `api:` scopes and the clients subscribed to them."""

from __future__ import annotations

import pytest

from idplus.clock import FrozenClock
from idplus.errors import NotFoundError, ValidationError
from idplus.manage.api_products import add_api_product, list_api_products
from idplus.manage.clients import ClientRegistration, add_client
from idplus.store.base import Store


def _partner(store: Store, clock: FrozenClock, client_id: str, api_access: bool = True) -> None:
    registration = ClientRegistration(
        client_id=client_id,
        client_type="Confidential",
        grant_types=["client_credentials"],
        api_access=api_access,
    )
    add_client(store, clock, registration)


def test_adding_subscribers_to_an_existing_product(store: Store, clock: FrozenClock) -> None:
    _partner(store, clock, "p1")
    _partner(store, clock, "p2")
    add_api_product(store, clock, "api:mobile-product-v2", ["p1"])
    product = add_api_product(store, clock, "api:mobile-product-v2", ["p2", "p1"])
    assert product.client_ids == ("p1", "p2")
    assert product.name == "mobile-product-v2"
    assert [p.scope for p in list_api_products(store)] == ["api:mobile-product-v2"]


def test_bad_scope_unknown_client_and_non_api_client_are_refused(
    store: Store, clock: FrozenClock
) -> None:
    _partner(store, clock, "plain", api_access=False)
    with pytest.raises(ValidationError, match="api:NAME"):
        add_api_product(store, clock, "tv")
    with pytest.raises(NotFoundError, match="unknown client"):
        add_api_product(store, clock, "api:tv", ["ghost"])
    with pytest.raises(ValidationError, match="api-access"):
        add_api_product(store, clock, "api:tv", ["plain"])
    assert list_api_products(store) == []
