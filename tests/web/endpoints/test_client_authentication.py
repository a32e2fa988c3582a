"""Over HTTP: an unknown client_id and a wrong secret get the same invalid_client answer."""

from __future__ import annotations

from tests.harness import Harness, basic


def test_token_endpoint_does_not_tell_unknown_clients_from_wrong_secrets(
    harness: Harness,
) -> None:
    harness.add_client("backend", client_type="Confidential", secret="s3cret-s3cret-s3cret")
    form = {"grant_type": "client_credentials"}
    unknown = harness.http.post("/connect/token", data=form, headers=basic("nobody", "x"))
    wrong = harness.http.post("/connect/token", data=form, headers=basic("backend", "x"))
    assert unknown.status_code == wrong.status_code == 401
    assert (
        unknown.json()
        == wrong.json()
        == {
            "error": "invalid_client",
            "error_description": "client authentication failed",
        }
    )
