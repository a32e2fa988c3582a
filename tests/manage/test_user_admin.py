"""Operators find users, look one up, lock and unlock them, reset their second factor and give
or take the operator role. Only operators may; the hub never loses its last operator; every
change is audited with who made it and what changed (no secret); search is by prefix, with
LIKE's wildcards taken literally, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from idplus.auth import throttle
from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.errors import Conflict, Forbidden, NotFoundError, ValidationError
from idplus.manage import user_admin
from idplus.manage.access import operators
from idplus.manage.users import remove_user
from idplus.models import Caller, RefreshToken, User
from idplus.policies import ADMIN_SCOPE, OPERATOR_ROLE
from idplus.store.base import Store, UnitOfWork
from tests.store.sql.test_passkeys import _passkey
from tests.store.sql.test_store_contract import _client, _session, _user

OPS = Caller.admin_client("ops")
DEVELOPER = Caller.user("dev", operator=False)
SETTINGS = Settings(issuer="https://id.example")


def add_user(store: Store, clock: FrozenClock, user_id: str, username: str, **fields: Any) -> User:
    with store.transaction() as uow:
        uow.users.insert(_user(user_id, username, **fields), clock.now())
        stored = uow.users.find(user_id)
    assert stored is not None
    return stored


def add_session(store: Store, clock: FrozenClock, session_id: str, user_id: str) -> None:
    """A live session of the user that served client `web` (registered here when missing),
    and a refresh token bound to it."""
    now = clock.now()
    session = replace(
        _session(session_id),
        user_id=user_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=1),
        user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36",
    )
    with store.transaction() as uow:
        if not uow.clients.exists("web"):
            uow.clients.insert(_client(), now)
        uow.sessions.insert(session, f"handle-{session_id}")
        uow.sessions.add_client(session_id, "web", now)
        uow.refresh_tokens.insert(refresh_token(f"rt-{session_id}", user_id, now, session_id))


def refresh_token(
    token_id: str, user_id: str, now: datetime, session_id: str | None = None
) -> RefreshToken:
    return RefreshToken(
        id=token_id,
        token_hash=f"hash-{token_id}",
        family_id=f"family-{token_id}",
        client_id="web",
        user_id=user_id,
        scopes=("openid",),
        policy="rotating",
        issued_at=now,
        expires_at=now + timedelta(days=1),
        absolute_expires_at=now + timedelta(days=30),
        auth_time=now,
        acr=None,
        amr=(),
        idp="local",
        session_id=session_id,
    )


def events(store: Store, name: str) -> list[Any]:
    with store.reading() as uow:
        return uow.audit.list_events(100, events=[name])


def make_operator(store: Store, clock: FrozenClock, user_id: str) -> None:
    with store.transaction() as uow:
        uow.users.grant_role(user_id, OPERATOR_ROLE, clock.now())


@pytest.fixture
def kari(store: Store, clock: FrozenClock) -> User:
    return add_user(
        store,
        clock,
        "u-kari",
        "kari@example.no",
        email="kari@example.no",
        phone_number="+4790000001",
        given_name="Kari",
        family_name="Nordmann",
        kurtid="123456789012",
    )


# ---- search -------------------------------------------------------------------------------


@pytest.fixture
def people(store: Store, clock: FrozenClock, kari: User) -> None:
    add_user(store, clock, "u-ola", "+4790000002", phone_number="+4790000002",
             given_name="Ola", family_name="Nordmann", kurtid="223456789012")  # fmt: skip
    add_user(store, clock, "u-per", "per_hansen@example.no", email="per_hansen@example.no",
             given_name="Per", family_name="Hansen", kurtid="323456789012")  # fmt: skip
    add_user(store, clock, "u-per2", "perxhansen@example.no", email="perxhansen@example.no",
             given_name="Øyvind", family_name="Perhansen", kurtid="100%")  # fmt: skip


def _found(store: Store, clock: FrozenClock, query: str, **options: Any) -> list[str]:
    return [u.id for u in user_admin.search_users(store, clock, OPS, query, **options)]


@pytest.mark.usefixtures("people")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kari@", ["u-kari"]),
        ("KARI@EXAMPLE", ["u-kari"]),  # any case
        ("90000002", ["u-ola"]),  # a phone number as the login takes it
        ("+47 900 00 001", ["u-kari"]),
        ("+4790000", ["u-kari", "u-ola"]),  # the start of one as stored
        ("1234567", ["u-kari"]),  # kurtid
        ("nordmann", ["u-kari", "u-ola"]),  # family name
        ("per", ["u-per", "u-per2"]),  # given name, e-mail address and family name
        ("Kari Nord", ["u-kari"]),  # given and family name
        ("ola hansen", []),
        ("ordmann", []),  # prefixes, not substrings
        ("Øyvind", ["u-per2"]),  # a name as stored, whatever the database folds
        ("", ["u-kari", "u-ola", "u-per", "u-per2"]),  # everyone, by id
    ],
)
def test_search_matches_the_start_of_identifiers_and_names(
    store: Store, clock: FrozenClock, query: str, expected: list[str]
) -> None:
    assert _found(store, clock, query) == expected


@pytest.mark.usefixtures("people")
def test_search_takes_like_wildcards_literally(store: Store, clock: FrozenClock) -> None:
    assert _found(store, clock, "per_") == ["u-per"]  # not perxhansen
    assert _found(store, clock, "100%") == ["u-per2"]
    assert _found(store, clock, "%") == []
    assert _found(store, clock, "_") == []
    assert _found(store, clock, "\\") == []


@pytest.mark.usefixtures("people")
def test_search_pages_by_user_id(store: Store, clock: FrozenClock) -> None:
    first = _found(store, clock, "", limit=2)
    rest = _found(store, clock, "", limit=2, after=first[-1])
    assert first == ["u-kari", "u-ola"]
    assert rest == ["u-per", "u-per2"]
    assert _found(store, clock, "", after="u-per2") == []


def test_search_refuses_an_overlong_or_control_character_query(
    store: Store, clock: FrozenClock
) -> None:
    with pytest.raises(ValidationError):
        user_admin.search_users(store, clock, OPS, "a" * 321)
    with pytest.raises(ValidationError):
        user_admin.search_users(store, clock, OPS, "kari\x00")


# ---- who may ------------------------------------------------------------------------------


USE_CASES: list[Callable[[Store, FrozenClock, Caller, str], object]] = [
    lambda s, c, who, uid: user_admin.search_users(s, c, who, ""),
    lambda s, c, who, uid: user_admin.get_user(s, c, who, uid),
    lambda s, c, who, uid: user_admin.lock_user(s, c, who, uid),
    lambda s, c, who, uid: user_admin.unlock_user(s, c, who, uid, settings=SETTINGS),
    lambda s, c, who, uid: user_admin.reset_second_factor(s, c, who, uid, settings=SETTINGS),
    lambda s, c, who, uid: user_admin.grant_role(s, c, who, uid, OPERATOR_ROLE),
    lambda s, c, who, uid: user_admin.revoke_role(s, c, who, uid, OPERATOR_ROLE),
]


@pytest.mark.parametrize("use_case", USE_CASES)
def test_only_operators_may_manage_users(
    store: Store, clock: FrozenClock, kari: User, use_case: Callable[..., object]
) -> None:
    with pytest.raises(Forbidden):
        use_case(store, clock, DEVELOPER, kari.id)
    with store.reading() as uow:
        assert uow.users.find(kari.id) == kari
        assert uow.audit.list_events(10) == []


@pytest.mark.parametrize("use_case", USE_CASES[1:])
def test_an_unknown_user_is_not_found(
    store: Store, clock: FrozenClock, use_case: Callable[..., object]
) -> None:
    with pytest.raises(NotFoundError):
        use_case(store, clock, OPS, "nobody")


# ---- one user -----------------------------------------------------------------------------


def test_an_operator_sees_a_users_roles_lock_passkeys_accounts_and_sessions(
    store: Store, clock: FrozenClock, kari: User
) -> None:
    with store.transaction() as uow:
        uow.passkeys.insert(_passkey("pk1", user_id=kari.id))
        uow.upstream_accounts.insert_if_absent("google", "g-123", kari.id, clock.now())
    add_session(store, clock, "s1", kari.id)
    make_operator(store, clock, kari.id)

    details = user_admin.get_user(store, clock, OPS, kari.id)
    described = user_admin.describe_details(details)

    assert described["roles"] == [OPERATOR_ROLE]
    assert described["passkeys"] == 1
    assert [(a["provider_id"], a["subject"]) for a in described["upstream_accounts"]] == [
        ("google", "g-123")
    ]
    assert described["live_sessions"] == 1
    assert described["locked_at"] is None
    assert "password_hash" not in described
    assert kari.password_hash not in str(described)


# ---- lock and unlock ----------------------------------------------------------------------


class RecordingEnding:
    """A SessionEnding that notes what it was asked to end, then ends it like the CLI's."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, uow: UnitOfWork, session_ids: Sequence[str], now: datetime) -> list[str]:
        from idplus.manage.session_admin import end_without_notice

        self.asked.extend(session_ids)
        return end_without_notice(uow, session_ids, now)


