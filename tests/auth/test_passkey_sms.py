"""The notice of a new passkey, in both languages, names it and says what to do if it was
not the user."""

from __future__ import annotations

import pytest

from idplus.auth.sms_texts import passkey_added_text, passkey_removed_text


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        (
            "en",
            'A passkey ("YubiKey") was added to your Telenor ID. If it was not you, remove it on '
            "your account page and contact customer service at once.",
        ),
        (
            "nb",
            "En passnøkkel («YubiKey») ble lagt til på Telenor ID-en din. Var det ikke deg, må "
            "du fjerne den på kontosiden og kontakte kundeservice med en gang.",
        ),
    ],
)
def test_the_passkey_added_notice(locale: str, text: str) -> None:
    assert passkey_added_text(locale, "YubiKey") == text


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("YubiKey 5C NFC of the office in Fornebu", "YubiKey 5C NFC of the office i"),
        ("Call +47 22 77 00 00 now", "Call +47 22 77 00 00 now"),
        ("https://evil.example/x", "Passkey"),
        ("www.evil", "Passkey"),
        ("telenor-support.com", "Passkey"),
        ("Go to Evil.Example", "Passkey"),
        ("Version 1.2", "Version 1.2"),
    ],
)
def test_the_passkey_name_in_a_notice_is_short_and_no_link(name: str, quoted: str) -> None:
    assert f'("{quoted}")' in passkey_added_text("en", name)
    assert f"«{quoted}»" in passkey_removed_text("nb", name)
