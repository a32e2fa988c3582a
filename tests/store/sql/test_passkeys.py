"""The passkey and WebAuthn-challenge repositories on SQLite and PostgreSQL: a credential is
registered once, a sign count only goes up, a challenge answers once (also to parallel
verifies) and only for its purpose and binding, and expired challenges are pruned."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

from idplus.models import Passkey, WebAuthnChallenge
from idplus.store.base import Store
from tests.protocol.login.driver import in_parallel
from tests.store.sql.test_store_contract import NOW, _session, _user


def _passkey(passkey_id: str = "pk1", **overrides: object) -> Passkey:
    fields: dict[str, object] = {
        "id": passkey_id,
        "user_id": "u1",
        "credential_id": f"cred-{passkey_id}",
        "public_key": b"\xa5\x01\x02cose",
        "sign_count": 0,
        "transports": ("internal", "hybrid"),
        "backup_eligible": True,
        "backed_up": False,
        "aaguid": "00000000-0000-0000-0000-000000000000",
        "hardware_attested": False,
        "name": "Kari's phone",
        "created_at": NOW,
    }
    fields.update(overrides)
    return Passkey(**fields)  # type: ignore[arg-type]


def _challenge(id_hash: str = "c1", **overrides: object) -> WebAuthnChallenge:
    fields: dict[str, object] = {
        "id_hash": id_hash,
        "purpose": "login",
        "binding_hash": "login-1",
        "expires_at": NOW + timedelta(minutes=5),
        "user_id": None,
    }
    fields.update(overrides)
    return WebAuthnChallenge(**fields)  # type: ignore[arg-type]


def _with_user(store: Store, *passkeys: Passkey) -> None:
    with store.transaction() as uow:
        uow.users.insert(_user(), NOW)
        for passkey in passkeys:
            assert uow.passkeys.insert(passkey)


def test_a_passkey_reads_back_as_stored_and_lists_oldest_first(store: Store) -> None:
    newer = _passkey("pk2", created_at=NOW + timedelta(days=1), transports=())
    _with_user(store, newer, _passkey())

    with store.reading() as uow:
        assert uow.passkeys.find("pk1") == _passkey()
        assert uow.passkeys.find_by_credential_id("cred-pk2") == newer
        assert uow.passkeys.list_for_user("u1") == [_passkey(), newer]
        assert uow.passkeys.find("nope") is None
        assert uow.passkeys.list_for_user("u2") == []


def test_a_credential_id_is_registered_once(store: Store) -> None:
    _with_user(store, _passkey())

    with store.transaction() as uow:
        assert not uow.passkeys.insert(_passkey("pk2", credential_id="cred-pk1"))
    with store.reading() as uow:
        assert [p.id for p in uow.passkeys.list_for_user("u1")] == ["pk1"]


def test_parallel_registrations_of_one_credential_store_it_once(store: Store) -> None:
    _with_user(store)

    def insert(n: int) -> bool:
        with store.transaction() as uow:
            return uow.passkeys.insert(_passkey(f"pk{n}", credential_id="same"))

    counter = iter(range(6))
    assert sorted(in_parallel(6, lambda: insert(next(counter)))) == [False] * 5 + [True]


def test_a_sign_count_only_goes_up_unless_it_stays_0(store: Store) -> None:
    _with_user(store, _passkey())
    later = NOW + timedelta(minutes=1)

    def use(count: int) -> bool:
        with store.transaction() as uow:
            return uow.passkeys.record_use("pk1", sign_count=count, backed_up=True, now=later)

    assert [use(0), use(0), use(3), use(3), use(2), use(0), use(4)] == [
        True,
        True,
        True,
        False,
        False,
        False,
        True,
    ]
    with store.reading() as uow:
        found = uow.passkeys.find("pk1")
    assert found == replace(_passkey(), sign_count=4, backed_up=True, last_used_at=later)


def test_a_passkey_is_removed_only_by_its_user_and_goes_with_the_user(store: Store) -> None:
    _with_user(store, _passkey(), _passkey("pk2"))

    with store.transaction() as uow:
        assert not uow.passkeys.delete("pk1", "u2")
        assert uow.passkeys.delete("pk1", "u1")
        assert not uow.passkeys.delete("pk1", "u1")
    with store.transaction() as uow:
        uow.users.delete("u1")
    with store.reading() as uow:
        assert uow.passkeys.find("pk2") is None


def test_sessions_remember_the_passkey_their_login_used(store: Store) -> None:
    _with_user(store, _passkey())
    with store.transaction() as uow:
        uow.sessions.insert(replace(_session("sid-1"), passkey_id="pk1"), "h1")
        uow.sessions.insert(_session("sid-2"), "h2")
        uow.sessions.insert(_session("sid-3"), "h3")
        uow.sessions.set_passkey("sid-2", "pk1")
        uow.sessions.set_passkey("sid-3", "pk1")
        uow.sessions.set_passkey("sid-3", None)
        uow.sessions.end("sid-2", NOW)

    with store.reading() as uow:
        assert uow.sessions.active_of_passkey("pk1", NOW) == ["sid-1"]
        assert uow.sessions.active_of_passkey("pk1", NOW + timedelta(hours=1)) == []
        found = uow.sessions.find("sid-1")
    assert found is not None
    assert found.passkey_id == "pk1"


def test_a_challenge_is_used_once_for_its_purpose_and_binding_while_live(store: Store) -> None:
    with store.transaction() as uow:
        uow.webauthn_challenges.replace(_challenge(user_id="u1"))

    def consume(purpose: str = "login", binding: str = "login-1", at: int = 0) -> bool:
        now = NOW + timedelta(minutes=at)
        with store.transaction() as uow:
            used = uow.webauthn_challenges.consume(
                "c1", purpose=purpose, binding_hash=binding, now=now
            )
        assert used in (None, _challenge(user_id="u1"))
        return used is not None

    assert not consume(purpose="register")
    assert not consume(binding="login-2")
    assert not consume(at=5)
    assert consume()
    assert not consume()


def test_a_new_challenge_replaces_the_bindings_earlier_one_only(store: Store) -> None:
    with store.transaction() as uow:
        uow.webauthn_challenges.replace(_challenge("c1"))
        uow.webauthn_challenges.replace(_challenge("c2", purpose="register"))
        uow.webauthn_challenges.replace(_challenge("c3", binding_hash="login-2"))
        uow.webauthn_challenges.replace(_challenge("c4"))

    with store.transaction() as uow:
        left = [
            uow.webauthn_challenges.consume(h, purpose=p, binding_hash=b, now=NOW) is not None
            for h, p, b in [
                ("c1", "login", "login-1"),
                ("c2", "register", "login-1"),
                ("c3", "login", "login-2"),
                ("c4", "login", "login-1"),
            ]
        ]
    assert left == [False, True, True, True]


def test_parallel_verifies_consume_a_challenge_once(store: Store) -> None:
    with store.transaction() as uow:
        uow.webauthn_challenges.replace(_challenge())

    def consume() -> bool:
        with store.transaction() as uow:
            used = uow.webauthn_challenges.consume(
                "c1", purpose="login", binding_hash="login-1", now=NOW
            )
        return used is not None

    assert sorted(in_parallel(8, consume)) == [False] * 7 + [True]


def test_pruning_deletes_expired_challenges(store: Store) -> None:
    with store.transaction() as uow:
        uow.webauthn_challenges.replace(_challenge("old", expires_at=NOW))
        uow.webauthn_challenges.replace(_challenge("live", binding_hash="login-2"))

    with store.transaction() as uow:
        pruned = uow.maintenance.prune_expired(NOW)

    assert pruned["webauthn_challenges"] == 1
    with store.transaction() as uow:
        live = uow.webauthn_challenges.consume(
            "live", purpose="login", binding_hash="login-2", now=NOW
        )
    assert live is not None


def test_parallel_options_leave_one_live_challenge_per_binding(store: Store) -> None:
    ids = iter(range(8))
    lock = threading.Lock()

    def issue() -> None:
        with lock:
            id_hash = f"x{next(ids)}"
        with store.transaction() as uow:
            uow.webauthn_challenges.replace(_challenge(id_hash))

    in_parallel(8, issue)

    with store.transaction() as uow:
        live = [
            uow.webauthn_challenges.consume(
                f"x{i}", purpose="login", binding_hash="login-1", now=NOW
            )
            for i in range(8)
        ]
    assert sum(found is not None for found in live) == 1


def test_a_removal_waits_for_the_login_that_holds_the_passkey(store: Store) -> None:
    _with_user(store, _passkey())
    removed = threading.Event()

    def remove() -> None:
        with store.transaction() as uow:
            uow.passkeys.delete("pk1", "u1")
        removed.set()

    with store.transaction() as uow:
        assert uow.passkeys.lock("pk1", "u1")
        assert not uow.passkeys.lock("pk1", "someone-else")
        remover = threading.Thread(target=remove)
        remover.start()
        # The login's transaction still holds the row: the removal cannot have happened.
        assert not removed.wait(0.3)
    remover.join()
    assert removed.is_set()
    with store.transaction() as uow:
        assert not uow.passkeys.lock("pk1", "u1")
