"""`/admin/api/v1/api-products`: the gateway's API products (list, create, read) —
`manage.api_products`, as `idplus api-product`.

Creating a product registers its `api:` scope only; clients subscribe to it separately (the
CLI's `--client-id`, or a subscription request an operator approves). Creating a scope that
exists already is 409 Conflict: POST here makes a new product, it never changes one.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from idplus.manage import api_products
from idplus.manage.display_names import MAX_NAME_LENGTH
from idplus.models import ApiProduct
from idplus.web.admin_api.operations import (
    Call,
    Operation,
    PageQuery,
    Result,
    decode_cursor,
    encode_cursor,
)


class ApiProductOut(BaseModel):
    scope: str = Field(description="The product's scope, api:NAME: what a client asks for.")
    name: str
    client_ids: list[str] = Field(
        description="The clients subscribed to it (for operators; a developer sees an empty "
        "list: other companies' apps are not theirs to know)."
    )
    created_at: datetime | None


class ApiProductList(BaseModel):
    items: list[ApiProductOut]
    next_cursor: str | None = Field(
        description="Give it as `cursor` for the next page; null on the last page."
    )


class ApiProductsQuery(PageQuery):
    """The query of GET /api-products: pages by scope."""


class NewApiProduct(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: str = Field(
        pattern=api_products.API_SCOPE_PATTERN.pattern,
        description="api:NAME: lower-case letters, digits, dot, underscore and hyphen.",
    )
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        description="A display name, plain text on one line (default: NAME from the scope).",
    )


class Conflict(BaseModel):
    error: str = "conflict"
    error_description: str


def list_products(call: Call) -> Result:
    params = call.query
    assert isinstance(params, ApiProductsQuery)
    cursor = params.cursor
    after = decode_cursor(cursor, api_products.API_SCOPE_PATTERN) if cursor is not None else None
    # One more than asked: whether there is a next page.
    products = api_products.list_api_products(call.ctx.store, after=after, limit=params.limit + 1)
    page = products[: params.limit]
    more = len(products) > params.limit
    listed = ApiProductList(
        items=[_described(product, call) for product in page],
        next_cursor=encode_cursor(page[-1].scope) if more else None,
    )
    return Result(listed)


def create_product(call: Call) -> Result:
    body = call.body
    assert isinstance(body, NewApiProduct)
    try:
        product = api_products.add_api_product(
            call.ctx.store,
            call.ctx.clock,
            body.scope,
            name=body.name,
            actor=call.caller.actor,
            only_new=True,
        )
    except api_products.ApiProductExists:
        refusal = Conflict(error_description=f"API product {body.scope} already exists")
        return Result(refusal, status=409)
    return Result(_described(product, call), status=201)


def get_product(call: Call) -> Result:
    product = api_products.find_api_product(call.ctx.store, call.path["scope"])
    return Result(_described(product, call))


def _described(product: ApiProduct, call: Call) -> ApiProductOut:
    return ApiProductOut(
        scope=product.scope,
        name=product.name,
        client_ids=list(product.client_ids) if call.caller.operator else [],
        created_at=product.created_at,
    )


OPERATIONS = (
    Operation("GET", "/api-products", "listApiProducts",
              "The API products, by scope (what an app may ask for), with their subscribed "
              "clients", list_products, response=ApiProductList, query=ApiProductsQuery,
              operators_only=False),
    Operation("POST", "/api-products", "createApiProduct",
              "Register a new API product (an api: scope); no client is subscribed yet",
              create_product, response=ApiProductOut, status=201, body=NewApiProduct,
              errors={409: "an API product with this scope exists already"}),
    Operation("GET", "/api-products/{scope}", "getApiProduct", "One API product", get_product,
              response=ApiProductOut, errors={404: "no API product with this scope"},
              operators_only=False),
)  # fmt: skip
