"""Which local user an upstream account logs in as: linking by verified e-mail or phone,
just-in-time users, and the profile refreshed at each login."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest

from idplus.manage.providers import (
    ProviderRegistration,
    add_provider,
    get_provider,
    remove_provider,
)
from idplus.manage.users import UserRegistration, add_user
from idplus.models import UpstreamProvider, User
from idplus.protocol.context import AppContext
from idplus.protocol.federation.accounts import account_of
from idplus.protocol.federation.errors import LinkRefusal, UpstreamError

PASSWORD = "correct horse 42"


def _provider(ctx: AppContext, provider_id: str = "tid", **options: Any) -> UpstreamProvider:
    registration = ProviderRegistration(provider_id, "https://up.example", "hub", **options)
    add_provider(ctx.store, ctx.settings, ctx.clock, registration)
    return get_provider(ctx.store, provider_id)


def _local_user(ctx: AppContext, username: str, **fields: Any) -> User:
    add_user(ctx.store, ctx.clock, UserRegistration(username, PASSWORD, **fields))
    with ctx.store.reading() as uow:
        user = uow.users.find_by_username(username)
    assert user is not None
    return user


def _linked(ctx: AppContext, provider_id: str, subject: str) -> str | None:
    with ctx.store.reading() as uow:
        return uow.upstream_accounts.find_user_id(provider_id, subject)


def test_a_verified_email_joins_the_one_local_user_who_has_it(context: AppContext) -> None:
    kari = _local_user(context, "kari@example.no")
    provider = _provider(context, link_by="email")
    claims = {"sub": "s-1", "email": "Kari@Example.NO", "email_verified": True}
    user = account_of(context, provider, claims)
    assert user.id == kari.id
    assert _linked(context, "tid", "s-1") == kari.id
    # The link holds even if the upstream later sends another e-mail.
    assert account_of(context, provider, {"sub": "s-1", "email": "x@y.no"}).id == kari.id


def test_a_verified_phone_number_joins_in_any_spelling(context: AppContext) -> None:
    ola = _local_user(context, "+4790000001")
    provider = _provider(context, link_by="phone_number")
    claims = {"sub": "s-1", "phone_number": "+47 900 00 001", "phone_number_verified": True}
    assert account_of(context, provider, claims).id == ola.id


@pytest.mark.parametrize(
    ("claims", "refusal"),
    [
        ({"email": "kari@example.no"}, LinkRefusal.UNVERIFIED),
        ({"email": "kari@example.no", "email_verified": False}, LinkRefusal.UNVERIFIED),
        ({"email": "kari@example.no", "email_verified": "yes"}, LinkRefusal.UNVERIFIED),
        ({"email_verified": True}, LinkRefusal.MISSING),
        ({"email": "not an address", "email_verified": True}, LinkRefusal.MISSING),
        ({"email": ["kari@example.no"], "email_verified": True}, LinkRefusal.MISSING),
    ],
)
def test_an_unverified_or_missing_value_refuses_and_writes_nothing(
    context: AppContext, claims: dict[str, Any], refusal: LinkRefusal
) -> None:
    _local_user(context, "kari@example.no")
    provider = _provider(context, link_by="email")
    users_before = _user_count(context)
    with pytest.raises(UpstreamError) as refused:
        account_of(context, provider, {"sub": "s-1", **claims})
    assert refused.value.refusal is refusal
    assert _linked(context, "tid", "s-1") is None
    assert _user_count(context) == users_before


def test_two_local_users_with_the_value_refuse_the_login(context: AppContext) -> None:
    _local_user(context, "+4790000001", email="shared@example.no")
    _local_user(context, "+4790000002", email="shared@example.no")
    provider = _provider(context, link_by="email")
    with pytest.raises(UpstreamError) as refused:
        account_of(context, provider, {"sub": "s", "email": "shared@example.no",
                                       "email_verified": True})  # fmt: skip
    assert refused.value.refusal is LinkRefusal.AMBIGUOUS
    assert _linked(context, "tid", "s") is None


def test_no_local_match_creates_a_user_and_an_upstream_user_is_never_a_target(
    context: AppContext,
) -> None:
    first = _provider(context, "first", link_by="email")
    second = _provider(context, "second", link_by="email")
    claims = {"sub": "s", "email": "new@example.no", "email_verified": True}
    created = account_of(context, first, claims)
    assert not created.has_password
    assert created.email == "new@example.no"
    # A user another upstream created is that upstream's word, not a local account.
    other = account_of(context, second, claims)
    assert other.id != created.id


def test_names_birthdate_and_ial_are_refreshed_at_each_login(context: AppContext) -> None:
    provider = _provider(context, ial_claim="assurance", ial_values=("high=2", "low=1"))
    first = account_of(context, provider, {"sub": "s", "given_name": "Kari", "assurance": "high",
                                           "birthdate": "1990-05-17"})  # fmt: skip
    assert (first.given_name, first.ial, first.birthdate) == ("Kari", 2, date(1990, 5, 17))
    later = {"sub": "s", "given_name": "Kari Anne", "assurance": "low", "birthdate": "0000-05-17"}
    again = account_of(context, provider, later)
    with context.store.reading() as uow:
        stored = uow.users.find(again.id)
    assert stored is not None
    # IAL only rises; an undisclosed birth year is no date.
    assert (stored.given_name, stored.ial, stored.birthdate) == ("Kari Anne", 2, date(1990, 5, 17))


def test_an_upstream_never_changes_a_local_users_phone_or_email(context: AppContext) -> None:
    """A local user's phone number is where their SMS codes go."""
    kari = _local_user(context, "kari@example.no", phone_number="+4790000001")
    provider = _provider(context, link_by="email")
    claims = {"sub": "s", "email": "kari@example.no", "email_verified": True,
              "phone_number": "+4799999999", "phone_number_verified": True,
              "family_name": "Nordmann"}  # fmt: skip
    user = account_of(context, provider, claims)
    assert user.id == kari.id
    assert (user.phone_number, user.email) == ("+4790000001", "kari@example.no")


