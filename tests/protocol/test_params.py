"""Request parameters: empty means absent, repeats are remembered, oversize is refused."""

from __future__ import annotations

import pytest

from idplus.errors import InvalidRequest
from idplus.protocol.params import parse_params, split_space_list


def test_empty_values_are_treated_as_absent_and_repeats_are_noted() -> None:
    params = parse_params([("a", "1"), ("b", ""), ("a", "2")])
    assert params.get("b") is None
    assert params.repeated == {"a"}
    with pytest.raises(InvalidRequest, match="parameter a"):
        params.require_single()


def test_oversized_values_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="too long"):
        parse_params([("state", "x" * 5000)])


def test_space_lists_keep_order_and_drop_repeats() -> None:
    assert split_space_list("openid  profile openid") == ("openid", "profile")
    assert split_space_list(None) == ()


def test_nul_characters_are_refused() -> None:
    """PostgreSQL cannot store them: a NUL would otherwise be a 500 deep in a query."""
    with pytest.raises(InvalidRequest, match="NUL"):
        parse_params([("kurtid", "12\x0034")])
