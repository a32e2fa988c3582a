"""Limits on what an attacker can try: passwords per username and per address, device-code
guesses per address, SMS codes per phone number.

Every attempt is reserved before the work it limits (an argon2 hash, a code lookup, an SMS),
atomically in the store, so parallel requests cannot exceed a limit. A key's window starts
with its first attempt and holds `limit` attempts; a full window refuses until it ends, so
the lock lifts by itself. Unknown usernames are counted exactly like known ones, so the
throttle reveals nothing. A refusal raises `Throttled` inside the caller's transaction, which
rolls back every reservation made in it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from idplus.config import Settings
from idplus.metrics import LockoutScope
from idplus.store.base import UnitOfWork


@dataclass(frozen=True, slots=True)
class ThrottleRule:
    prefix: str
    limit: int
    window: timedelta
    # A successful password login clears its username's count; an address only gets its
    # one attempt back, so many users behind one NAT do not lock each other out.
    clear_on_success: bool = False
    # Set for the password budgets: a window filled by a failed attempt is a lockout, counted.
    lockout_scope: LockoutScope | None = None


ThrottleKey = tuple[ThrottleRule, str]


class Throttled(Exception):
    def __init__(self, until: datetime) -> None:
        super().__init__("throttled")
        self.until = until

    def minutes_left(self, now: datetime) -> int:
        return max(1, int((self.until - now).total_seconds() + 59) // 60)


def username_rule(settings: Settings) -> ThrottleRule:
    window = timedelta(seconds=settings.login_lock_seconds)
    return ThrottleRule(
        "username:", settings.login_failures_per_username, window, True, LockoutScope.USERNAME
    )


def address_rule(settings: Settings) -> ThrottleRule:
    window = timedelta(seconds=settings.login_lock_seconds)
    return ThrottleRule(
        "ip:", settings.login_failures_per_address, window, lockout_scope=LockoutScope.ADDRESS
    )


# Nine digits are guessable by brute force only without a limit on wrong guesses.
DEVICE_CODE_RULE = ThrottleRule("device-ip:", 10, timedelta(minutes=15))


def login_sms_rule(settings: Settings) -> ThrottleRule:
    """Login codes per phone number: SMS pumping costs money, so it has its own budget."""
    return ThrottleRule("sms-login:", settings.login_sms_per_phone_per_hour, timedelta(hours=1))


def ciba_sms_keys(settings: Settings, client_id: str, phone: str) -> list[ThrottleKey]:
    """CIBA approval SMS: per phone number, so no one floods a number, and per client and
    number, so no one client uses up the number's budget for every other client."""
    hour = timedelta(hours=1)
    per_phone = ThrottleRule("sms-ciba:", settings.ciba_sms_per_phone_per_hour, hour)
    per_client = ThrottleRule(
        "sms-ciba-client:", settings.ciba_sms_per_client_and_phone_per_hour, hour
    )
    return [key_of(per_phone, phone), key_of(per_client, f"{client_id}:{phone}")]


def password_keys(settings: Settings, username: str, address: str | None) -> list[ThrottleKey]:
    """The username's budget, and the client address's when there is one."""
    keys = [key_of(username_rule(settings), username)]
    if address:
        keys.append(key_of(address_rule(settings), address_bucket(address)))
    return keys


def address_bucket(address: str) -> str:
    """The unit an address budget counts: an IPv4 address, or an IPv6 /64 (one subscriber
    holds a whole /64, so counting single addresses would give them 2**64 budgets)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        # Not an address (a proxy passed junk on): one shared bucket, and a bounded key.
        return "unparsable"
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def key_of(rule: ThrottleRule, value: str) -> ThrottleKey:
    return (rule, rule.prefix + value)


def reserve(uow: UnitOfWork, keys: Sequence[ThrottleKey], now: datetime) -> list[ThrottleRule]:
    """Spend one attempt on every key, or raise Throttled (the caller's transaction rolls back).

    The rules whose window this attempt filled: their key is locked from now on unless the
    attempt is given back (`succeeded`).
    """
    filled: list[ThrottleRule] = []
    for rule, key in keys:
        counted = uow.throttles.reserve_attempt(
            key, limit=rule.limit, window_start=now - rule.window, now=now
        )
        if counted is None:
            started = uow.throttles.window_started_at(key) or now
            raise Throttled(started + rule.window)
        if counted >= rule.limit:
            filled.append(rule)
    return filled


def succeeded(uow: UnitOfWork, keys: Sequence[ThrottleKey]) -> None:
    """The attempts were legitimate: clear or refund them."""
    for rule, key in keys:
        if rule.clear_on_success:
            uow.throttles.clear(key)
        else:
            uow.throttles.refund_attempt(key)