def test_locking_ends_sessions_and_revokes_every_refresh_token(
    store: Store, clock: FrozenClock, kari: User
) -> None:
    add_session(store, clock, "s1", kari.id)
    add_session(store, clock, "s2", kari.id)
    with store.transaction() as uow:  # one bound to no session (offline access)
        uow.refresh_tokens.insert(refresh_token("rt-offline", kari.id, clock.now()))
    ending = RecordingEnding()

    details = user_admin.lock_user(
        store, clock, OPS, kari.id, reason="reported stolen phone", ending=ending
    )

    assert details.locked and details.user.disabled_at == clock.now()
    assert details.live_sessions == 0
    assert sorted(ending.asked) == ["s1", "s2"]
    with store.reading() as uow:
        for token_id in ("rt-s1", "rt-s2", "rt-offline"):
            found = uow.refresh_tokens.find(f"hash-{token_id}")
            assert found is not None and found.revoked_at is not None
        assert uow.refresh_tokens.clients_of_user(kari.id, clock.now()) == []
    [event] = events(store, "user.locked")
    assert event.user_id == kari.id
    assert event.detail == {
        "actor": "client:ops",
        "reason": "reported stolen phone",
        "before": {"disabled_at": None},
        "after": {"disabled_at": clock.now().isoformat()},
        "sessions_ended": 2,
        "refresh_tokens_revoked": 3,
        "gateway_tokens_revoked": 0,
    }


