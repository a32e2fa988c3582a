"""User registration: normalised usernames, generated identifiers, argon2id passwords."""

from __future__ import annotations

from datetime import date

import pytest

from idplus.clock import FrozenClock
from idplus.crypto.hashing import verify_password
from idplus.errors import Conflict, NotFoundError, ValidationError
from idplus.manage.companies import (
    Member,
    change_member_role,
    create_company,
    delete_company,
    list_members,
)
from idplus.manage.users import (
    UserRegistration,
    add_user,
    build_user,
    get_user,
    remove_user,
    set_password,
)
from idplus.models import COMPANY_ADMIN, COMPANY_DEVELOPER, Caller, Membership
from idplus.store.base import Store
from idplus.store.sql.companies import SqlCompanies
from tests.manage.test_invitations import while_inside

OPS = Caller.admin_client("ops")


def test_generated_identifiers_and_normalised_username() -> None:
    user = build_user(UserRegistration(username="900 12 345", password="password1"))
    assert user.username == "+4790012345"
    assert user.phone_number == "+4790012345"
    assert user.kurtid.isdigit()
    assert len(user.tnuids) == 1
    assert user.analytics_uuid
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, "password1")


def test_given_identifiers_are_kept() -> None:
    user = build_user(
        UserRegistration(
            username="Kari@Example.NO",
            password="password1",
            kurtid="123",
            tnuids=["t1", "t2", "t1"],
            ial=2,
            birthdate="1990-05-17",
            phone_number="41234567",
        )
    )
    assert (user.username, user.email) == ("kari@example.no", "kari@example.no")
    assert (user.kurtid, user.tnuids, user.ial) == ("123", ("t1", "t2"), 2)
    assert user.birthdate == date(1990, 5, 17)
    assert user.phone_number == "+4741234567"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"password": "short"}, "at least 8"),
        ({"ial": 4}, "ial"),
        ({"birthdate": "17.05.1990"}, "YYYY-MM-DD"),
        ({"username": "kari@example.no", "otp_required": True}, "phone number"),
        ({"username": "kari"}, "mobile number or an e-mail"),
    ],
)
def test_invalid_registrations_are_refused(fields: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"username": "90012345", "password": "password1", **fields}
    with pytest.raises(ValidationError, match=message):
        build_user(UserRegistration(**values))  # type: ignore[arg-type]


def test_duplicates_are_refused(store: Store, clock: FrozenClock) -> None:
    add_user(store, clock, UserRegistration("90012345", "password1", kurtid="k1", tnuids=["t1"]))
    with pytest.raises(ValidationError, match="already exists"):
        add_user(store, clock, UserRegistration("+47 900 12 345", "password1"))
    with pytest.raises(ValidationError, match="kurtid"):
        add_user(store, clock, UserRegistration("90012346", "password1", kurtid="k1"))
    with pytest.raises(ValidationError, match="tnuid t1"):
        add_user(store, clock, UserRegistration("90012347", "password1", tnuids=["t1"]))


def test_lookup_password_change_and_removal(store: Store, clock: FrozenClock) -> None:
    added = add_user(store, clock, UserRegistration("90012345", "password1"))
    assert get_user(store, "0047 900 12 345").id == added.id
    set_password(store, clock, "90012345", "password2")
    assert verify_password(get_user(store, "90012345").password_hash, "password2")
    remove_user(store, clock, "90012345")
    with pytest.raises(NotFoundError, match="unknown user"):
        get_user(store, "90012345")
    with pytest.raises(NotFoundError, match="unknown user"):
        get_user(store, "not a username")


def _member_of(
    store: Store, clock: FrozenClock, company_id: str, caller: Caller, role: str
) -> None:
    assert caller.user_id is not None
    with store.transaction() as uow:
        uow.companies.add_member(Membership(company_id, caller.user_id, role, clock.now()))


def _user(store: Store, clock: FrozenClock, username: str) -> Caller:
    user = add_user(store, clock, UserRegistration(username, "password1"))
    return Caller.user(user.id, operator=False)


def test_a_companys_last_admin_is_not_removed(store: Store, clock: FrozenClock) -> None:
    """`idplus user remove` of a company's only admin would leave it with nobody to run it:
    refused, naming the companies, until another member is its admin or it is gone."""
    ann, bob = _user(store, clock, "90000001"), _user(store, clock, "90000002")
    acme = create_company(store, clock, ann, "Acme").company.id
    initech = create_company(store, clock, ann, "Initech").company.id
    _member_of(store, clock, acme, bob, COMPANY_DEVELOPER)

    with pytest.raises(Conflict) as refused:
        remove_user(store, clock, "90000001")

    assert "they are the last admin of" in refused.value.description
    assert f"'Acme' ({acme})" in refused.value.description
    assert f"'Initech' ({initech})" in refused.value.description
    assert {m.user_id for m in list_members(store, OPS, acme)} == {ann.user_id, bob.user_id}
    change_member_role(store, clock, ann, acme, str(bob.user_id), COMPANY_ADMIN)
    delete_company(store, clock, ann, initech)
    remove_user(store, clock, "90000001")
    assert [(m.user_id, m.role) for m in list_members(store, OPS, acme)] == [
        (bob.user_id, COMPANY_ADMIN)
    ]


def test_an_admin_removed_while_the_other_is_demoted_leaves_one(
    store: Store, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each change alone leaves an admin, together they would leave none: the removal waits
    for the company's row the demotion holds, then sees it and is refused."""
    ann, bob = _user(store, clock, "90000001"), _user(store, clock, "90000002")
    acme = create_company(store, clock, ann, "Acme").company.id
    _member_of(store, clock, acme, bob, COMPANY_ADMIN)

    demoted, removed = while_inside(
        monkeypatch,
        (SqlCompanies, "set_role"),
        lambda: change_member_role(store, clock, ann, acme, str(bob.user_id), COMPANY_DEVELOPER),
        lambda: remove_user(store, clock, "90000001"),
    )

    assert isinstance(demoted, Member), demoted
    assert isinstance(removed, Conflict), removed
    assert {(m.user_id, m.role) for m in list_members(store, OPS, acme)} == {
        (ann.user_id, COMPANY_ADMIN),
        (bob.user_id, COMPANY_DEVELOPER),
    }
