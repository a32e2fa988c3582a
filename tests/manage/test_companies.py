"""Companies and their members: a developer's company starts with them as its admin, only
admins change it, outsiders learn nothing of it, and it never loses its last admin — not even
to two admins leaving at the same moment."""

from __future__ import annotations

import threading

import pytest

from idplus.clock import FrozenClock
from idplus.errors import Conflict, Forbidden, NotFoundError, PreconditionFailed, ValidationError
from idplus.manage.companies import (
    change_member_role,
    company_version,
    create_company,
    delete_company,
    get_company,
    list_companies,
    list_members,
    remove_member,
    rename_company,
)
from idplus.models import (
    COMPANY_ADMIN,
    COMPANY_DEVELOPER,
    AuditEvent,
    Caller,
    Client,
    Membership,
    User,
)
from idplus.policies import ClientType
from idplus.store.base import Store
from idplus.store.sql.engine import Database
from idplus.store.sql.uow import SqlStore

OPS = Caller.admin_client("ops")
ANN, BOB, CAT = "u-ann", "u-bob", "u-cat"


def add_people(store: Store, clock: FrozenClock, *user_ids: str) -> None:
    """Users (no password needed here) named after their ids: username "name-of-<id>"."""
    with store.transaction() as uow:
        for user_id in user_ids:
            user = User(
                id=user_id,
                username=f"name-of-{user_id}",
                password_hash="x",
                kurtid=f"k-{user_id}",
                analytics_uuid=f"a-{user_id}",
                tnuids=(),
                given_name="Given",
                family_name=user_id,
                email=f"{user_id}@example.com",
            )
            uow.users.insert(user, clock.now())


def dev(user_id: str) -> Caller:
    return Caller.user(user_id, operator=False)


def events(store: Store, *names: str) -> list[AuditEvent]:
    with store.reading() as uow:
        return list(reversed(uow.audit.list_events(1000, events=names)))


def company_of(store: Store, clock: FrozenClock, admin: str = ANN, *others: str) -> str:
    """A company with `admin` as its admin and `others` as developers."""
    company = create_company(store, clock, dev(admin), "Acme").company
    with store.transaction() as uow:
        for user_id in others:
            uow.companies.add_member(
                Membership(company.id, user_id, COMPANY_DEVELOPER, clock.now())
            )
    return company.id


@pytest.fixture
def people(store: Store, clock: FrozenClock) -> Store:
    add_people(store, clock, ANN, BOB, CAT)
    return store


# --- creating -------------------------------------------------------------------------------


def test_a_developer_creating_a_company_becomes_its_admin(
    people: Store, clock: FrozenClock
) -> None:
    view = create_company(people, clock, dev(ANN), "Acme AS")

    assert view.role == COMPANY_ADMIN
    assert view.company.created_by == f"user:{ANN}"
    assert [(m.user_id, m.role) for m in list_members(people, dev(ANN), view.company.id)] == [
        (ANN, COMPANY_ADMIN)
    ]
    (event,) = events(people, "company.created")
    assert event.user_id == ANN
    assert event.detail == {
        "company_id": view.company.id,
        "name": "Acme AS",
        "admin_user_id": ANN,
        "actor": f"user:{ANN}",
    }


def test_an_operator_names_the_companys_first_admin(people: Store, clock: FrozenClock) -> None:
    with pytest.raises(ValidationError, match="admin_username"):
        create_company(people, clock, OPS, "Acme")
    with pytest.raises(ValidationError, match="no user"):
        create_company(people, clock, OPS, "Acme", admin_username="nobody")

    view = create_company(people, clock, OPS, "Acme", admin_username=f"name-of-{BOB}")

    assert get_company(people, dev(BOB), view.company.id).role == COMPANY_ADMIN
    assert events(people, "company.created")[0].detail["actor"] == "client:ops"


def test_an_operator_user_who_names_no_admin_becomes_it(people: Store, clock: FrozenClock) -> None:
    view = create_company(people, clock, Caller.user(CAT, operator=True), "Ops Co")

    assert [m.user_id for m in list_members(people, dev(CAT), view.company.id)] == [CAT]
    assert get_company(people, dev(CAT), view.company.id).role == COMPANY_ADMIN


def test_a_developer_cannot_make_someone_else_the_admin(people: Store, clock: FrozenClock) -> None:
    with pytest.raises(Forbidden):
        create_company(people, clock, dev(ANN), "Acme", admin_username=f"name-of-{BOB}")
    assert list_companies(people, OPS) == []


def test_a_locked_user_cannot_be_made_an_admin(people: Store, clock: FrozenClock) -> None:
    locked = User(
        id="u-locked",
        username="locked",
        password_hash="x",
        kurtid="k-locked",
        analytics_uuid="a-locked",
        tnuids=(),
        disabled_at=clock.now(),
    )
    with people.transaction() as uow:
        uow.users.insert(locked, clock.now())
    with pytest.raises(ValidationError, match="locked"):
        create_company(people, clock, OPS, "Acme", admin_username="locked")