def test_locking_a_locked_user_changes_nothing(
    store: Store, clock: FrozenClock, kari: User
) -> None:
    user_admin.lock_user(store, clock, OPS, kari.id)
    locked_at = clock.now()
    clock.advance(timedelta(minutes=5))

    again = user_admin.lock_user(store, clock, OPS, kari.id)

    assert again.user.disabled_at == locked_at
    assert len(events(store, "user.locked")) == 1


def test_a_lock_reason_is_one_short_line(store: Store, clock: FrozenClock, kari: User) -> None:
    for reason in ("two\nlines", "x" * 501):
        with pytest.raises(ValidationError):
            user_admin.lock_user(store, clock, OPS, kari.id, reason=reason)
    assert not user_admin.get_user(store, clock, OPS, kari.id).locked


def test_unlocking_lifts_the_lock_and_the_password_lockout(
    store: Store, clock: FrozenClock, kari: User
) -> None:
    user_admin.lock_user(store, clock, OPS, kari.id)
    key = throttle.key_of(throttle.username_rule(SETTINGS), kari.username)
    with store.transaction() as uow:
        for _ in range(SETTINGS.login_failures_per_username):
            throttle.reserve(uow, [key], clock.now())
        with pytest.raises(throttle.Throttled):
            throttle.reserve(uow, [key], clock.now())
    locked_at = clock.now().isoformat()
    clock.advance(timedelta(minutes=1))

    details = user_admin.unlock_user(store, clock, OPS, kari.id, settings=SETTINGS)

    assert not details.locked
    with store.transaction() as uow:
        assert uow.throttles.window_started_at(key[1]) is None
        throttle.reserve(uow, [key], clock.now())  # a password may be tried again
    [event] = events(store, "user.unlocked")
    assert event.detail["actor"] == "client:ops"
    assert event.detail["before"] == {"disabled_at": locked_at}
    assert event.detail["after"] == {"disabled_at": None}


