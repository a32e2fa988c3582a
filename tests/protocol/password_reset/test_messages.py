"""What a reset sends: the code SMS (origin-bound for an https issuer), the e-mail link, and
the notice of a changed password, in the reset's language."""

from __future__ import annotations

from datetime import UTC, datetime

from idplus.auth.sender import Message
from idplus.models import Client, User
from idplus.policies import ClientType
from idplus.protocol.password_reset.messages import (
    send_password_changed,
    send_reset_code,
    send_reset_link,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        self.sent.append(message)


def test_the_code_sms_is_origin_bound_for_an_https_issuer_only() -> None:
    sender = Recorder()
    send_reset_code(sender, "+4790000001", "123456", "nb", NOW, "https://id.example.no")
    send_reset_code(sender, "+4790000001", "654321", "en", NOW, "http://localhost:8000")
    https, http = sender.sent
    assert https.body.startswith("123456 er koden for å tilbakestille passordet ditt.")
    assert https.body.endswith("\n\n@id.example.no #123456")
    assert "@" not in http.body
    assert (https.code, https.channel) == ("123456", "sms")


def test_the_link_goes_by_email_and_the_notice_by_both() -> None:
    sender = Recorder()
    send_reset_link(sender, "kari@example.com", "https://id.example.no/x?token=t", "en", NOW)
    user = User("u1", "+4790000001", "hash", "k1", "a1", (), phone_number="+4790000001",
                email="kari@example.com")  # fmt: skip
    send_password_changed(sender, user, "nb", NOW)
    link, sms, email = sender.sent
    assert (link.channel, link.code) == ("email", None)
    assert "https://id.example.no/x?token=t" in link.body
    assert [(m.channel, m.to) for m in (sms, email)] == [
        ("sms", "+4790000001"),
        ("email", "kari@example.com"),
    ]
    assert sms.body.startswith("Passordet ditt ble endret")


def test_the_code_sms_names_the_app_the_reset_started_from() -> None:
    sender = Recorder()
    tv = Client(client_id="tv-4k", name="Telenor TV", client_type=ClientType.PUBLIC)
    send_reset_code(sender, "+4790000001", "123456", "nb", NOW, "http://localhost:8000", client=tv)
    (sms,) = sender.sent
    assert sms.body.startswith("123456 er koden for å tilbakestille passordet ditt til Telenor TV.")


def test_the_link_email_says_in_both_languages_how_long_the_link_holds() -> None:
    sender = Recorder()
    for locale in ("en", "nb"):
        send_reset_link(sender, "kari@example.com", "https://id.example.no/x?token=t", locale, NOW)
    english, norwegian = sender.sent
    assert "The link is valid for 30 minutes and can be used once." in english.body
    assert "Lenken gjelder i 30 minutter og kan bare brukes én gang." in norwegian.body
