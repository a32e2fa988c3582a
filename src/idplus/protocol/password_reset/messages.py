"""What a password reset sends: the SMS code, the e-mail link, and the notice that the password
was changed — through the application's sender (the outbox file by default), in the reset's
language. The SMS texts are in auth/sms_texts.py; the e-mail link is in the body alone; no
message is logged."""

from __future__ import annotations

from datetime import datetime

from idplus.auth import local
from idplus.auth.sender import Message, Sender
from idplus.auth.sms_texts import password_changed_text, reset_code_sms
from idplus.metrics import SmsPurpose
from idplus.models import Client, User
from idplus.protocol.password_reset.state import EMAIL_LINK_LIFETIME

_LINK = {
    "en": "Open this link in the browser where you asked to reset your password:\n{link}\n\n"
    "The link is valid for {minutes} minutes and can be used once. If you did not ask to reset "
    "your password, ignore this e-mail.",
    "nb": "Åpne denne lenken i nettleseren der du ba om å tilbakestille passordet:\n{link}\n\n"
    "Lenken gjelder i {minutes} minutter og kan bare brukes én gang. Har du ikke bedt om å "
    "tilbakestille passordet, kan du se bort fra denne e-posten.",
}


def send_reset_code(
    sender: Sender,
    phone: str,
    code: str,
    locale: str,
    now: datetime,
    issuer: str,
    *,
    client: Client | None = None,
) -> None:
    """Naming the app of the login the reset started from (`client`, None from nowhere), valid
    as long as the code is, and with the origin-bound line of an https issuer, so the phone
    offers the code on the issuer's own reset page only."""
    body = reset_code_sms(code, locale, client=client, issuer=issuer, valid_for=local.OTP_LIFETIME)
    sender.send(Message(phone, "sms", body, now, code=code, purpose=SmsPurpose.PASSWORD_RESET))


def send_reset_link(sender: Sender, email: str, link: str, locale: str, now: datetime) -> None:
    minutes = int(EMAIL_LINK_LIFETIME.total_seconds()) // 60
    body = _LINK.get(locale, _LINK["en"]).format(link=link, minutes=minutes)
    sender.send(Message(to=email, channel="email", body=body, at=now))


def send_password_changed(sender: Sender, user: User, locale: str, now: datetime) -> None:
    """By SMS, and by e-mail when the account has an address: whoever changed it, the owner
    hears of it on both."""
    body = password_changed_text(locale)
    if user.phone_number:
        changed = SmsPurpose.PASSWORD_CHANGED
        sender.send(Message(user.phone_number, "sms", body, now, purpose=changed))
    if user.email:
        sender.send(Message(to=user.email, channel="email", body=body, at=now))
