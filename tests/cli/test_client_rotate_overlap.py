"""`idplus client rotate-secret ID [--overlap SECONDS]`: the older secret keeps working a day
unless told otherwise; the output is the same one JSON document."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.cli.conftest import Cli


def _secrets(cli: Cli) -> list[dict[str, str | None]]:
    secrets: list[dict[str, str | None]] = cli.ok("client", "show", "web")["secrets"]
    return secrets


def test_the_older_secret_ends_after_the_overlap(cli: Cli) -> None:
    cli.ok("client", "add", "--client-id", "web", "--type", "Confidential")

    rotated = cli.ok("client", "rotate-secret", "web", "--overlap", "3600")

    assert set(rotated) == {"client_id", "client_secret"}
    ends = [s["expires_at"] for s in _secrets(cli)]
    assert ends.count(None) == 1
    [older] = [datetime.fromisoformat(e) for e in ends if e is not None]
    [created] = [datetime.fromisoformat(str(s["created_at"])) for s in _secrets(cli)
                 if s["expires_at"] is None]  # fmt: skip
    # The CLI runs on the real clock: the end is an hour after the rotation's moment.
    assert timedelta(hours=1) <= older - created < timedelta(hours=1, seconds=5)


def test_an_overlap_of_zero_leaves_only_the_new_secret(cli: Cli) -> None:
    cli.ok("client", "add", "--client-id", "web", "--type", "Confidential")
    cli.ok("client", "rotate-secret", "web", "--overlap", "0")
    assert [s["expires_at"] for s in _secrets(cli)] == [None]


def test_the_overlap_is_zero_to_thirty_days(cli: Cli) -> None:
    cli.ok("client", "add", "--client-id", "web", "--type", "Confidential")
    for bad in ("-1", "2592001", "a-day"):
        assert "--overlap" in cli.fails("client", "rotate-secret", "web", "--overlap", bad)
    assert len(_secrets(cli)) == 1