# ---- second factor ------------------------------------------------------------------------


def test_resetting_the_second_factor_removes_passkeys_and_moves_sms_codes(
    store: Store, clock: FrozenClock, kari: User
) -> None:
    with store.transaction() as uow:
        uow.passkeys.insert(_passkey("pk1", user_id=kari.id))
        uow.passkeys.insert(_passkey("pk2", user_id=kari.id))
        sms_key = throttle.key_of(throttle.login_sms_rule(SETTINGS), "+4790000001")
        for _ in range(SETTINGS.login_sms_per_phone_per_hour):
            throttle.reserve(uow, [sms_key], clock.now())
    add_session(store, clock, "s1", kari.id)

    details = user_admin.reset_second_factor(
        store, clock, OPS, kari.id, settings=SETTINGS, phone_number="900 11 222"
    )

    assert details.passkeys == 0
    assert details.user.phone_number == "+4790011222"
    assert details.live_sessions == 0
    with store.reading() as uow:
        assert uow.throttles.window_started_at(sms_key[1]) is None
    [event] = events(store, "user.second_factor_reset")
    assert event.detail == {
        "actor": "client:ops",
        "passkeys_removed": 2,
        "sessions_ended": 1,
        "before": {"phone_number": "+47 ••• •• 001"},
        "after": {"phone_number": "+47 ••• •• 222"},
    }


def test_a_new_phone_number_must_be_one(store: Store, clock: FrozenClock, kari: User) -> None:
    with store.transaction() as uow:
        uow.passkeys.insert(_passkey("pk1", user_id=kari.id))
    with pytest.raises(ValidationError):
        user_admin.reset_second_factor(
            store, clock, OPS, kari.id, settings=SETTINGS, phone_number="not a number"
        )
    assert user_admin.get_user(store, clock, OPS, kari.id).passkeys == 1


# ---- roles and the last operator ----------------------------------------------------------


def test_granting_and_revoking_the_operator_role_is_audited(
    store: Store, clock: FrozenClock, kari: User
) -> None:
    ola = add_user(store, clock, "u-ola", "+4790000002")
    make_operator(store, clock, ola.id)

    granted = user_admin.grant_role(store, clock, OPS, kari.id, OPERATOR_ROLE)
    again = user_admin.grant_role(store, clock, OPS, kari.id, OPERATOR_ROLE)
    revoked = user_admin.revoke_role(store, clock, OPS, kari.id, OPERATOR_ROLE)

    assert granted.roles == again.roles == (OPERATOR_ROLE,)
    assert revoked.roles == ()
    [grant] = events(store, "user.role_granted")
    assert grant.detail == {
        "actor": "client:ops",
        "role": OPERATOR_ROLE,
        "before": {"roles": []},
        "after": {"roles": [OPERATOR_ROLE]},
    }
    [revoke] = events(store, "user.role_revoked")
    assert revoke.detail["before"] == {"roles": [OPERATOR_ROLE]}
    assert revoke.detail["after"] == {"roles": []}


def test_an_unknown_role_is_refused(store: Store, clock: FrozenClock, kari: User) -> None:
    with pytest.raises(ValidationError):
        user_admin.grant_role(store, clock, OPS, kari.id, "admin")


def test_the_last_operator_keeps_their_role_and_cannot_be_locked_or_removed(
    store: Store, clock: FrozenClock, kari: User
) -> None:
    make_operator(store, clock, kari.id)
    cli = Caller.command_line()

    with pytest.raises(Conflict):
        user_admin.revoke_role(store, clock, cli, kari.id, OPERATOR_ROLE)
    with pytest.raises(Conflict):
        user_admin.lock_user(store, clock, cli, kari.id)
    with pytest.raises(Conflict):
        remove_user(store, clock, kari.username)

    details = user_admin.get_user(store, clock, cli, kari.id)
    assert details.roles == (OPERATOR_ROLE,) and not details.locked
    assert events(store, "user.*") == []


