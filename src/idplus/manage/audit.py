"""Reading the audit trail: which events, about whom, since when.

Events hold identifiers (client id, user id, key id), never a secret, password or code, so what
is read here can be printed as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from idplus.clock import Clock
from idplus.errors import ValidationError
from idplus.identifiers import normalise_username
from idplus.models import AuditEvent, AuditSubject
from idplus.store.base import Store, UnitOfWork

DURATION_PATTERN = re.compile(r"(\d{1,9})([smhdw])")
DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_LIMIT = 10_000
# The kinds of things audit events are about ("company:ID"), and of who makes changes.
SUBJECT_KIND = re.compile(r"[a-z_]{1,32}")
SUBJECT = re.compile(r"[a-z_]{1,32}:.+", re.DOTALL)
ACTOR_KINDS = ("client", "user")


@dataclass(frozen=True, slots=True)
class AuditQuery:
    # A client id, a user id or a username (a removed user's events: by user id only).
    actor: str | None = None
    # ISO-8601, or a duration back from now such as 24h (or a time already parsed).
    since: str | datetime | None = None
    # Event names, or prefixes ending in `*`.
    events: Sequence[str] = ()
    limit: int = 100
    # Only events recorded before this one (`AuditEvent.id`): the page after it.
    before_id: int | None = None
    # Only changes made by: "client:ID", "user:ID", or a username (its user).
    changed_by: str | None = None
    # Only events about: "client:ID", "user:ID", "company:ID", "api_product:SCOPE" … or a
    # username (its user).
    about: str | None = None


def list_events(store: Store, clock: Clock, query: AuditQuery) -> list[AuditEvent]:
    """The matching events, newest first."""
    if not 1 <= query.limit <= MAX_LIMIT:
        raise ValidationError(f"the limit must be 1-{MAX_LIMIT}")
    since = query.since
    if isinstance(since, str):
        since = parse_since(since, clock.now())
    with store.reading() as uow:
        actors = _actor_ids(uow, query.actor) if query.actor is not None else ()
        changed_by = _named(uow, query.changed_by) if query.changed_by is not None else None
        about = _subject(uow, query.about) if query.about is not None else None
        return uow.audit.list_events(
            query.limit,
            actors=actors,
            since=since,
            events=tuple(query.events),
            before_id=query.before_id,
            changed_by=None if changed_by is None else f"{changed_by.kind}:{changed_by.id}",
            about=about,
        )


def parse_since(value: str, now: datetime) -> datetime:
    """`24h`, `30m`, `7d`, … back from `now`, or an ISO-8601 date or time (UTC unless it says)."""
    text = value.strip()
    duration = DURATION_PATTERN.fullmatch(text)
    try:
        if duration:
            amount, unit = duration.groups()
            return now - timedelta(**{DURATION_UNITS[unit]: int(amount)})
        parsed = datetime.fromisoformat(text)
        # In UTC here, inside the check: 0001-01-01T00:00+14:00 has no UTC time.
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValidationError(
            f"--since {value!r} is neither an ISO-8601 time (2025-03-01, 2025-03-01T08:00+01:00)"
            " nor a duration back from now (90s, 30m, 24h, 7d, 2w)"
        ) from None


def _actor_ids(uow: UnitOfWork, actor: str) -> tuple[str, ...]:
    """The actor as given (a client id or a user id), plus the id of the user it names."""
    ids = [actor]
    user_id = _user_named(uow, actor)
    if user_id is not None:
        ids.append(user_id)
    return tuple(dict.fromkeys(ids))


def _subject(uow: UnitOfWork, text: str) -> AuditSubject:
    """`kind:id`, or a username standing for its user."""
    kind, colon, ident = text.partition(":")
    if colon and SUBJECT_KIND.fullmatch(kind) and ident:
        return AuditSubject(kind, ident)
    named = _user_named(uow, text)
    if named is None:
        raise ValidationError(
            f"{text!r} is neither kind:id (client:ID, user:ID, company:ID …) nor a username"
        )
    return AuditSubject("user", named)


def _named(uow: UnitOfWork, text: str) -> AuditSubject:
    """Who made changes: `client:ID`, `user:ID`, or a username standing for its user."""
    subject = _subject(uow, text)
    if subject.kind not in ACTOR_KINDS:
        raise ValidationError(f"{text!r}: changes are made by a client:ID or a user:ID")
    return subject


def _user_named(uow: UnitOfWork, username: str) -> str | None:
    try:
        user = uow.users.find_by_username(normalise_username(username))
    except ValidationError:
        return None
    return None if user is None else user.id


def describe_event(event: AuditEvent) -> dict[str, Any]:
    return {
        "at": event.at.isoformat(),
        "event": event.event,
        "client_id": event.client_id,
        "user_id": event.user_id,
        "target": event.target,
        "detail": dict(event.detail),
    }
