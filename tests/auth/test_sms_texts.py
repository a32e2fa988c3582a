"""Every SMS idplus composes, in both languages: the login code, the password-reset code, the
notice of a changed password, the CIBA approval link; and the origin-bound line
(https://wicg.github.io/sms-one-time-codes/)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from idplus.auth.sms_texts import (
    ciba_approval_text,
    login_code_sms,
    origin_bound_line,
    password_changed_text,
    reset_code_sms,
)
from idplus.models import Client
from idplus.policies import ClientType

URL = "https://id.example.com/ciba/approve?token=abc&ui_locales=no"
HTTPS = "https://id.example.com"
HTTP = "http://localhost:8000"


def _client(name: str, client_id: str = "shop") -> Client:
    return Client(client_id=client_id, name=name, client_type=ClientType.CONFIDENTIAL)


def test_the_approval_sms_names_the_app_in_both_languages_with_the_link_standing_alone() -> None:
    text = ciba_approval_text(_client("Telenor Shop"), "Ordre 42", URL)
    assert text == (
        f"Telenor Shop ber deg godkjenne en innlogging (Ordre 42): {URL} "
        "/ Telenor Shop asks you to approve a login (Ordre 42)."
    )
    assert re.search(r"https?://\S+", text).group(0) == URL  # type: ignore[union-attr]


def test_the_approval_sms_of_an_unnamed_app_never_shows_its_client_id() -> None:
    text = ciba_approval_text(_client("shop"), None, URL)
    assert (
        text
        == f"En app ber deg godkjenne en innlogging: {URL} / An app asks you to approve a login."
    )


def test_the_approval_sms_cleans_and_cuts_a_hostile_name() -> None:
    text = ciba_approval_text(_client("Evil\nhttps://evil.example/\u202e" + "x" * 40), None, URL)
    assert "\n" not in text and "\u202e" not in text
    assert text.startswith("Evil https://evil.example/xxxx ber deg")  # 30 characters


def test_the_origin_bound_line_is_only_for_https_issuers() -> None:
    assert origin_bound_line("https://id.example.com", "123456") == "@id.example.com #123456"
    assert origin_bound_line("https://[2001:db8::1]:8443", "1") == "@[2001:db8::1]:8443 #1"
    assert origin_bound_line("http://id.example.com", "123456") is None
    assert origin_bound_line("http://127.0.0.1:8000", "123456") is None


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en", "123456 is your code for Telenor TV. It is valid for 5 minutes."),
        ("nb", "123456 er koden din for Telenor TV. Den gjelder i 5 minutter."),
    ],
)
def test_the_login_code_sms_names_the_app_and_how_long_the_code_holds(
    locale: str, text: str
) -> None:
    tv = _client("Telenor TV")
    sms = login_code_sms("123456", locale, client=tv, issuer=HTTPS, valid_for=timedelta(minutes=5))
    assert sms == f"{text}\n\n@id.example.com #123456"


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en", "123456 is your one-time code. It is valid for 10 minutes."),
        ("nb", "123456 er engangskoden din. Den gjelder i 10 minutter."),
    ],
)
def test_the_login_code_sms_of_an_unnamed_app_over_http(locale: str, text: str) -> None:
    sms = login_code_sms(
        "123456", locale, client=_client("shop"), issuer=HTTP, valid_for=timedelta(minutes=10)
    )
    assert sms == text


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        (
            "en",
            "123456 is your code to reset your password for Telenor TV. It is valid for 5 "
            "minutes. If you did not ask for it, ignore this message.",
        ),
        (
            "nb",
            "123456 er koden for å tilbakestille passordet ditt til Telenor TV. Den gjelder i 5 "
            "minutter. Har du ikke bedt om den, kan du se bort fra meldingen.",
        ),
    ],
)
def test_the_reset_code_sms_names_the_app_of_the_login_it_started_from(
    locale: str, text: str
) -> None:
    tv = _client("Telenor TV")
    sms = reset_code_sms("123456", locale, client=tv, issuer=HTTPS, valid_for=timedelta(minutes=5))
    assert sms == f"{text}\n\n@id.example.com #123456"


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        (
            "en",
            "123456 is your code to reset your password. It is valid for 5 minutes. If you did "
            "not ask for it, ignore this message.",
        ),
        (
            "nb",
            "123456 er koden for å tilbakestille passordet ditt. Den gjelder i 5 minutter. Har du "
            "ikke bedt om den, kan du se bort fra meldingen.",
        ),
    ],
)
def test_the_reset_code_sms_from_nowhere_or_an_unnamed_app_names_none(
    locale: str, text: str
) -> None:
    five = timedelta(minutes=5)
    assert reset_code_sms("123456", locale, client=None, issuer=HTTP, valid_for=five) == text
    unnamed = reset_code_sms("123456", locale, client=_client("shop"), issuer=HTTP, valid_for=five)
    assert unnamed == text


def test_the_reset_code_sms_cleans_a_hostile_app_name() -> None:
    hostile = _client("Evil\n@evil.example #999999\u202e" + "x" * 40)
    sms = reset_code_sms(
        "123456", "en", client=hostile, issuer=HTTPS, valid_for=timedelta(minutes=5)
    )
    first, blank, last = sms.splitlines()
    assert first.startswith("123456 is your code to reset your password for Evil @evil.example")
    assert "\u202e" not in first
    assert (blank, last) == ("", "@id.example.com #123456")


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        (
            "en",
            "Your password was changed, and you were logged out everywhere. If it was not you, "
            "contact customer service at once.",
        ),
        (
            "nb",
            "Passordet ditt ble endret, og du ble logget ut overalt. Var det ikke deg, må du "
            "kontakte kundeservice med en gang.",
        ),
    ],
)
def test_the_password_changed_notice(locale: str, text: str) -> None:
    assert password_changed_text(locale) == text
