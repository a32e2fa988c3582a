"""What a password reset sends: the SMS code, the e-mail link, and the notice that the password
was changed — through the application's sender (the outbox file by default), in the reset's
language. The e-mail link is in the body alone; no message is logged."""

from __future__ import annotations

from datetime import datetime

from idplus.auth.sender import Message, Sender
from idplus.auth.sms_texts import with_origin_bound_line
from idplus.models import User

_CODE = {
    "en": "{code} is your code to reset your password. It is valid for 5 minutes. If you did "
    "not ask for it, ignore this message.",
    "nb": "{code} er koden for å tilbakestille passordet ditt. Den gjelder i 5 minutter. Har du "
    "ikke bedt om den, kan du se bort fra meldingen.",
}
_LINK = {
    "en": "Open this link in the browser where you asked to reset your password:\n{link}\n\n"
    "The link is valid for 30 minutes and works once. If you did not ask to reset your "
    "password, ignore this e-mail.",
    "nb": "Åpne denne lenken i nettleseren der du ba om å tilbakestille passordet:\n{link}\n\n"
    "Lenken gjelder i 30 minutter og virker én gang. Har du ikke bedt om å tilbakestille "
    "passordet, kan du se bort fra denne e-posten.",
}
_CHANGED = {
    "en": "Your password was changed, and you were logged out everywhere. If it was not you, "
    "contact customer service at once.",
    "nb": "Passordet ditt ble endret, og du ble logget ut overalt. Var det ikke deg, kontakt "
    "kundeservice med en gang.",
}


def _text(texts: dict[str, str], locale: str) -> str:
    return texts.get(locale, texts["en"])


def send_reset_code(
    sender: Sender, phone: str, code: str, locale: str, now: datetime, issuer: str
) -> None:
    """With the origin-bound line of an https issuer, so the phone offers the code on the
    issuer's own reset page only."""
    body = with_origin_bound_line(_text(_CODE, locale).format(code=code), issuer, code)
    sender.send(Message(to=phone, channel="sms", body=body, at=now, code=code))


def send_reset_link(sender: Sender, email: str, link: str, locale: str, now: datetime) -> None:
    body = _text(_LINK, locale).format(link=link)
    sender.send(Message(to=email, channel="email", body=body, at=now))


def send_password_changed(sender: Sender, user: User, locale: str, now: datetime) -> None:
    """By SMS, and by e-mail when the account has an address: whoever changed it, the owner
    hears of it on both."""
    body = _text(_CHANGED, locale)
    if user.phone_number:
        sender.send(Message(to=user.phone_number, channel="sms", body=body, at=now))
    if user.email:
        sender.send(Message(to=user.email, channel="email", body=body, at=now))