@pytest.mark.parametrize("name", ["", "   ", "two\nlines", "x" * 201, "nul\x00"])
def test_a_company_name_is_one_line_of_plain_text(
    people: Store, clock: FrozenClock, name: str
) -> None:
    with pytest.raises(ValidationError, match="a company's name"):
        create_company(people, clock, dev(ANN), name)


# --- reading --------------------------------------------------------------------------------


def test_developers_list_their_own_companies_and_operators_all(
    people: Store, clock: FrozenClock
) -> None:
    mine = company_of(people, clock, ANN, BOB)
    other = company_of(people, clock, CAT)

    theirs = {view.company.id: view.role for view in list_companies(people, dev(BOB))}
    everyone = [view.company.id for view in list_companies(people, OPS)]

    assert theirs == {mine: COMPANY_DEVELOPER}
    assert everyone == sorted([mine, other])
    first = list_companies(people, OPS, limit=1)
    assert [v.company.id for v in list_companies(people, OPS, after=first[0].company.id)] == [
        everyone[1]
    ]


def test_an_outsider_learns_nothing_of_a_company(people: Store, clock: FrozenClock) -> None:
    company_id = company_of(people, clock, ANN)

    for call in (
        lambda: get_company(people, dev(CAT), company_id),
        lambda: list_members(people, dev(CAT), company_id),
        lambda: rename_company(people, clock, dev(CAT), company_id, "Mine"),
        lambda: delete_company(people, clock, dev(CAT), company_id),
        lambda: remove_member(people, clock, dev(CAT), company_id, ANN),
    ):
        with pytest.raises(NotFoundError, match="no company"):
            call()
    with pytest.raises(NotFoundError, match="no company"):
        get_company(people, dev(CAT), "does-not-exist")


def test_members_see_each_other_without_secrets(people: Store, clock: FrozenClock) -> None:
    company_id = company_of(people, clock, ANN, BOB)

    members = list_members(people, dev(BOB), company_id)

    assert [(m.user_id, m.role, m.username, m.name, m.email) for m in members] == [
        (ANN, COMPANY_ADMIN, f"name-of-{ANN}", f"Given {ANN}", f"{ANN}@example.com"),
        (BOB, COMPANY_DEVELOPER, f"name-of-{BOB}", f"Given {BOB}", f"{BOB}@example.com"),
    ]
    assert not hasattr(members[0], "password_hash")


# --- renaming and deleting ------------------------------------------------------------------


def test_an_admin_renames_against_the_version_read(people: Store, clock: FrozenClock) -> None:
    company_id = company_of(people, clock, ANN, BOB)
    read = get_company(people, dev(ANN), company_id)

    renamed = rename_company(
        people, clock, dev(ANN), company_id, "Acme AS", expected_versions={read.version}
    )

    assert renamed.company.name == "Acme AS"
    assert renamed.version != read.version == company_version(read.company)
    with pytest.raises(PreconditionFailed):
        rename_company(
            people, clock, dev(ANN), company_id, "Acme 2", expected_versions={read.version}
        )
    (event,) = events(people, "company.renamed")
    assert event.detail == {
        "company_id": company_id,
        "before": "Acme",
        "after": "Acme AS",
        "actor": f"user:{ANN}",
    }


def test_a_developer_may_not_rename_or_delete(people: Store, clock: FrozenClock) -> None:
    company_id = company_of(people, clock, ANN, BOB)
    with pytest.raises(Forbidden):
        rename_company(people, clock, dev(BOB), company_id, "Bob's")
    with pytest.raises(Forbidden):
        delete_company(people, clock, dev(BOB), company_id)
    assert get_company(people, dev(ANN), company_id).company.name == "Acme"


def test_a_company_with_apps_cannot_be_deleted(people: Store, clock: FrozenClock) -> None:
    company_id = company_of(people, clock, ANN)
    app = Client(
        client_id="app-1", name="App", client_type=ClientType.PUBLIC, company_id=company_id
    )
    with people.transaction() as uow:
        uow.clients.insert(app, clock.now())

    with pytest.raises(Conflict, match="1 app"):
        delete_company(people, clock, dev(ANN), company_id)

    with people.transaction() as uow:
        uow.clients.delete("app-1")
    delete_company(people, clock, OPS, company_id)
    assert list_companies(people, OPS) == []
    assert list_companies(people, dev(ANN)) == []
    (event,) = events(people, "company.deleted")
    assert event.detail == {"company_id": company_id, "name": "Acme", "actor": "client:ops"}


def test_deleting_against_a_stale_version_is_refused(people: Store, clock: FrozenClock) -> None:
    company_id = company_of(people, clock, ANN)
    stale = get_company(people, dev(ANN), company_id).version
    rename_company(people, clock, OPS, company_id, "Renamed")
    with pytest.raises(PreconditionFailed):
        delete_company(people, clock, dev(ANN), company_id, expected_versions={stale})


# --- members' roles -------------------------------------------------------------------------


