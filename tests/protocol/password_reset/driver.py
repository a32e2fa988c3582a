"""Drives a password reset as its pages do, against the protocol core (both backends)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from idplus.manage.users import UserRegistration, add_user
from idplus.protocol.context import AppContext
from idplus.protocol.password_reset.start import start_reset
from idplus.protocol.password_reset.state import ResetView, load_reset

PHONE = "+4790000001"
EMAIL = "kari@example.com"
PASSWORD = "correct horse 42"
NEW_PASSWORD = "a brand new secret"
BROWSER = "browser-1"


def add_reset_user(ctx: AppContext, *, otp_required: bool = False) -> None:
    registration = UserRegistration(PHONE, PASSWORD, email=EMAIL, otp_required=otp_required)
    add_user(ctx.store, ctx.clock, registration)


def messages(ctx: AppContext) -> list[dict[str, str]]:
    path = ctx.settings.outbox
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def last_code(ctx: AppContext) -> str:
    return [m for m in messages(ctx) if "code" in m][-1]["code"]


def last_link_token(ctx: AppContext) -> str:
    body = [m for m in messages(ctx) if m["channel"] == "email"][-1]["body"]
    return body.split("token=", 1)[1].split()[0]


@dataclass
class ResetBrowser:
    ctx: AppContext
    id: str = BROWSER

    def start(self, username: str = PHONE) -> str:
        started = start_reset(
            self.ctx, username=username, browser_id=self.id, address="10.0.0.1", locale="en"
        )
        return started.handle

    def view(self, handle: str) -> ResetView:
        return load_reset(self.ctx, handle, self.id)
