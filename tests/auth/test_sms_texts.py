"""The CIBA approval SMS and the origin-bound line (https://wicg.github.io/sms-one-time-codes/)."""

from __future__ import annotations

import re

from idplus.auth.sms_texts import ciba_approval_text, origin_bound_line
from idplus.models import Client
from idplus.policies import ClientType

URL = "https://id.example.com/ciba/approve?token=abc&ui_locales=no"


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
