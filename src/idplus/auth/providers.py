"""Authentication providers: the local one, and the upstream OpenID providers in the store.

A client lists the providers it may use (none listed = the local one). With several, the user
picks on a selection page unless `acr_values` names one as `idp:<id>`. A provider's `kind`
picks the authenticator that logs its users in (`protocol/authenticators/`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from idplus.models import Client, UpstreamProvider

LOCAL_PROVIDER_ID = "local"


class ProviderKind(StrEnum):
    # Our own login form: username + password, then an SMS code when needed.
    PASSWORD = "password"
    # A redirect to another OpenID provider (federation).
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


def upstream_provider_info(provider: UpstreamProvider) -> ProviderInfo:
    return ProviderInfo(provider.id, {"en": provider.display_name}, ProviderKind.UPSTREAM)


class ProviderRegistry:
    """The fixed providers, plus those `upstream` loads (the store's registry), reloaded at
    most every `cache_seconds`."""

    def __init__(
        self,
        providers: Iterable[ProviderInfo],
        *,
        upstream: Callable[[], Iterable[ProviderInfo]] | None = None,
        cache_seconds: float = 5.0,
    ) -> None:
        self._fixed = {p.id: p for p in providers}
        self._upstream = upstream
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._loaded: tuple[float, dict[str, ProviderInfo]] | None = None

    def _providers(self) -> Mapping[str, ProviderInfo]:
        if self._upstream is None:
            return self._fixed
        with self._lock:
            loaded = self._loaded
        if loaded is not None and time.monotonic() - loaded[0] <= self._cache_seconds:
            return loaded[1]
        merged = {p.id: p for p in self._upstream() if p.id not in self._fixed}
        merged.update(self._fixed)
        with self._lock:
            self._loaded = (time.monotonic(), merged)
        return merged

    def get(self, provider_id: str) -> ProviderInfo | None:
        return self._providers().get(provider_id)

    def for_client(self, client: Client) -> list[ProviderInfo]:
        """The providers the client may use, in the client's order, skipping unknown ones."""
        ids = client.providers or (LOCAL_PROVIDER_ID,)
        providers = self._providers()
        return [providers[i] for i in ids if i in providers]

    def allowed(self, client: Client, provider_id: str | None) -> ProviderInfo | None:
        """The provider if the client may use it; None for an unknown or foreign one."""
        return next((p for p in self.for_client(client) if p.id == provider_id), None)
