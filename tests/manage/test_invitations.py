"""Invitations: an admin e-mails a single-use link that is stored only as an HMAC; the link
makes its holder a member once, and an expired, used or unknown link gets one and the same
answer; a failed send leaves nothing behind; inviters and companies have a budget."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from idplus.auth.sender import Message
from idplus.clock import FrozenClock
from idplus.crypto.hashing import hash_handle
from idplus.errors import Forbidden, NotFoundError, RateLimited, Unavailable, ValidationError
from idplus.manage.companies import (
    change_member_role,
    create_company,
    delete_company,
    list_members,
)
from idplus.manage.invitations import (
    GONE,
    AcceptedInvitation,
    InvitationMail,
    accept_invitation,
    find_invitation,
    invite,
    list_invitations,
    revoke_invitation,
)
from idplus.models import COMPANY_ADMIN, COMPANY_DEVELOPER, Caller, Membership
from idplus.randomness import SystemRandomness
from idplus.store.base import Store
from idplus.store.sql.clients import SqlClients
from idplus.store.sql.invitations import SqlInvitations
from tests.manage.test_companies import ANN, BOB, CAT, OPS, add_people, dev, events

ISSUER = "https://id.example"
KEY = b"k" * 32
# The token is in the query: request logs write the path alone.
LINK = re.compile(rf"{re.escape(ISSUER)}/portal/invitations\?token=([A-Za-z0-9_-]+)\s")


class Outbox:
    """A sender that keeps what it is given (or fails, when told to)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.failing = False

    def send(self, message: Message) -> None:
        if self.failing:
            raise OSError("relay down for someone@example.com")
        self.messages.append(message)

    def token(self, index: int = -1) -> str:
        found = LINK.search(self.messages[index].body)
        assert found is not None, self.messages[index].body
        return found.group(1)


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
def mail(outbox: Outbox) -> InvitationMail:
    return InvitationMail(outbox, ISSUER, KEY, SystemRandomness())


@pytest.fixture
def company_id(store: Store, clock: FrozenClock) -> str:
    """Ann's company "Acme"; Bob and Cat belong to nothing yet."""
    add_people(store, clock, ANN, BOB, CAT)
    return create_company(store, clock, dev(ANN), "Acme").company.id


# --- sending --------------------------------------------------------------------------------


def test_an_invitation_mails_one_link_and_stores_only_its_hmac(
    store: Store, clock: FrozenClock, mail: InvitationMail, outbox: Outbox, company_id: str
) -> None:
    invitation = invite(store, clock, mail, dev(ANN), company_id, "bob@example.com")

    (message,) = outbox.messages
    token = outbox.token()
    assert (message.to, message.channel) == ("bob@example.com", "email")
    assert len(token) >= 43  # 32 random bytes
    assert f"{ISSUER}/portal/invitations?token={token}\n" in message.body
    assert f"/portal/invitations/{token}" not in message.body
    assert invitation.token_hash == hash_handle(KEY, f"invitation:{token}")
    assert token not in repr(invitation)
    assert invitation.role == COMPANY_DEVELOPER
    assert invitation.expires_at == clock.now() + timedelta(days=7)
    assert invitation.invited_by == f"user:{ANN}"
    (event,) = events(store, "company.invitation_sent")
    assert event.detail == {
        "company_id": company_id,
        "invitation_id": invitation.id,
        "role": "developer",
        "email": "bob@example.com",
        "actor": f"user:{ANN}",
    }
    assert token not in repr(events(store))


def test_the_message_names_the_company_in_english_and_norwegian(
    store: Store, clock: FrozenClock, mail: InvitationMail, outbox: Outbox, company_id: str
) -> None:
    invite(store, clock, mail, dev(ANN), company_id, "bob@example.com", COMPANY_ADMIN)
    invite(store, clock, mail, dev(ANN), company_id, "cat@example.com", locale="nb")

    both, norwegian = (m.body for m in outbox.messages)
    assert "“Acme”" in both and "«Acme»" in both
    assert "as an admin" in both and "som administrator" in both
    assert "valid for 7 days" in both
    assert "«Acme»" in norwegian and "som utvikler" in norwegian
    assert "You are invited" not in norwegian


