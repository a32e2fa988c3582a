"""Which requested scopes a client may have (RFC 6749 §3.3)."""

from __future__ import annotations

from collections.abc import Iterable

from idplus.errors import InvalidScope
from idplus.models import Client
from idplus.policies import is_api_scope


def validate_requested_scopes(requested: Iterable[str], client: Client) -> tuple[str, ...]:
    """Identity scopes must be registered for the client; `api:` scopes must belong to an API
    product the (api_access) client subscribes to. Anything else is invalid_scope."""
    scopes = tuple(dict.fromkeys(requested))
    for scope in scopes:
        if is_api_scope(scope) and not client.api_access:
            raise InvalidScope(f"scope {scope} is only for API clients")
        if not client.may_request(scope):
            raise InvalidScope(f"scope {scope} is not allowed for this client")
    return scopes
