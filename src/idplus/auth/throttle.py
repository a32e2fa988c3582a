"""Limits on what an attacker can try: passwords per username and per address, device-code
guesses per address, SMS codes per phone number.

Every attempt is reserved before the work it limits (an argon2 hash, a code lookup, an SMS),
atomically in the store, so parallel requests cannot exceed a limit. The limit-th attempt in a
window locks the key for a while; the lock lifts by itself. Unknown usernames are counted
exactly like known ones, so the throttle reveals nothing. A refusal raises `Throttled` inside
the caller's transaction, which rolls back every reservation made in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from idplus.config import Settings
from idplus.store.base import UnitOfWork


@dataclass(frozen=True, slots=True)
class ThrottleRule:
    prefix: str
    limit: int
    window: timedelta
    lock: timedelta
    # A successful password login clears its username's count; an address only gets its
    # one attempt back, so many users behind one NAT do not lock each other out.
    clear_on_success: bool = False


ThrottleKey = tuple[ThrottleRule, str]


class Throttled(Exception):
    def __init__(self, until: datetime) -> None:
        super().__init__("throttled")
        self.until = until

    def minutes_left(self, now: datetime) -> int:
        return max(1, int((self.until - now).total_seconds() + 59) // 60)


def username_rule(settings: Settings) -> ThrottleRule:
    lock = timedelta(seconds=settings.login_lock_seconds)
    return ThrottleRule("username:", settings.login_failures_per_username, lock, lock, True)


def address_rule(settings: Settings) -> ThrottleRule:
    lock = timedelta(seconds=settings.login_lock_seconds)
    return ThrottleRule("ip:", settings.login_failures_per_address, lock, lock)


# Nine digits are guessable by brute force only without a limit on wrong guesses.
DEVICE_CODE_RULE = ThrottleRule("device-ip:", 10, timedelta(minutes=15), timedelta(minutes=15))


def login_sms_rule(settings: Settings) -> ThrottleRule:
    """Login codes per phone number: SMS pumping costs money, so it has its own budget."""
    hour = timedelta(hours=1)
    return ThrottleRule("sms-login:", settings.login_sms_per_phone_per_hour, hour, hour)


def password_keys(settings: Settings, username: str, address: str | None) -> list[ThrottleKey]:
    keys = [(username_rule(settings), "username:" + username)]
    if address:
        keys.append((address_rule(settings), "ip:" + address))
    return keys


def key_of(rule: ThrottleRule, value: str) -> ThrottleKey:
    return (rule, rule.prefix + value)


def reserve(uow: UnitOfWork, keys: Sequence[ThrottleKey], now: datetime) -> None:
    """Spend one attempt on every key, or raise Throttled (the caller's transaction rolls back)."""
    for rule, key in keys:
        allowed = uow.throttles.reserve_attempt(
            key,
            limit=rule.limit,
            window_start=now - rule.window,
            lock_until=now + rule.lock,
            now=now,
        )
        if not allowed:
            raise Throttled(uow.throttles.locked_until(key) or now + rule.lock)


def succeeded(uow: UnitOfWork, keys: Sequence[ThrottleKey]) -> None:
    """The attempts were legitimate: clear or refund them."""
    for rule, key in keys:
        if rule.clear_on_success:
            uow.throttles.clear(key)
        else:
            uow.throttles.refund_attempt(key)