@pytest.mark.parametrize(
    "email",
    [
        "",
        "bob",
        "@example.com",
        "bob@",
        "bob @example.com",
        "bob@example.com\nBcc: x@y",
        "a" * 310 + "@example.com",
    ],
)
def test_only_one_address_on_one_line_is_invited(
    store: Store,
    clock: FrozenClock,
    mail: InvitationMail,
    outbox: Outbox,
    company_id: str,
    email: str,
) -> None:
    with pytest.raises(ValidationError, match="email"):
        invite(store, clock, mail, dev(ANN), company_id, email)
    assert outbox.messages == []


def test_only_admins_invite_and_outsiders_learn_nothing(
    store: Store, clock: FrozenClock, mail: InvitationMail, outbox: Outbox, company_id: str
) -> None:
    with store.transaction() as uow:
        uow.companies.add_member(Membership(company_id, BOB, COMPANY_DEVELOPER, clock.now()))
    with pytest.raises(Forbidden):
        invite(store, clock, mail, dev(BOB), company_id, "x@example.com")
    with pytest.raises(NotFoundError):
        invite(store, clock, mail, dev(CAT), company_id, "x@example.com")
    with pytest.raises(ValidationError, match="role"):
        invite(store, clock, mail, dev(ANN), company_id, "x@example.com", "owner")
    invite(store, clock, mail, OPS, company_id, "x@example.com")
    assert [m.to for m in outbox.messages] == ["x@example.com"]


def test_a_failed_send_leaves_no_invitation_and_spends_no_budget(
    store: Store, clock: FrozenClock, mail: InvitationMail, outbox: Outbox, company_id: str
) -> None:
    outbox.failing = True
    for _ in range(25):
        with pytest.raises(Unavailable):
            invite(store, clock, mail, dev(ANN), company_id, "bob@example.com")

    assert list_invitations(store, clock, dev(ANN), company_id) == []
    assert events(store, "company.invitation_sent") == []
    outbox.failing = False
    invite(store, clock, mail, dev(ANN), company_id, "bob@example.com")


# --- limits ---------------------------------------------------------------------------------


def test_an_inviter_sends_20_an_hour(
    store: Store, clock: FrozenClock, mail: InvitationMail, outbox: Outbox, company_id: str
) -> None:
    other = create_company(store, clock, dev(ANN), "Other").company.id
    for number in range(20):
        target = company_id if number % 2 else other
        invite(store, clock, mail, dev(ANN), target, f"p{number}@example.com")

    with pytest.raises(RateLimited) as refused:
        invite(store, clock, mail, dev(ANN), company_id, "late@example.com")

    assert refused.value.retry_after == 3600
    assert len(outbox.messages) == 20
    invite(store, clock, mail, OPS, company_id, "ops@example.com")  # another inviter
    clock.advance(timedelta(hours=1))
    invite(store, clock, mail, dev(ANN), company_id, "later@example.com")


def test_a_company_gets_50_a_day(
    store: Store, clock: FrozenClock, mail: InvitationMail, outbox: Outbox, company_id: str
) -> None:
    for number in range(50):
        inviter = Caller.admin_client(f"ops-{number // 20}")
        invite(store, clock, mail, inviter, company_id, f"p{number}@example.com")

    with pytest.raises(RateLimited) as refused:
        invite(store, clock, mail, Caller.admin_client("fresh"), company_id, "x@example.com")

    assert refused.value.retry_after == 24 * 3600
    clock.advance(timedelta(days=1))
    invite(store, clock, mail, Caller.admin_client("fresh"), company_id, "x@example.com")


# --- accepting ------------------------------------------------------------------------------


