"""`idplus keys …`: rotate and list the signing keys (one per algorithm)."""

from __future__ import annotations

from idplus.models import SIGNING_ALGORITHMS
from tests.cli.conftest import Cli


def test_keys_rotate_and_list(cli: Cli) -> None:
    first = cli.ok("keys", "rotate")
    second = cli.ok("keys", "rotate")

    states = {k["kid"]: (k["alg"], k["state"]) for k in cli.ok("keys", "list")}
    assert states == {
        **{k["kid"]: (k["alg"], "signing") for k in first["rotated"]},
        **{k["kid"]: (k["alg"], "next") for k in second["rotated"]},
    }
    assert [k["alg"] for k in second["rotated"]] == list(SIGNING_ALGORITHMS)
    # INTERFACE: `{"kid": …}` at the top level, the RS256 key's when every key was rotated.
    (rs256,) = (k for k in second["rotated"] if k["alg"] == "RS256")
    assert {name: second[name] for name in ("kid", "alg", "activate_at")} == rs256


def test_keys_rotate_one_algorithm(cli: Cli) -> None:
    cli.ok("keys", "rotate")

    rotated = cli.ok("keys", "rotate", "--alg", "es256")

    (only,) = rotated["rotated"]
    assert only["alg"] == rotated["alg"] == "ES256"
    assert rotated["kid"] == only["kid"]
    states = [(k["alg"], k["state"]) for k in cli.ok("keys", "list")]
    assert sorted(states) == [
        ("ES256", "next"),
        ("ES256", "signing"),
        ("PS256", "signing"),
        ("RS256", "signing"),
    ]


def test_keys_rotate_refuses_an_unknown_algorithm(cli: Cli) -> None:
    err = cli.fails("keys", "rotate", "--alg", "HS256")
    assert "HS256" in err and "RS256, PS256, ES256" in err


def test_keys_list_as_a_table(cli: Cli) -> None:
    first = cli.ok("keys", "rotate")
    second = cli.ok("keys", "rotate")

    header, *rows = cli.text("keys", "list", "--format", "table").splitlines()

    assert header.split() == ["KID", "ALG", "STATE", "ACTIVATE_AT", "PUBLISH_UNTIL", "ENCRYPTED"]
    states = {row.split()[0]: (row.split()[1], row.split()[2]) for row in rows}
    assert states == {
        **{k["kid"]: (k["alg"], "signing") for k in first["rotated"]},
        **{k["kid"]: (k["alg"], "next") for k in second["rotated"]},
    }
    assert all(row.split()[-1] in ("yes", "no") for row in rows)
