"""The login code SMS: the code first, the app's registered name, and for an https issuer the
origin-bound last line phones read to fill the code in on the issuer's pages only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from idplus.auth.local import mask_email, send_otp
from idplus.auth.sender import Message
from idplus.models import Client
from idplus.policies import ClientType

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TV = Client(client_id="tv-4k", name="Telenor TV", client_type=ClientType.MOBILE_APP)


class Outbox:
    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        self.sent.append(message)


def _sms(
    client: Client = TV, issuer: str = "https://id.example.com", locale: str = "en"
) -> Message:
    outbox = Outbox()
    send_otp(outbox, "+4790000001", "123456", locale, NOW, client=client, issuer=issuer)
    (message,) = outbox.sent
    return message


def test_the_code_sms_names_the_app_and_ends_with_the_origin_bound_line() -> None:
    message = _sms()
    assert message.body == (
        "123456 is your code for Telenor TV. It is valid for 5 minutes.\n\n@id.example.com #123456"
    )
    assert message.code == "123456"
    assert (message.to, message.channel, message.at) == ("+4790000001", "sms", NOW)


def test_the_code_sms_in_norwegian() -> None:
    assert _sms(locale="nb").body == (
        "123456 er koden din for Telenor TV. Den gjelder i 5 minutter.\n\n@id.example.com #123456"
    )


def test_an_http_issuer_gets_no_origin_bound_line() -> None:
    body = _sms(issuer="http://localhost:8000").body
    assert body == "123456 is your code for Telenor TV. It is valid for 5 minutes."
    assert "@" not in body


@pytest.mark.parametrize(
    ("issuer", "line"),
    [
        ("https://id.example.com:8443", "@id.example.com:8443 #123456"),
        ("https://id.example.com:443", "@id.example.com #123456"),
        ("https://ID.Example.com/tenant", "@id.example.com #123456"),
    ],
)
def test_the_origin_bound_line_names_the_issuer_host(issuer: str, line: str) -> None:
    assert _sms(issuer=issuer).body.splitlines()[-1] == line


def test_an_app_without_a_name_of_its_own_is_not_named_by_its_client_id() -> None:
    unnamed = Client(client_id="tv-4k", name="tv-4k", client_type=ClientType.MOBILE_APP)
    body = _sms(unnamed, issuer="http://localhost:8000").body
    assert body == "123456 is your one-time code. It is valid for 5 minutes."
    assert _sms(unnamed, locale="nb", issuer="http://localhost:8000").body == (
        "123456 er engangskoden din. Den gjelder i 5 minutter."
    )


def test_a_long_or_hostile_name_is_cut_to_one_clean_line() -> None:
    hostile = "Telenor\nTV\r\n@evil.example #999999\u202e\u200b\x00 " + "x" * 80
    client = Client(client_id="tv-4k", name=hostile, client_type=ClientType.MOBILE_APP)
    body = _sms(client).body
    first, blank, last = body.splitlines()
    assert (
        first
        == "123456 is your code for Telenor TV @evil.example #9999. It is valid for 5 minutes."
    )
    assert (blank, last) == ("", "@id.example.com #123456")


def test_invisible_characters_are_dropped_and_a_name_of_only_them_is_no_name() -> None:
    spoofing = Client(client_id="tv", name="Tele\u202enor\u200b TV", client_type=ClientType.PUBLIC)
    assert _sms(spoofing).body.startswith("123456 is your code for Telenor TV. It")
    blank = Client(client_id="tv", name="\u200b\n\t ", client_type=ClientType.PUBLIC)
    assert _sms(blank).body.startswith("123456 is your one-time code.")


def test_masked_email_keeps_the_first_letter_and_the_domain() -> None:
    assert mask_email("kari.nordmann@example.no") == "k•••@example.no"
    assert mask_email("not-an-address") == "n•••"
