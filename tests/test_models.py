"""What the records say about themselves."""

from __future__ import annotations

import pytest

from idplus.models import Client
from idplus.policies import ClientType


@pytest.mark.parametrize(
    ("name", "own_name", "display_name"),
    [("Telenor TV", "Telenor TV", "Telenor TV"), ("tv-4k", None, "tv-4k"), ("", None, "tv-4k")],
)
def test_an_app_without_a_name_of_its_own_goes_by_its_client_id(
    name: str, own_name: str | None, display_name: str
) -> None:
    client = Client(client_id="tv-4k", name=name, client_type=ClientType.MOBILE_APP)
    assert (client.own_name, client.display_name) == (own_name, display_name)
