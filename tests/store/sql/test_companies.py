"""Companies, their members and their invitations behave the same on SQLite and PostgreSQL: a
member is added once however often it is tried, an invitation link is used once however many
try at the same moment, and an expired or used one opens nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from idplus.models import (
    COMPANY_ADMIN,
    COMPANY_DEVELOPER,
    Client,
    Company,
    Invitation,
    Membership,
    User,
)
from idplus.policies import ClientType
from idplus.store.base import Store
from idplus.store.sql.engine import Database
from idplus.store.sql.uow import SqlStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def _user(user_id: str) -> User:
    return User(
        id=user_id,
        username=f"user-{user_id}",
        password_hash="$argon2id$…",
        kurtid=f"k-{user_id}",
        analytics_uuid=f"a-{user_id}",
        tnuids=(f"t-{user_id}",),
    )


def _company(company_id: str = "c1", name: str = "Acme") -> Company:
    return Company(id=company_id, name=name, created_at=NOW, created_by="user:u1")


def _invitation(invitation_id: str = "i1", **overrides: object) -> Invitation:
    fields: dict[str, object] = {
        "id": invitation_id,
        "company_id": "c1",
        "email": "dev@example.com",
        "role": COMPANY_DEVELOPER,
        "token_hash": f"hash-{invitation_id}",
        "invited_by": "user:u1",
        "created_at": NOW,
        "expires_at": NOW + WEEK,
    }
    fields.update(overrides)
    return Invitation(**fields)  # type: ignore[arg-type]


@pytest.fixture
def seeded(store: Store) -> Store:
    """Company c1 with admin u1; users u2 … u9 exist but belong to nothing."""
    with store.transaction() as uow:
        for number in range(1, 10):
            uow.users.insert(_user(f"u{number}"), NOW)
        uow.companies.insert(_company())
        uow.companies.add_member(Membership("c1", "u1", COMPANY_ADMIN, NOW))
    return store


# --- companies and members --------------------------------------------------------------------


def test_a_company_round_trips_and_is_renamed(seeded: Store) -> None:
    with seeded.transaction() as uow:
        assert uow.companies.rename("c1", "Acme AS")
        assert not uow.companies.rename("nope", "x")
    with seeded.reading() as uow:
        assert uow.companies.find("c1") == _company(name="Acme AS")
        assert uow.companies.find("nope") is None


def test_a_member_is_added_once_and_keeps_their_first_role(seeded: Store) -> None:
    with seeded.transaction() as uow:
        assert uow.companies.add_member(Membership("c1", "u2", COMPANY_DEVELOPER, NOW))
        assert not uow.companies.add_member(Membership("c1", "u2", COMPANY_ADMIN, NOW))
    with seeded.reading() as uow:
        assert uow.companies.role_of("c1", "u2") == COMPANY_DEVELOPER
        assert uow.companies.role_of("c1", "u3") is None
        assert [m.user_id for m in uow.companies.members("c1")] == ["u1", "u2"]
        assert uow.companies.admin_count("c1") == 1


def test_roles_change_and_members_go(seeded: Store) -> None:
    with seeded.transaction() as uow:
        uow.companies.add_member(Membership("c1", "u2", COMPANY_DEVELOPER, NOW))
        assert uow.companies.set_role("c1", "u2", COMPANY_ADMIN)
        assert uow.companies.admin_count("c1") == 2
        assert uow.companies.remove_member("c1", "u1")
        assert not uow.companies.remove_member("c1", "u1")
        assert not uow.companies.set_role("c1", "u1", COMPANY_ADMIN)
    with seeded.reading() as uow:
        assert [(m.user_id, m.role) for m in uow.companies.members("c1")] == [("u2", COMPANY_ADMIN)]


def test_pages_list_every_company_or_a_users_own_in_id_order(seeded: Store) -> None:
    with seeded.transaction() as uow:
        for company_id in ("c3", "c2", "c4"):
            uow.companies.insert(_company(company_id))
        uow.companies.add_member(Membership("c3", "u2", COMPANY_DEVELOPER, NOW))
        uow.companies.add_member(Membership("c4", "u2", COMPANY_ADMIN, NOW))
    with seeded.reading() as uow:
        first = uow.companies.page(after=None, limit=2)
        rest = uow.companies.page(after=first[-1].id, limit=10)
        theirs = uow.companies.page(after="c3", limit=10, user_id="u2")
        memberships = uow.companies.memberships_of("u2")
    assert [c.id for c in first + rest] == ["c1", "c2", "c3", "c4"]
    assert [c.id for c in theirs] == ["c4"]
    assert [(m.company_id, m.role) for m in memberships] == [
        ("c3", COMPANY_DEVELOPER),
        ("c4", COMPANY_ADMIN),
    ]


def test_deleting_a_company_takes_its_members_and_invitations(seeded: Store) -> None:
    with seeded.transaction() as uow:
        uow.invitations.insert(_invitation())
        assert uow.companies.delete("c1")
        assert not uow.companies.delete("c1")
    with seeded.reading() as uow:
        assert uow.companies.memberships_of("u1") == []
        assert uow.invitations.find("i1") is None


def test_a_companys_apps_are_counted(seeded: Store) -> None:
    app = Client(client_id="app-1", name="App", client_type=ClientType.PUBLIC, company_id="c1")
    with seeded.transaction() as uow:
        uow.clients.insert(app, NOW)
        uow.clients.insert(Client(client_id="ops", name="Ops", client_type=ClientType.PUBLIC), NOW)
    with seeded.reading() as uow:
        assert uow.clients.count_of_company("c1") == 1
        assert uow.clients.count_of_company("c2") == 0


# --- invitations ------------------------------------------------------------------------------


def test_an_invitation_is_found_by_its_token_hash_while_pending(seeded: Store) -> None:
    with seeded.transaction() as uow:
        uow.invitations.insert(_invitation())
    with seeded.reading() as uow:
        assert uow.invitations.find("i1") == _invitation()
        assert uow.invitations.find_pending("hash-i1", NOW) == _invitation()
        assert uow.invitations.find_pending("hash-i1", NOW + WEEK) is None
        assert uow.invitations.find_pending("other", NOW) is None


def test_an_invitation_is_accepted_once(seeded: Store) -> None:
    with seeded.transaction() as uow:
        uow.invitations.insert(_invitation())
    with seeded.transaction() as uow:
        accepted = uow.invitations.accept("hash-i1", "u2", NOW)
    with seeded.transaction() as uow:
        again = uow.invitations.accept("hash-i1", "u3", NOW)
    assert accepted is not None
    assert (accepted.accepted_at, accepted.accepted_by) == (NOW, "u2")
    assert again is None
    with seeded.reading() as uow:
        assert uow.invitations.find_pending("hash-i1", NOW) is None


def test_an_expired_or_unknown_invitation_is_not_accepted(seeded: Store) -> None:
    with seeded.transaction() as uow:
        uow.invitations.insert(_invitation())
        assert uow.invitations.accept("hash-i1", "u2", NOW + WEEK) is None
        assert uow.invitations.accept("unknown", "u2", NOW) is None


def test_pending_invitations_exclude_used_expired_and_other_companies(seeded: Store) -> None:
    with seeded.transaction() as uow:
        uow.companies.insert(_company("c2"))
        uow.invitations.insert(_invitation("old", expires_at=NOW))
        uow.invitations.insert(_invitation("used"))
        uow.invitations.insert(_invitation("b", created_at=NOW + timedelta(seconds=2)))
        uow.invitations.insert(_invitation("a", created_at=NOW + timedelta(seconds=1)))
        uow.invitations.insert(_invitation("elsewhere", company_id="c2"))
        uow.invitations.accept("hash-used", "u2", NOW)
    with seeded.reading() as uow:
        pending = uow.invitations.pending_of_company("c1", NOW + timedelta(seconds=3))
    assert [i.id for i in pending] == ["a", "b"]


def test_only_a_pending_invitation_of_the_company_is_revoked(seeded: Store) -> None:
    with seeded.transaction() as uow:
        uow.companies.insert(_company("c2"))
        uow.invitations.insert(_invitation("i1"))
        uow.invitations.insert(_invitation("used"))
        uow.invitations.accept("hash-used", "u2", NOW)
    with seeded.transaction() as uow:
        assert not uow.invitations.revoke("c2", "i1")
        assert not uow.invitations.revoke("c1", "used")
        assert uow.invitations.revoke("c1", "i1")
        assert not uow.invitations.revoke("c1", "i1")
    with seeded.reading() as uow:
        assert uow.invitations.find_pending("hash-i1", NOW) is None


def test_of_eight_racing_acceptances_of_one_link_one_wins(db: Database) -> None:
    """Each thread its own store (its own connections), as separate server processes would."""
    setup = SqlStore(db)
    with setup.transaction() as uow:
        for number in range(1, 10):
            uow.users.insert(_user(f"u{number}"), NOW)
        uow.companies.insert(_company())
        uow.invitations.insert(_invitation())
    start = threading.Barrier(8)
    winners: list[str] = []

    def accept(user_id: str) -> None:
        store = SqlStore(Database(db.url))
        try:
            start.wait(timeout=30)
            with store.transaction() as uow:
                if uow.invitations.accept("hash-i1", user_id, NOW) is not None:
                    winners.append(user_id)
        finally:
            store.dispose()

    threads = [threading.Thread(target=accept, args=(f"u{n}",)) for n in range(2, 10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert len(winners) == 1
    with setup.reading() as uow:
        found = uow.invitations.find("i1")
    assert found is not None and found.accepted_by == winners[0]


def test_prune_deletes_expired_invitations(seeded: Store) -> None:
    with seeded.transaction() as uow:
        uow.invitations.insert(_invitation("old", expires_at=NOW))
        uow.invitations.insert(_invitation("live"))
    with seeded.transaction() as uow:
        pruned = uow.maintenance.prune_expired(NOW)
    assert pruned["company_invitations"] == 1
    with seeded.reading() as uow:
        assert uow.invitations.find("old") is None
        assert uow.invitations.find("live") is not None
