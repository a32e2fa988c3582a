"""Every SMS idplus composes (the login code, the password-reset code, the notices of a changed
password and of an added or removed passkey, the CIBA approval link), with the app's name and
the line that lets a phone fill in a code. A text that holds a code says how long the code is valid;
the caller passes the lifetime it enforces, so the text cannot drift from it.

The app is named as the operator registered it, cleaned for a text message: one line, no
control or invisible characters, at most APP_NAME_MAX characters. A code SMS from an https
issuer ends with an origin-bound line ("Origin-bound one-time codes delivered via SMS",
https://wicg.github.io/sms-one-time-codes/, read by WebOTP and by iOS and Android autofill):
the phone then offers the code on the issuer's own pages only, never on a look-alike site.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta
from urllib.parse import urlsplit

from idplus.models import Client

APP_NAME_MAX = 30
PASSKEY_NAME_MAX = 30
PASSKEY_NAME_FALLBACK = "Passkey"
# A scheme, "www." or a dot before a letter ("evil.com", "bit.ly/x"): it could be a link.
_LINK_LIKE = re.compile(r"://|www\.|\.[^\W\d_]", re.IGNORECASE)
# Characters that separate words: kept as one space, so "Telenor\nTV" stays two words.
_SPACES = frozenset({"Cc", "Zs", "Zl", "Zp"})
_DEFAULT_HTTPS_PORT = 443


def app_name_for_sms(client: Client) -> str:
    """The client's registered name fit for an SMS, or "" when it has none of its own: a name
    left at the client id means nothing to the person reading it."""
    if client.name == client.client_id:
        return ""
    text = unicodedata.normalize("NFC", client.name)
    # Format characters (bidi overrides, zero-width spaces) could make the text read otherwise.
    kept = "".join(" " if unicodedata.category(c) in _SPACES else c for c in text if _is_kept(c))
    return " ".join(kept.split())[:APP_NAME_MAX].rstrip()


def _is_kept(character: str) -> bool:
    return character.isprintable() or unicodedata.category(character) in _SPACES


def origin_bound_line(issuer: str, code: str) -> str | None:
    """`@host #code` for an https issuer (its port only when not 443); None for http, where a
    phone would not fill the code in anyway."""
    parts = urlsplit(issuer)
    if parts.scheme != "https" or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if parts.port is not None and parts.port != _DEFAULT_HTTPS_PORT:
        host = f"{host}:{parts.port}"
    return f"@{host} #{code}"


def with_origin_bound_line(text: str, issuer: str, code: str) -> str:
    """The text, and the origin-bound line last (the format wants it alone on the last line)."""
    line = origin_bound_line(issuer, code)
    return text if line is None else f"{text}\n\n{line}"


def ciba_approval_text(client: Client, binding_message: str | None, url: str) -> str:
    """The CIBA approval SMS (no locale is known: Norwegian, then English). The link has a
    space after it, so no phone reads the punctuation as part of it."""
    name = app_name_for_sms(client)
    binding = f" ({binding_message})" if binding_message else ""
    norwegian = f"{name} ber deg" if name else "En app ber deg"
    english = f"{name} asks you" if name else "An app asks you"
    return (
        f"{norwegian} godkjenne en innlogging{binding}: {url} "
        f"/ {english} to approve a login{binding}."
    )


def login_code_sms(
    code: str, locale: str, *, client: Client, issuer: str, valid_for: timedelta
) -> str:
    """The login code first, so a phone's notification shows it; then the app it is for."""
    name, minutes = app_name_for_sms(client), _minutes(valid_for)
    if locale == "nb":
        what = f"koden din for {name}" if name else "engangskoden din"
        text = f"{code} er {what}. Den gjelder i {minutes} minutter."
    else:
        what = f"your code for {name}" if name else "your one-time code"
        text = f"{code} is {what}. It is valid for {minutes} minutes."
    return with_origin_bound_line(text, issuer, code)


def reset_code_sms(
    code: str, locale: str, *, client: Client | None, issuer: str, valid_for: timedelta
) -> str:
    """The password-reset code; `client` is the app of the login the reset started from, if
    any. Whoever did not ask for a reset is told to ignore the message."""
    name, minutes = app_name_for_sms(client) if client else "", _minutes(valid_for)
    if locale == "nb":
        what = f"passordet ditt til {name}" if name else "passordet ditt"
        text = (
            f"{code} er koden for å tilbakestille {what}. Den gjelder i {minutes} minutter. "
            "Har du ikke bedt om den, kan du se bort fra meldingen."
        )
    else:
        what = f"your password for {name}" if name else "your password"
        text = (
            f"{code} is your code to reset {what}. It is valid for {minutes} minutes. "
            "If you did not ask for it, ignore this message."
        )
    return with_origin_bound_line(text, issuer, code)


def password_changed_text(locale: str) -> str:
    """Also sent by e-mail: whoever changed the password, its owner hears of it."""
    if locale == "nb":
        return (
            "Passordet ditt ble endret, og du ble logget ut overalt. Var det ikke deg, må du "
            "kontakte kundeservice med en gang."
        )
    return (
        "Your password was changed, and you were logged out everywhere. If it was not you, "
        "contact customer service at once."
    )


def passkey_name_for_sms(name: str) -> str:
    """The name a user gave a passkey, fit to quote in a notice: at most PASSKEY_NAME_MAX
    characters, and "Passkey" instead of anything that reads like a link or a domain (whoever
    adds a passkey chooses its name: it must not make the notice point anywhere)."""
    if _LINK_LIKE.search(name):
        return PASSKEY_NAME_FALLBACK
    return name[:PASSKEY_NAME_MAX].rstrip() or PASSKEY_NAME_FALLBACK


def passkey_added_text(locale: str, name: str) -> str:
    """Also sent by e-mail: a passkey is a way in, so its owner hears of every new one.
    `name` is the one the user gave it (plain text, one line, at most 64 characters)."""
    name = passkey_name_for_sms(name)
    if locale == "nb":
        return (
            f"En passnøkkel («{name}») ble lagt til på Telenor ID-en din. Var det ikke deg, må "
            "du fjerne den på kontosiden og kontakte kundeservice med en gang."
        )
    return (
        f'A passkey ("{name}") was added to your Telenor ID. If it was not you, remove it on '
        "your account page and contact customer service at once."
    )


def passkey_removed_text(locale: str, name: str) -> str:
    """Also sent by e-mail: a way in is gone, and a stranger who removed it must not go
    unnoticed."""
    name = passkey_name_for_sms(name)
    if locale == "nb":
        return (
            f"En passnøkkel («{name}») ble fjernet fra Telenor ID-en din. Var det ikke deg, må "
            "du kontakte kundeservice med en gang."
        )
    return (
        f'A passkey ("{name}") was removed from your Telenor ID. If it was not you, contact '
        "customer service at once."
    )


def _minutes(lifetime: timedelta) -> int:
    return int(lifetime.total_seconds()) // 60
