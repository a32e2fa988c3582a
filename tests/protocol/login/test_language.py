"""A language picked mid-login: the page it returns to loses the parameter that fixed its old
language, and keeps every other byte of its address."""

from __future__ import annotations

import pytest

from idplus.protocol.login.language import without_locale_parameters


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/account?locale=en", "/account"),
        ("/device?user_code=123-456-789&ui_locales=no", "/device?user_code=123-456-789"),
        ("/ciba/approve?ui_locales=no&token=a%2Bb", "/ciba/approve?token=a%2Bb"),
        ("/x?ui%5Flocales=no&a=1&&locale", "/x?a=1"),
        ("/x?a=%20+b&c", "/x?a=%20+b&c"),
        ("/login", "/login"),
        ("/", "/"),
    ],
)
def test_locale_parameters_are_dropped_and_the_rest_kept(path: str, expected: str) -> None:
    assert without_locale_parameters(path) == expected