def test_a_link_makes_its_holder_a_member_once(
    store: Store, clock: FrozenClock, mail: InvitationMail, outbox: Outbox, company_id: str
) -> None:
    invite(store, clock, mail, dev(ANN), company_id, "bob@example.com")
    token = outbox.token()
    preview = find_invitation(store, clock, KEY, token)

    accepted = accept_invitation(store, clock, KEY, dev(BOB), token)

    assert (preview.company_name, preview.role, preview.email) == (
        "Acme",
        COMPANY_DEVELOPER,
        "bob@example.com",
    )
    assert (accepted.company_id, accepted.company_name, accepted.role) == (
        company_id,
        "Acme",
        COMPANY_DEVELOPER,
    )
    assert not accepted.already_member
    assert [(m.user_id, m.role) for m in list_members(store, dev(BOB), company_id)] == [
        (ANN, COMPANY_ADMIN),
        (BOB, COMPANY_DEVELOPER),
    ]
    with pytest.raises(ValidationError, match=GONE):
        accept_invitation(store, clock, KEY, dev(CAT), token)
    with pytest.raises(ValidationError, match=GONE):
        find_invitation(store, clock, KEY, token)
    (event,) = events(store, "company.invitation_accepted")
    assert event.user_id == BOB
    assert event.detail["actor"] == f"user:{BOB}" and token not in repr(event.detail)
    assert [e.user_id for e in events(store, "company.member_added")] == [BOB]


def test_expired_used_and_unknown_links_get_the_same_answer(
    store: Store, clock: FrozenClock, mail: InvitationMail, outbox: Outbox, company_id: str
) -> None:
    invite(store, clock, mail, dev(ANN), company_id, "bob@example.com")
    used = outbox.token()
    accept_invitation(store, clock, KEY, dev(BOB), used)
    invite(store, clock, mail, dev(ANN), company_id, "cat@example.com")
    expired = outbox.token()
    clock.advance(timedelta(days=7))

    answers = []
    for token in (used, expired, "unknown-token", "", "x" * 5000):
        with pytest.raises(ValidationError) as refused:
            accept_invitation(store, clock, KEY, dev(CAT), token)
        answers.append(refused.value.description)

    assert answers == [GONE] * 5
    assert [m.user_id for m in list_members(store, dev(ANN), company_id)] == [ANN, BOB]


def test_a_member_uses_the_link_and_keeps_their_role(
    store: Store, clock: FrozenClock, mail: InvitationMail, outbox: Outbox, company_id: str
) -> None:
    invite(store, clock, mail, dev(ANN), company_id, "bob@example.com", COMPANY_ADMIN)
    accept_invitation(store, clock, KEY, dev(BOB), outbox.token())
    change_member_role(store, clock, dev(ANN), company_id, BOB, COMPANY_ADMIN)
    invite(store, clock, mail, dev(ANN), company_id, "bob@example.com", COMPANY_DEVELOPER)

    again = accept_invitation(store, clock, KEY, dev(BOB), outbox.token())

    assert again.already_member and again.role == COMPANY_ADMIN
    with pytest.raises(ValidationError, match=GONE):
        accept_invitation(store, clock, KEY, dev(CAT), outbox.token())


def test_only_a_user_accepts(
    store: Store, clock: FrozenClock, mail: InvitationMail, outbox: Outbox, company_id: str
) -> None:
    invite(store, clock, mail, dev(ANN), company_id, "bob@example.com")
    with pytest.raises(Forbidden):
        accept_invitation(store, clock, KEY, OPS, outbox.token())
    accept_invitation(store, clock, KEY, dev(BOB), outbox.token())


# --- listing and revoking -------------------------------------------------------------------


def test_admins_list_and_revoke_pending_invitations(
    store: Store, clock: FrozenClock, mail: InvitationMail, outbox: Outbox, company_id: str
) -> None:
    first = invite(store, clock, mail, dev(ANN), company_id, "bob@example.com")
    accept_invitation(store, clock, KEY, dev(BOB), outbox.token())
    second = invite(store, clock, mail, dev(ANN), company_id, "cat@example.com")
    clock.advance(timedelta(seconds=1))  # listed oldest first
    third = invite(store, clock, mail, dev(ANN), company_id, "dan@example.com")

    assert [i.id for i in list_invitations(store, clock, dev(ANN), company_id)] == [
        second.id,
        third.id,
    ]
    with pytest.raises(Forbidden):
        list_invitations(store, clock, dev(BOB), company_id)
    with pytest.raises(Forbidden):
        revoke_invitation(store, clock, dev(BOB), company_id, third.id)
    with pytest.raises(NotFoundError):
        revoke_invitation(store, clock, dev(ANN), company_id, first.id)  # accepted already

    revoke_invitation(store, clock, dev(ANN), company_id, third.id)

    assert [i.id for i in list_invitations(store, clock, dev(ANN), company_id)] == [second.id]
    with pytest.raises(ValidationError, match=GONE):
        accept_invitation(store, clock, KEY, dev(CAT), outbox.token())
    (event,) = events(store, "company.invitation_revoked")
    assert event.detail == {
        "company_id": company_id,
        "invitation_id": third.id,
        "email": "dan@example.com",
        "actor": f"user:{ANN}",
    }


