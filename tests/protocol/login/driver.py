"""Drives the login state machine as the pages do: one `advance` per form post.

A client `web` (Public, redirect https://rp.example/cb) and the users a test adds; an
authorization request starts a login, each `act` is one button press with its fields.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from idplus.manage.clients import ClientRegistration, add_client
from idplus.manage.users import UserRegistration, add_user
from idplus.models import SsoSession
from idplus.protocol.context import AppContext
from idplus.protocol.interaction import InteractionStarted, start_authorization
from idplus.protocol.login.machine import advance, show
from idplus.protocol.login.results import LoginFinished, Page, Problem, ShowPage, StepResult
from idplus.protocol.login.state import Inputs
from idplus.protocol.params import parse_params

PASSWORD = "correct horse 42"
PHONE = "+4790000001"
CALLBACK = "https://rp.example/cb"
BROWSER = "browser-1"
ADDRESS = "10.0.0.1"
VERIFIER = "a-pkce-verifier-that-is-long-enough-to-be-valid-0123456789"
T = TypeVar("T")


def add_web_client(
    ctx: AppContext, *, silent_sso: bool = False, providers: Sequence[str] = ()
) -> None:
    registration = ClientRegistration(
        "web", "Public", redirect_uris=[CALLBACK], silent_sso=silent_sso, providers=providers
    )
    add_client(ctx.store, ctx.clock, registration)


def add_login_user(ctx: AppContext, username: str = PHONE, *, otp_required: bool = False) -> None:
    add_user(ctx.store, ctx.clock, UserRegistration(username, PASSWORD, otp_required=otp_required))


@dataclass
class Browser:
    """One browser: its id, and the SSO cookie handles it holds per group."""

    ctx: AppContext
    id: str = BROWSER
    cookies: dict[str, str] = field(default_factory=dict)

    def authorize(self, client_id: str = "web", **params: str) -> str:
        """Start a login for an authorization request; the interaction handle."""
        challenge = hashlib.sha256(VERIFIER.encode()).digest()
        query = {
            "client_id": client_id,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": "openid",
            "state": "st-1",
            "code_challenge": base64.urlsafe_b64encode(challenge).rstrip(b"=").decode(),
            "code_challenge_method": "S256",
            **params,
        }
        outcome = start_authorization(
            self.ctx, parse_params(query.items()), self.id, self.cookies.get
        )
        assert isinstance(outcome, InteractionStarted), outcome
        return outcome.handle

    def act(self, handle: str, action: str = "", **fields: str) -> StepResult:
        result = advance(self.ctx, handle, self.id, action, Inputs(fields, ADDRESS))
        if isinstance(result, LoginFinished) and result.session_handle is not None:
            self.cookies[result.group] = result.session_handle
        return result

    def page(self, handle: str) -> Page:
        shown = show(self.ctx, handle, self.id)
        assert isinstance(shown, ShowPage), shown
        return shown.page

    def log_in(self, handle: str, username: str = PHONE, **fields: str) -> StepResult:
        return self.act(handle, "login", username=username, password=PASSWORD, **fields)


def finished(result: StepResult) -> LoginFinished:
    assert isinstance(result, LoginFinished), result
    return result


def problem(result: StepResult) -> str:
    assert isinstance(result, Problem), result
    return result.reason.value


def stage(result: StepResult) -> str:
    assert isinstance(result, ShowPage), result
    return result.page.stage.value


def session_of(ctx: AppContext, result: StepResult) -> SsoSession:
    with ctx.store.reading() as uow:
        session = uow.sessions.find(finished(result).session.id)
    assert session is not None
    return session


def sent_codes(ctx: AppContext) -> list[str]:
    path = ctx.settings.outbox
    if not path.exists():
        return []
    return [json.loads(line)["code"] for line in path.read_text().splitlines()]


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def in_parallel(count: int, attempt: Callable[[], T]) -> list[T]:
    """Run `attempt` in `count` threads released at once; their answers."""
    start = threading.Barrier(count)
    answers: list[T] = []

    def run() -> None:
        start.wait()
        answers.append(attempt())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers
