"""Signing-key life cycle: first keys, rotation with overlap, and the key ring a server uses.

Every algorithm of SIGNING_ALGORITHMS has its own keys and its own life cycle: rotating one
never retires another's key. Rotation publishes the new key at once but lets it sign only
after two key-cache periods, so every worker's JWKS carries it before the first token does.
The keys it replaces stay published until every token they can have signed has expired.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from idplus.clock import Clock
from idplus.config import Settings
from idplus.crypto.keys import (
    KeyRing,
    SigningJwk,
    choose_signing_key,
    choose_signing_keys,
    generate_key_material,
    is_encrypted,
    load_private_key,
    published_keys,
)
from idplus.models import SIGNING_ALGORITHMS, AuditEvent, SigningKey
from idplus.store.base import Store, UnitOfWork


def _new_key(settings: Settings, alg: str, now: datetime, activate_at: datetime) -> SigningKey:
    material = generate_key_material(alg, settings.key_encryption_key_value)
    return SigningKey(
        kid=material.kid,
        alg=alg,
        private_pem=material.private_pem,
        public_jwk=material.public_jwk,
        created_at=now,
        activate_at=activate_at,
    )


def ensure_signing_key(store: Store, settings: Settings, clock: Clock) -> None:
    """Give every algorithm a key that can sign: on first start, when an upgrade brings a new
    algorithm, or when every key of one has expired. Such a key signs at once: no token was
    signed under it before, so there is no cache to warm."""
    with store.transaction() as uow:
        uow.signing_keys.lock()
        now = clock.now()
        existing = uow.signing_keys.list_all()
        # Published, not "signing now": a process that waited for the lock (or whose clock is
        # a little behind) must count the keys another one just made, not add a second set.
        present = {k.alg for k in published_keys(existing, now)}
        activate_at = _beside_older_keys(existing, now)
        for alg in SIGNING_ALGORITHMS:
            if alg not in present:
                key = _new_key(settings, alg, now, activate_at=activate_at)
                uow.signing_keys.insert(key)
                uow.audit.record(AuditEvent("key.created", now, detail=_key_detail(key)))


def _beside_older_keys(existing: list[SigningKey], now: datetime) -> datetime:
    """The activation time of the keys this start adds: a little in the past, so that a
    server whose clock is behind ours signs with them too, and before every existing key: a
    worker of the version before PS256 and ES256 (still running in a rolling upgrade, or after
    a downgrade) signs as RS256 with the newest key of any algorithm, which must stay RS256's."""
    return min([now, *(k.activate_at for k in existing)]) - CLOCK_SKEW


# How far behind another server's clock may be and still find the keys a start made.
CLOCK_SKEW = timedelta(minutes=1)


def activation_delay(settings: Settings) -> timedelta:
    return timedelta(seconds=2 * settings.key_cache_seconds)


def rotate_signing_key(
    store: Store,
    settings: Settings,
    clock: Clock,
    alg: str | None = None,
    *,
    actor: str | None = None,
) -> list[SigningKey]:
    """A new key for `alg` (None: for every algorithm, in one transaction), in
    SIGNING_ALGORITHMS order. Only the keys of the same algorithm are retired. `actor`: who
    asked, for the audit trail (the admin API's caller; None from the CLI)."""
    if alg is not None and alg not in SIGNING_ALGORITHMS:
        raise ValueError(f"no signing keys for algorithm {alg!r}")
    algorithms = SIGNING_ALGORITHMS if alg is None else (alg,)
    now = clock.now()
    # Generated before the lock is taken: RSA key generation takes a while.
    activate_at = now + activation_delay(settings)
    fresh = [_new_key(settings, a, now, activate_at) for a in algorithms]
    with store.transaction() as uow:
        uow.signing_keys.lock()
        existing = uow.signing_keys.list_all()
        overlap = _longest_token_lifetime(settings, uow)
        return [_rotate(uow, existing, key, overlap, now, actor) for key in fresh]


def _rotate(
    uow: UnitOfWork,
    existing: list[SigningKey],
    new_key: SigningKey,
    overlap: timedelta,
    now: datetime,
    actor: str | None,
) -> SigningKey:
    # With nothing able to sign this algorithm, there is no cache to warm: it signs at once.
    if choose_signing_key(existing, now, new_key.alg) is None:
        new_key = replace(new_key, activate_at=now)
    replaced = [k.kid for k in existing if k.alg == new_key.alg and k.publish_until is None]
    published_until = new_key.activate_at + overlap
    uow.signing_keys.retire(replaced, published_until)
    uow.signing_keys.insert(new_key)
    detail = {
        **_key_detail(new_key),
        "replaced": replaced,
        "replaced_published_until": published_until.isoformat(),
        **({"actor": actor} if actor is not None else {}),
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
    signing = choose_signing_keys(keys, now)
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


def _state(
    key: SigningKey, signing: dict[str, SigningKey], published: set[str], now: datetime
) -> str:
    """The key's state among the keys of its own algorithm."""
    current = signing.get(key.alg)
    if current is not None and key.kid == current.kid:
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
        self._opened: dict[str, SigningJwk] = {}
        # Raised by every invalidation: a reload that began before it is used once, not kept.
        self._epoch = 0

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

    def invalidate(self) -> None:
        """Reread the keys at the next use (a key was rotated or removed). Under the lock: a
        reload in progress finishes first, and is then not kept as fresh."""
        with self._lock:
            self._epoch += 1
            self._loaded_at = None

    def _reload(self, now: datetime) -> KeyRing:
        epoch = self._epoch
        with self._store.reading() as uow:
            keys = uow.signing_keys.list_all()
        signing = choose_signing_keys(keys, now)
        if len(signing) < len(SIGNING_ALGORITHMS):
            ensure_signing_key(self._store, self._settings, self._clock)
            # A real clock has moved on: the keys just made activate after the first `now`.
            now = self._clock.now()
            with self._store.reading() as uow:
                keys = uow.signing_keys.list_all()
            signing = choose_signing_keys(keys, now)
            assert len(signing) == len(SIGNING_ALGORITHMS)
        # Decrypting a PEM is slow: each key is opened once, and forgotten once it stops signing.
        self._opened = {key.kid: self._open(key) for key in signing.values()}
        published = [k.public_jwk for k in published_keys(keys, now)]
        previous = self._ring
        if previous is not None and previous.has_keys(self._opened.values(), published):
            ring = previous
        else:
            ring = KeyRing(self._opened.values(), published)
        self._ring = ring
        self._loaded_at = now if epoch == self._epoch else None
        return ring

    def _open(self, key: SigningKey) -> SigningJwk:
        opened = self._opened.get(key.kid)
        if opened is None:
            opened = load_private_key(key, self._settings.key_encryption_key_value)
        return opened

    def all_keys_ring(self) -> KeyRing:
        """A ring that verifies with every key ever stored (for expired id_token_hints)."""
        with self._store.reading() as uow:
            keys = uow.signing_keys.list_all()
        return self.current().with_published([k.public_jwk for k in keys])