def test_an_admin_promotes_and_demotes_but_never_the_last_admin(
    people: Store, clock: FrozenClock
) -> None:
    company_id = company_of(people, clock, ANN, BOB)
    with pytest.raises(Conflict, match="last admin"):
        change_member_role(people, clock, dev(ANN), company_id, ANN, COMPANY_DEVELOPER)

    promoted = change_member_role(people, clock, dev(ANN), company_id, BOB, COMPANY_ADMIN)
    demoted = change_member_role(people, clock, dev(BOB), company_id, ANN, COMPANY_DEVELOPER)

    assert (promoted.user_id, promoted.role) == (BOB, COMPANY_ADMIN)
    assert (demoted.user_id, demoted.role) == (ANN, COMPANY_DEVELOPER)
    changes = events(people, "company.member_role_changed")
    assert [
        (e.user_id, e.detail["before"], e.detail["after"], e.detail["actor"]) for e in changes
    ] == [(BOB, "developer", "admin", f"user:{ANN}"), (ANN, "admin", "developer", f"user:{BOB}")]


def test_role_changes_are_for_admins_and_known_members_only(
    people: Store, clock: FrozenClock
) -> None:
    company_id = company_of(people, clock, ANN, BOB)
    with pytest.raises(Forbidden):
        change_member_role(people, clock, dev(BOB), company_id, BOB, COMPANY_ADMIN)
    with pytest.raises(NotFoundError, match="no member"):
        change_member_role(people, clock, dev(ANN), company_id, CAT, COMPANY_ADMIN)
    with pytest.raises(ValidationError, match="role"):
        change_member_role(people, clock, dev(ANN), company_id, BOB, "owner")
    unchanged = change_member_role(people, clock, dev(ANN), company_id, BOB, COMPANY_DEVELOPER)
    assert unchanged.role == COMPANY_DEVELOPER
    assert events(people, "company.member_role_changed") == []


# --- leaving and removing -------------------------------------------------------------------


def test_a_member_leaves_and_an_admin_removes_others(people: Store, clock: FrozenClock) -> None:
    company_id = company_of(people, clock, ANN, BOB, CAT)

    remove_member(people, clock, dev(BOB), company_id, BOB)
    remove_member(people, clock, dev(ANN), company_id, CAT)

    assert [m.user_id for m in list_members(people, dev(ANN), company_id)] == [ANN]
    removed = events(people, "company.member_removed")
    assert [(e.user_id, e.detail["left_by_themself"], e.detail["actor"]) for e in removed] == [
        (BOB, True, f"user:{BOB}"),
        (CAT, False, f"user:{ANN}"),
    ]


def test_a_developer_cannot_remove_others_and_the_last_admin_stays(
    people: Store, clock: FrozenClock
) -> None:
    company_id = company_of(people, clock, ANN, BOB)
    with pytest.raises(Forbidden):
        remove_member(people, clock, dev(BOB), company_id, ANN)
    with pytest.raises(Conflict, match="last admin"):
        remove_member(people, clock, dev(ANN), company_id, ANN)
    with pytest.raises(Conflict, match="last admin"):
        remove_member(people, clock, OPS, company_id, ANN)
    with pytest.raises(NotFoundError, match="no member"):
        remove_member(people, clock, dev(ANN), company_id, CAT)


def test_two_admins_leaving_at_once_leave_one_admin(db: Database, clock: FrozenClock) -> None:
    """The company row is locked before the "another admin is left" check: without it, each
    removal would see the other admin and the company would be left with none."""
    setup = SqlStore(db)
    add_people(setup, clock, ANN, BOB)
    company_id = company_of(setup, clock, ANN, BOB)
    change_member_role(setup, clock, dev(ANN), company_id, BOB, COMPANY_ADMIN)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def leave(user_id: str) -> None:
        store = SqlStore(Database(db.url))
        try:
            start.wait(timeout=30)
            remove_member(store, clock, dev(user_id), company_id, user_id)
            outcomes.append("left")
        except Conflict:
            outcomes.append("refused")
        finally:
            store.dispose()

    threads = [threading.Thread(target=leave, args=(user_id,)) for user_id in (ANN, BOB)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["left", "refused"]
    with setup.reading() as uow:
        assert uow.companies.admin_count(company_id) == 1


def test_the_trail_finds_a_companys_events_by_the_company_and_by_who_acted(
    people: Store, clock: FrozenClock
) -> None:
    from idplus.manage.audit import AuditQuery, list_events

    company_id = company_of(people, clock, ANN, BOB)
    rename_company(people, clock, dev(ANN), company_id, "Acme AS")
    remove_member(people, clock, OPS, company_id, BOB)

    about = list_events(people, clock, AuditQuery(about=f"company:{company_id}"))
    by_ann = list_events(people, clock, AuditQuery(changed_by=f"user:{ANN}"))

    assert [e.event for e in about] == [
        "company.member_removed",
        "company.renamed",
        "company.created",
    ]
    assert [e.event for e in by_ann] == ["company.renamed", "company.created"]