def test_another_operator_or_an_admin_client_lets_one_go(
    store: Store, clock: FrozenClock, kari: User
) -> None:
    make_operator(store, clock, kari.id)
    with store.transaction() as uow:
        uow.clients.insert(_client("ops", scopes=(ADMIN_SCOPE,)), clock.now())

    user_admin.revoke_role(store, clock, OPS, kari.id, OPERATOR_ROLE)

    with store.reading() as uow:
        assert operators(uow) == ["client:ops"]


def test_a_locked_operator_does_not_count_as_one(
    store: Store, clock: FrozenClock, kari: User
) -> None:
    ola = add_user(store, clock, "u-ola", "+4790000002")
    make_operator(store, clock, kari.id)
    make_operator(store, clock, ola.id)

    user_admin.lock_user(store, clock, OPS, ola.id)

    with pytest.raises(Conflict):
        user_admin.revoke_role(store, clock, OPS, kari.id, OPERATOR_ROLE)
    user_admin.unlock_user(store, clock, OPS, ola.id, settings=SETTINGS)
    user_admin.revoke_role(store, clock, OPS, kari.id, OPERATOR_ROLE)


def test_the_cli_finds_a_user_by_id_or_username(
    store: Store, clock: FrozenClock, kari: User
) -> None:
    assert user_admin.find_user(store, kari.id) == kari
    assert user_admin.find_user(store, "KARI@example.no") == kari
    with pytest.raises(NotFoundError):
        user_admin.find_user(store, "nobody")


def test_two_operators_taken_away_at_once_leave_one(
    store: Store, clock: FrozenClock, kari: User
) -> None:
    """Each change alone would leave an operator; in parallel, one of them must be refused."""
    ola = add_user(store, clock, "u-ola", "+4790000002")
    make_operator(store, clock, kari.id)
    make_operator(store, clock, ola.id)
    changes: list[Callable[[], object]] = [
        lambda: user_admin.revoke_role(store, clock, OPS, kari.id, OPERATOR_ROLE),
        lambda: user_admin.lock_user(store, clock, OPS, ola.id),
    ]

    outcomes = in_parallel(changes)

    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "UserDetails"]
    with store.reading() as uow:
        assert len(operators(uow)) == 1


def in_parallel(changes: list[Callable[[], object]]) -> list[object]:
    """Run the changes in threads released at once; what each returned or raised."""
    start = threading.Barrier(len(changes))
    outcomes: list[object] = []

    def run(change: Callable[[], object]) -> None:
        start.wait()
        try:
            outcomes.append(change())
        except Conflict as refused:
            outcomes.append(refused)

    threads = [threading.Thread(target=run, args=(change,)) for change in changes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_the_last_operator_client_and_user_taken_away_at_once_leave_one(
    store: Store, clock: FrozenClock, kari: User
) -> None:
    """An operator client removed while the only operator user loses the role: each alone
    leaves the other, together they would leave none — one is refused."""
    from idplus.manage.clients import ClientRegistration, add_client, remove_client
    from idplus.policies import ADMIN_SCOPE

    add_client(store, clock, ClientRegistration(
        client_id="ops-2", client_type="Confidential", scopes=[ADMIN_SCOPE],
        grant_types=["client_credentials"],
    ))  # fmt: skip
    make_operator(store, clock, kari.id)
    changes: list[Callable[[], object]] = [
        lambda: remove_client(store, clock, "ops-2"),
        lambda: user_admin.revoke_role(store, clock, OPS, kari.id, OPERATOR_ROLE),
    ]

    outcomes = in_parallel(changes)

    assert sum(isinstance(o, Conflict) for o in outcomes) == 1
    with store.reading() as uow:
        assert len(operators(uow)) == 1
