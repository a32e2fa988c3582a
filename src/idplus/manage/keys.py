"""Signing-key life cycle: first key, rotation with overlap, and the key ring a server uses.

Rotation publishes the new key at once but lets it sign only after two key-cache periods, so
every worker's JWKS carries it before the first token does. The keys it replaces stay
published until every token they can have signed has expired.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from idplus.clock import Clock
from idplus.config import Settings
from idplus.crypto.keys import (
    ALGORITHM,
    KeyRing,
    choose_signing_key,
    generate_key_material,
    is_encrypted,
    load_private_key,
    published_keys,
)
from idplus.models import AuditEvent, SigningKey
from idplus.store.base import Store, UnitOfWork


def _new_key(settings: Settings, now: datetime, activate_at: datetime) -> SigningKey:
    material = generate_key_material(settings.key_encryption_key_value)
    return SigningKey(
        kid=material.kid,
        alg=ALGORITHM,
        private_pem=material.private_pem,
        public_jwk=material.public_jwk,
        created_at=now,
        activate_at=activate_at,
    )


def ensure_signing_key(store: Store, settings: Settings, clock: Clock) -> None:
    """Create the first key when no key can sign (first start, or every key expired)."""
    now = clock.now()
    with store.transaction() as uow:
        uow.signing_keys.lock()
        if choose_signing_key(uow.signing_keys.list_all(), now) is None:
            key = _new_key(settings, now, activate_at=now)
            uow.signing_keys.insert(key)
            uow.audit.record(AuditEvent("key.created", now, detail=_key_detail(key)))


def activation_delay(settings: Settings) -> timedelta:
    return timedelta(seconds=2 * settings.key_cache_seconds)


def rotate_signing_key(store: Store, settings: Settings, clock: Clock) -> SigningKey:
    now = clock.now()
    material_key = _new_key(settings, now, activate_at=now + activation_delay(settings))
    with store.transaction() as uow:
        uow.signing_keys.lock()
        existing = uow.signing_keys.list_all()
        # With nothing able to sign, there is no cache to warm: the new key signs at once.
        if choose_signing_key(existing, now) is None:
            material_key = replace(material_key, activate_at=now)
        new_key = material_key
        replaced = [k.kid for k in existing if k.publish_until is None]
        overlap = _longest_token_lifetime(settings, uow)
        published_until = new_key.activate_at + overlap
        uow.signing_keys.retire(replaced, published_until)
        uow.signing_keys.insert(new_key)
        detail = {
            **_key_detail(new_key),
            "replaced": replaced,
            "replaced_published_until": published_until.isoformat(),
        }
        uow.audit.record(AuditEvent("key.rotated", now, detail=detail))
    return new_key


def _key_detail(key: SigningKey) -> dict[str, object]:
    """The public facts of a new key (never its private part)."""
    return {"kid": key.kid, "alg": key.alg, "activate_at": key.activate_at.isoformat()}


def _longest_token_lifetime(settings: Settings, uow: UnitOfWork) -> timedelta:
    seconds = max(settings.access_token_lifetime, settings.id_token_lifetime)
    for client in uow.clients.list_all():
        seconds = max(seconds, client.access_token_lifetime or 0, client.id_token_lifetime or 0)
    return timedelta(seconds=seconds)


def list_signing_keys(store: Store, clock: Clock) -> list[dict[str, Any]]:
    now = clock.now()
    with store.reading() as uow:
        keys = uow.signing_keys.list_all()
    signing = choose_signing_key(keys, now)
    published = {k.kid for k in published_keys(keys, now)}
    return [
        {
            "kid": k.kid,
            "alg": k.alg,
            "state": _state(k, signing, published, now),
            "created_at": k.created_at.isoformat(),
            "activate_at": k.activate_at.isoformat(),
            "publish_until": k.publish_until.isoformat() if k.publish_until else None,
            "encrypted": is_encrypted(k),
        }
        for k in keys
    ]


def _state(key: SigningKey, signing: SigningKey | None, published: set[str], now: datetime) -> str:
    if signing is not None and key.kid == signing.kid:
        return "signing"
    if key.kid not in published:
        return "expired"
    return "next" if key.activate_at > now else "retiring"


class KeyRingCache:
    """The key ring of one process, reread from the database every `key_cache_seconds`."""

    def __init__(self, store: Store, settings: Settings, clock: Clock) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._ring: KeyRing | None = None
        self._loaded_at: datetime | None = None
        self._opened: dict[str, Any] = {}

    def fresh(self) -> KeyRing | None:
        """The cached ring if it is still fresh: no I/O, safe on the event loop."""
        ring, loaded_at = self._ring, self._loaded_at
        if ring is None or loaded_at is None or self._clock.now() - loaded_at >= self._max_age:
            return None
        return ring

    def current(self) -> KeyRing:
        """The ring, reloaded from the database when stale (blocking: run off the loop)."""
        ring = self.fresh()
        if ring is not None:
            return ring
        with self._lock:
            return self._reload(self._clock.now())

    @property
    def _max_age(self) -> timedelta:
        return timedelta(seconds=self._settings.key_cache_seconds)

    def _reload(self, now: datetime) -> KeyRing:
        with self._store.reading() as uow:
            keys = uow.signing_keys.list_all()
        signing = choose_signing_key(keys, now)
        if signing is None:
            ensure_signing_key(self._store, self._settings, self._clock)
            with self._store.reading() as uow:
                keys = uow.signing_keys.list_all()
            signing = choose_signing_key(keys, now)
            assert signing is not None
        if signing.kid not in self._opened:
            self._opened[signing.kid] = load_private_key(
                signing, self._settings.key_encryption_key_value
            )
        ring = KeyRing(self._opened[signing.kid], [k.public_jwk for k in published_keys(keys, now)])
        self._ring, self._loaded_at = ring, now
        return ring

    def all_keys_ring(self) -> KeyRing:
        """A ring that verifies with every key ever stored (for expired id_token_hints)."""
        with self._store.reading() as uow:
            keys = uow.signing_keys.list_all()
        current = self.current()
        return KeyRing(self._opened[current.signing_kid], [k.public_jwk for k in keys])
