"""JSON answers: compact UTF-8 as Starlette writes them, whatever the claims hold."""

from __future__ import annotations

from idplus.web.adapters import json_response


def test_a_json_answer_is_compact_utf8() -> None:
    answer = json_response({"given_name": "Bjørn", "amr": ["pwd"], "exp": 1767225600})
    assert answer.body == '{"given_name":"Bjørn","amr":["pwd"],"exp":1767225600}'.encode()
    assert answer.headers["cache-control"] == "no-store"


def test_an_integer_beyond_64_bits_in_a_claim_is_written_not_a_server_error() -> None:
    """Legacy claims are JSON from the database: any integer may be in them."""
    answer = json_response({"legacy_status": 2**70})
    assert answer.body == b'{"legacy_status":1180591620717411303424}'
