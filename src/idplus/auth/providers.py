"""Authentication providers: the local one today, upstream OIDC providers later.

A client lists the providers it may use (none listed = the local one). With several, the user
picks on a selection page unless `acr_values` names one as `idp:<id>`. A provider's `kind`
picks the authenticator that logs its users in (`protocol/authenticators/`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from idplus.models import Client

LOCAL_PROVIDER_ID = "local"


class ProviderKind(StrEnum):
    # Our own login form: username + password, then an SMS code when needed.
    PASSWORD = "password"
    # A redirect to another OpenID provider (federation; its authenticator comes later).
    UPSTREAM = "upstream"


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    id: str
    # Shown on the selection page, per UI locale.
    display_names: Mapping[str, str]
    kind: ProviderKind

    def display_name(self, locale: str) -> str:
        return self.display_names.get(locale) or self.display_names["en"]


LOCAL_PROVIDER = ProviderInfo(
    LOCAL_PROVIDER_ID,
    {"en": "Mobile number or e-mail", "nb": "Mobilnummer eller e-post"},
    ProviderKind.PASSWORD,
)


class ProviderRegistry:
    def __init__(self, providers: Iterable[ProviderInfo]) -> None:
        self._providers = {p.id: p for p in providers}

    def get(self, provider_id: str) -> ProviderInfo | None:
        return self._providers.get(provider_id)

    def for_client(self, client: Client) -> list[ProviderInfo]:
        """The providers the client may use, in the client's order, skipping unknown ones."""
        ids = client.providers or (LOCAL_PROVIDER_ID,)
        return [self._providers[i] for i in ids if i in self._providers]

    def allowed(self, client: Client, provider_id: str | None) -> ProviderInfo | None:
        """The provider if the client may use it; None for an unknown or foreign one."""
        return next((p for p in self.for_client(client) if p.id == provider_id), None)
