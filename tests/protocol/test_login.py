"""The login's limits against guessing and SMS pumping, on both backends.

Each test is named after the attack it stops; the parallel ones reproduce the races a hostile
review found on PostgreSQL (16–18 tries on one code instead of 5; 37 password checks of 60).
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from idplus.clock import FrozenClock
from idplus.crypto.hashing import HashingBusy, PasswordHashSlots
from idplus.manage.clients import ClientRegistration, add_client
from idplus.manage.users import UserRegistration, add_user
from idplus.protocol import login
from idplus.protocol.context import AppContext
from idplus.protocol.interaction import start_internal_login

PASSWORD = "correct horse 42"
PHONE = "+4790000001"


@pytest.fixture
def ctx(context: AppContext) -> AppContext:
    add_client(context.store, context.clock, ClientRegistration("web", "Public"))
    add_user(context.store, context.clock, UserRegistration(PHONE, PASSWORD, otp_required=True))
    return context


def _clock(ctx: AppContext) -> FrozenClock:
    assert isinstance(ctx.clock, FrozenClock)
    return ctx.clock


def _start(ctx: AppContext, browser: str = "browser-1") -> str:
    client = ctx.clients.find("web")
    assert client is not None
    return start_internal_login(
        ctx, client, return_to="/account", browser_id=browser, locale="en", session=None
    )


def _password(ctx: AppContext, handle: str, password: str = PASSWORD) -> login.StepResult:
    return login.submit_password(
        ctx,
        handle,
        "browser-1",
        username=PHONE,
        password=password,
        remember_me=False,
        address="10.0.0.1",
    )


def _sent_codes(ctx: AppContext) -> list[str]:
    path = ctx.settings.outbox
    if not path.exists():
        return []
    return [json.loads(line)["code"] for line in path.read_text().splitlines()]


def _problem(step: Callable[[], object]) -> str | None:
    try:
        step()
    except login.LoginProblem as problem:
        return problem.reason
    return None


def _guess(ctx: AppContext, handle: str, code: str) -> str | None:
    return _problem(lambda: login.submit_otp(ctx, handle, "browser-1", code))


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_resending_does_not_reset_the_wrong_code_count(ctx: AppContext) -> None:
    """Main reset the count on every resend: 30 resends gave 150 guesses."""
    handle = _start(ctx)
    _password(ctx, handle)
    for _ in range(3):
        assert _guess(ctx, handle, _wrong(_sent_codes(ctx)[-1])) == "otp_invalid"
        _clock(ctx).advance(timedelta(seconds=31))
        login.resend_otp(ctx, handle, "browser-1")
    code = _sent_codes(ctx)[-1]
    assert _guess(ctx, handle, _wrong(code)) == "otp_invalid"
    assert _guess(ctx, handle, _wrong(code)) == "otp_invalid"
    # Five wrong guesses in all: even the right code is refused now.
    assert _guess(ctx, handle, code) == "otp_too_many"


def test_a_login_sends_at_most_four_codes_thirty_seconds_apart(ctx: AppContext) -> None:
    handle = _start(ctx)
    _password(ctx, handle)
    assert _problem(lambda: login.resend_otp(ctx, handle, "browser-1")) == "otp_resend_wait"
    for _ in range(3):
        _clock(ctx).advance(timedelta(seconds=30))
        assert _problem(lambda: login.resend_otp(ctx, handle, "browser-1")) is None
    _clock(ctx).advance(timedelta(seconds=30))
    assert _problem(lambda: login.resend_otp(ctx, handle, "browser-1")) == "otp_resend_limit"
    assert len(_sent_codes(ctx)) == 4


def test_sms_pumping_to_one_number_stops_after_ten_codes_an_hour(ctx: AppContext) -> None:
    """Toll fraud: new logins for the same phone number each sent a fresh SMS on main."""
    for _ in range(10):
        assert isinstance(_password(ctx, _start(ctx)), login.InteractionView)
    assert _problem(lambda: _password(ctx, _start(ctx))) == "sms_limit"
    assert len(_sent_codes(ctx)) == 10
    _clock(ctx).advance(timedelta(hours=1))
    assert isinstance(_password(ctx, _start(ctx)), login.InteractionView)


def test_parallel_code_guesses_get_five_tries_in_all(ctx: AppContext) -> None:
    handle = _start(ctx)
    _password(ctx, handle)
    wrong = _wrong(_sent_codes(ctx)[-1])
    answers = _in_parallel(20, lambda: _guess(ctx, handle, wrong))
    assert answers.count("otp_invalid") == 5
    assert answers.count("otp_too_many") == 15


def test_parallel_wrong_passwords_are_hashed_at_most_five_times(ctx: AppContext) -> None:
    """On main, 40 parallel wrong passwords for one user were checked 20 (SQLite) and
    60 were checked 37 (PostgreSQL) times against a limit of 5."""
    roomy = replace(ctx, hash_slots=PasswordHashSlots(64))
    handle = _start(roomy)
    answers = _in_parallel(40, lambda: _problem(lambda: _password(roomy, handle, "wrong")))
    assert answers.count("invalid_credentials") == 5
    assert answers.count("locked") == 35


def test_logins_beyond_the_hashing_slots_are_shed_before_they_cost(ctx: AppContext) -> None:
    """80 concurrent made-up logins took a worker to 2.4 GiB on main; now each over the bound
    is refused at once, spending neither a hash nor an attempt."""
    one_slot = replace(ctx, hash_slots=PasswordHashSlots(1))
    handle = _start(one_slot)
    with one_slot.hash_slots.slot(), pytest.raises(HashingBusy):
        _password(one_slot, handle, "wrong")
    for _ in range(4):
        assert _problem(lambda: _password(one_slot, handle, "wrong")) == "invalid_credentials"
    assert isinstance(_password(one_slot, handle), login.InteractionView)


def _in_parallel(count: int, attempt: Callable[[], str | None]) -> list[str | None]:
    start = threading.Barrier(count)
    answers: list[str | None] = []

    def run() -> None:
        start.wait()
        answers.append(attempt())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_the_code_is_compared_in_constant_time(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`==` on the code's hash leaks, through timing, how much of a guess matched."""
    compared: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(login.hmac, "compare_digest", spy)
    handle = _start(ctx)
    _password(ctx, handle)
    assert isinstance(
        login.submit_otp(ctx, handle, "browser-1", _sent_codes(ctx)[-1]), login.LoginFinished
    )
    assert len(compared) == 1
