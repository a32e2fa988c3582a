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
from idplus.policies import level_of_acr

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
    # The highest assurance level (SPEC §6 aal) a login through this provider can reach.
    max_level: int = 1

    def display_name(self, locale: str) -> str:
        return self.display_names.get(locale) or self.display_names["en"]


LOCAL_PROVIDER = ProviderInfo(
    LOCAL_PROVIDER_ID,
    {"en": "Mobile number or e-mail", "nb": "Mobilnummer eller e-post"},
    ProviderKind.PASSWORD,
    # Password, then an SMS code.
    max_level=2,
)


def upstream_provider_info(provider: UpstreamProvider) -> ProviderInfo:
    # A provider asserts the acr its operator configured, level 1 without one.
    level = level_of_acr(provider.acr) or 1
    return ProviderInfo(provider.id, {"en": provider.display_name}, ProviderKind.UPSTREAM, level)


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
        # Raised by every invalidation: a load that began before it is not kept.
        self._epoch = 0

    def _providers(self) -> Mapping[str, ProviderInfo]:
        if self._upstream is None:
            return self._fixed
        with self._lock:
            loaded, epoch = self._loaded, self._epoch
        if loaded is not None and time.monotonic() - loaded[0] <= self._cache_seconds:
            return loaded[1]
        merged = {p.id: p for p in self._upstream() if p.id not in self._fixed}
        merged.update(self._fixed)
        with self._lock:
            if epoch == self._epoch:
                self._loaded = (time.monotonic(), merged)
        return merged

    def invalidate(self) -> None:
        """Reload the stored providers at the next use (the registry changed)."""
        with self._lock:
            self._epoch += 1
            self._loaded = None

    def get(self, provider_id: str) -> ProviderInfo | None:
        return self._providers().get(provider_id)

    def for_client(self, client: Client, min_level: int = 0) -> list[ProviderInfo]:
        """The providers the client may use that reach `min_level`, in the client's order,
        skipping unknown ones."""
        ids = client.providers or (LOCAL_PROVIDER_ID,)
        providers = self._providers()
        return [providers[i] for i in ids if i in providers and providers[i].max_level >= min_level]

    def allowed(
        self, client: Client, provider_id: str | None, min_level: int = 0
    ) -> ProviderInfo | None:
        """The provider if the client may use it and it reaches `min_level`; None for an
        unknown, foreign or too weak one."""
        return next((p for p in self.for_client(client, min_level) if p.id == provider_id), None)
