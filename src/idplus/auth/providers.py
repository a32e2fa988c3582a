"""Authentication providers: the local one today, upstream OIDC providers later.

A client lists the providers it may use (none listed = the local one). With several, the user
picks on a selection page unless `acr_values` names one as `idp:<id>`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from idplus.models import Client

LOCAL_PROVIDER_ID = "local"


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    id: str
    # Shown on the selection page, per UI locale.
    display_names: Mapping[str, str]
    # "password": our own login form; "upstream": a redirect to another OpenID provider.
    kind: str

    def display_name(self, locale: str) -> str:
        return self.display_names.get(locale) or self.display_names["en"]


LOCAL_PROVIDER = ProviderInfo(
    LOCAL_PROVIDER_ID,
    {"en": "Mobile number or e-mail", "nb": "Mobilnummer eller e-post"},
    "password",
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