# --- racing the company's deletion ----------------------------------------------------------


def while_inside(
    monkeypatch: pytest.MonkeyPatch,
    store_call: tuple[type, str],
    first: Callable[[], object],
    second: Callable[[], object],
) -> tuple[object, object]:
    """Run `first` in a thread until it is inside `store_call` (a store class and method name),
    holding the locks it took before; then run `second` while it pauses there. What each
    returned or raised. The pause only widens the window: the outcome must not depend on it."""
    cls, name = store_call
    original = getattr(cls, name)
    inside = threading.Event()
    outcomes: dict[str, object] = {}

    def paused(self: object, *args: object, **kwargs: object) -> object:
        result = original(self, *args, **kwargs)
        if threading.current_thread().name == "first" and not inside.is_set():
            inside.set()
            time.sleep(0.5)
        return result

    def run(key: str, change: Callable[[], object]) -> None:
        try:
            outcomes[key] = change()
        except Exception as error:  # an outcome to compare, whatever it is
            outcomes[key] = error

    monkeypatch.setattr(cls, name, paused)
    thread = threading.Thread(target=run, args=("first", first), name="first")
    thread.start()
    reached = inside.wait(timeout=30)
    run("second", second)
    thread.join()
    assert reached, f"the first change never called {cls.__name__}.{name}: {outcomes['first']!r}"
    return outcomes["first"], outcomes["second"]


def test_an_invitation_while_the_company_is_deleted_finds_no_company(
    store: Store,
    clock: FrozenClock,
    mail: InvitationMail,
    outbox: Outbox,
    company_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The delete holds the company's row: the invitation waits for it, then finds no company
    (404, as for any unknown company) — no invitation of a deleted company, no mail."""
    deleted, invited = while_inside(
        monkeypatch,
        (SqlClients, "count_of_company"),  # the delete's check, its row locked
        lambda: delete_company(store, clock, dev(ANN), company_id),
        lambda: invite(store, clock, mail, dev(ANN), company_id, "bob@example.com"),
    )

    assert deleted is None
    assert isinstance(invited, NotFoundError), invited
    assert outbox.messages == []


@pytest.mark.parametrize("deleted_first", [True, False], ids=["delete-first", "accept-first"])
def test_a_link_accepted_while_the_company_is_deleted(
    store: Store,
    clock: FrozenClock,
    mail: InvitationMail,
    outbox: Outbox,
    company_id: str,
    monkeypatch: pytest.MonkeyPatch,
    deleted_first: bool,
) -> None:
    """Both take the company's row before the invitation's, so neither deadlocks: a link
    accepted after the delete is GONE; one accepted before it joins, and the delete then
    removes the member with the company."""
    invite(store, clock, mail, dev(ANN), company_id, "bob@example.com")
    token = outbox.token()

    def delete() -> None:
        delete_company(store, clock, dev(ANN), company_id)

    def accept() -> AcceptedInvitation:
        return accept_invitation(store, clock, KEY, dev(BOB), token)

    if deleted_first:
        deleted, accepted = while_inside(
            monkeypatch, (SqlClients, "count_of_company"), delete, accept
        )
        assert isinstance(accepted, ValidationError), accepted
        assert accepted.description == GONE
    else:
        accepted, deleted = while_inside(monkeypatch, (SqlInvitations, "accept"), accept, delete)
        assert isinstance(accepted, AcceptedInvitation), accepted
    assert deleted is None
    with store.reading() as uow:
        assert uow.companies.find(company_id) is None
        assert uow.companies.memberships_of(BOB) == []
