"""Secret rotation with an overlap: the older secret keeps working for a while (a day unless
told otherwise, never more than 30), then stops; an operator may end it sooner; the current
secret is never revoked, so a client always keeps one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from idplus.clock import FrozenClock
from idplus.crypto.hashing import verify_client_secret
from idplus.errors import NotFoundError, ValidationError
from idplus.manage.clients import (
    ClientRegistration,
    add_client,
    current_secret,
    describe_client,
    get_client,
    revoke_client_secret,
    rotate_client_secret,
)
from idplus.models import Client
from idplus.policies import DEFAULT_SECRET_OVERLAP
from idplus.store.base import Store


def _working(client: Client, secret: str | None, clock: FrozenClock) -> bool:
    return any(
        verify_client_secret(s.secret_hash, secret or "") and s.works_at(clock.now())
        for s in client.secrets
    )


@pytest.fixture
def first(store: Store, clock: FrozenClock) -> str:
    registration = ClientRegistration(client_id="bff", client_type="Confidential")
    secret = add_client(store, clock, registration).client_secret
    assert secret is not None
    clock.advance(timedelta(days=3))
    return secret


def test_the_older_secret_works_a_day_more_by_default(
    store: Store, clock: FrozenClock, first: str
) -> None:
    rotated = rotate_client_secret(store, clock, "bff")
    older, newer = rotated.client.secrets

    assert (
        older.expires_at
        == clock.now() + DEFAULT_SECRET_OVERLAP
        == clock.now() + timedelta(hours=24)
    )
    assert newer.expires_at is None and current_secret(rotated.client) == newer
    assert _working(rotated.client, first, clock)
    assert _working(rotated.client, rotated.client_secret, clock)
    clock.advance(timedelta(hours=24))
    assert not _working(rotated.client, first, clock)
    assert _working(rotated.client, rotated.client_secret, clock)


def test_an_overlap_of_zero_ends_the_older_secret_now(
    store: Store, clock: FrozenClock, first: str
) -> None:
    rotated = rotate_client_secret(store, clock, "bff", overlap=timedelta(0))
    assert len(rotated.client.secrets) == 1
    assert not _working(rotated.client, first, clock)
    assert _working(rotated.client, rotated.client_secret, clock)


def test_a_second_rotation_keeps_the_two_newest_secrets(
    store: Store, clock: FrozenClock, first: str
) -> None:
    second = rotate_client_secret(store, clock, "bff", overlap=timedelta(hours=2))
    clock.advance(timedelta(hours=1))
    third = rotate_client_secret(store, clock, "bff", overlap=timedelta(days=7))

    stored = get_client(store, "bff")
    assert len(stored.secrets) == 2
    assert not _working(stored, first, clock)
    assert _working(stored, second.client_secret, clock)
    assert _working(stored, third.client_secret, clock)
    assert stored.secrets[0].expires_at == clock.now() + timedelta(days=7)


@pytest.mark.parametrize("overlap", [timedelta(seconds=-1), timedelta(days=30, seconds=1)])
def test_the_overlap_is_zero_to_thirty_days(
    store: Store, clock: FrozenClock, first: str, overlap: timedelta
) -> None:
    with pytest.raises(ValidationError, match="overlap"):
        rotate_client_secret(store, clock, "bff", overlap=overlap)
    assert len(get_client(store, "bff").secrets) == 1


def test_an_older_secret_is_revoked_at_once_but_never_the_current(
    store: Store, clock: FrozenClock, first: str
) -> None:
    rotated = rotate_client_secret(store, clock, "bff")
    older, newer = rotated.client.secrets

    with pytest.raises(ValidationError, match="current one"):
        revoke_client_secret(store, clock, "bff", newer.id)
    with pytest.raises(NotFoundError):
        revoke_client_secret(store, clock, "bff", "no-such-secret")
    with pytest.raises(NotFoundError):
        revoke_client_secret(store, clock, "nobody", older.id)
    after = revoke_client_secret(store, clock, "bff", older.id, actor="client:ops")

    assert after.secrets == (newer,)
    assert not _working(after, first, clock)
    with store.reading() as uow:
        [event] = uow.audit.list_events(10, events=("client.secret_revoked",))
    assert event.detail == {"secret_id": older.id, "actor": "client:ops"}


def test_the_rotation_is_audited_with_its_overlap_and_no_secret(
    store: Store, clock: FrozenClock, first: str
) -> None:
    rotated = rotate_client_secret(store, clock, "bff", overlap=timedelta(hours=1))
    with store.reading() as uow:
        [event] = uow.audit.list_events(10, events=("client.secret_rotated",))
    assert event.detail["overlap_seconds"] == 3600
    assert event.detail["retired_secret_ids"] == []
    text = str(event.detail)
    assert first not in text and (rotated.client_secret or "-") not in text
    assert all(s.secret_hash not in text for s in rotated.client.secrets)


def test_an_operator_sees_when_each_secret_ends(
    store: Store, clock: FrozenClock, first: str
) -> None:
    rotated = rotate_client_secret(store, clock, "bff")
    described = describe_client(rotated.client)["secrets"]
    assert [s["expires_at"] for s in described] == [
        (clock.now() + timedelta(hours=24)).isoformat(),
        None,
    ]