def test_a_just_in_time_users_contact_details_follow_the_upstream_when_verified(
    context: AppContext,
) -> None:
    provider = _provider(context)
    account_of(context, provider, {"sub": "s", "phone_number": "+4790000003",
                                   "phone_number_verified": True})  # fmt: skip
    user = account_of(context, provider, {"sub": "s", "phone_number": "+4790000004"})
    assert user.phone_number == "+4790000003"  # unverified: kept


def test_parallel_first_logins_linking_one_local_user_both_succeed(context: AppContext) -> None:
    kari = _local_user(context, "kari@example.no")
    provider = _provider(context, link_by="email")
    claims = {"sub": "s", "email": "kari@example.no", "email_verified": True}
    start, users = threading.Barrier(4), []

    def first_login() -> None:
        start.wait()
        users.append(account_of(context, provider, claims).id)

    threads = [threading.Thread(target=first_login) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert users == [kari.id] * 4


def _user_count(ctx: AppContext) -> int:
    with ctx.store.reading() as uow:
        return uow.users.count()


def test_who_a_local_user_is_follows_only_an_upstream_that_vouches_as_strongly(
    context: AppContext,
) -> None:
    kari = _local_user(context, "kari@example.no", given_name="Kari", ial=2)
    social = _provider(context, "social", link_by="email")
    claims = {"sub": "s", "email": "kari@example.no", "email_verified": True,
              "given_name": "Mallory", "birthdate": "2010-01-01"}  # fmt: skip
    assert account_of(context, social, claims).given_name == "Kari"
    bank = _provider(context, "bank", link_by="email", ial_claim="loa", ial_values=("high=2",))
    strong = {**claims, "sub": "b", "given_name": "Kari Anne", "loa": "high"}
    updated = account_of(context, bank, strong)
    assert (updated.id, updated.given_name) == (kari.id, "Kari Anne")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "\u212aari@example.no"),  # KELVIN SIGN lower-cases to k
        ("email", "kari@example.no\u00a0"),
        ("phone_number", "90000001"),  # a national number of any country
        ("phone_number", "4790000001"),
    ],
)
def test_lookalike_values_never_link(context: AppContext, field: str, value: str) -> None:
    _local_user(context, "+4790000001", email="kari@example.no")
    provider = _provider(context, link_by=field)
    claims = {"sub": "s", field: value, f"{field}_verified": True}
    with pytest.raises(UpstreamError) as refused:
        account_of(context, provider, claims)
    assert refused.value.refusal is LinkRefusal.MISSING


def test_a_user_with_a_required_second_factor_is_no_link_target(context: AppContext) -> None:
    _local_user(context, "+4790000001", email="kari@example.no", otp_required=True)
    provider = _provider(context, link_by="email")
    claims = {"sub": "s", "email": "kari@example.no", "email_verified": True}
    with pytest.raises(UpstreamError) as refused:
        account_of(context, provider, claims)
    assert refused.value.refusal is LinkRefusal.SECOND_FACTOR


def test_a_second_upstream_account_with_the_same_address_is_refused(context: AppContext) -> None:
    kari = _local_user(context, "kari@example.no")
    provider = _provider(context, link_by="email")
    claims = {"email": "kari@example.no", "email_verified": True}
    assert account_of(context, provider, {"sub": "kari-old", **claims}).id == kari.id
    with pytest.raises(UpstreamError) as refused:
        account_of(context, provider, {"sub": "someone-new", **claims})
    assert refused.value.refusal is LinkRefusal.ALREADY_LINKED


def test_a_disconnected_account_is_not_linked_again(context: AppContext) -> None:
    kari = _local_user(context, "kari@example.no")
    provider = _provider(context, link_by="email")
    claims = {"sub": "s", "email": "kari@example.no", "email_verified": True}
    account_of(context, provider, claims)
    with context.store.transaction() as uow:
        assert uow.upstream_accounts.unlink_unless_last("tid", "s", kari)
    with pytest.raises(UpstreamError) as refused:
        account_of(context, provider, claims)
    assert refused.value.refusal is LinkRefusal.DISCONNECTED


def test_a_provider_id_registered_again_for_another_issuer_inherits_nobody(
    context: AppContext,
) -> None:
    old = _provider(context, "corp")
    first = account_of(context, old, {"sub": "1001"})
    remove_provider(context.store, context.clock, "corp")
    add_provider(context.store, context.settings, context.clock,
                 ProviderRegistration("corp", "https://other.example", "hub"))  # fmt: skip
    again = account_of(context, get_provider(context.store, "corp"), {"sub": "1001"})
    assert again.id != first.id


@pytest.mark.parametrize("name", ["Kari\ud800", "Kari\x00", "x" * 201])
def test_names_a_database_cannot_hold_are_ignored(context: AppContext, name: str) -> None:
    provider = _provider(context)
    user = account_of(context, provider, {"sub": "s", "given_name": name})
    assert user.given_name is None
