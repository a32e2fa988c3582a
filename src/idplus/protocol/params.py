"""Typed reading of request parameters (RFC 6749 §3.1: no repeats, empty means absent)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from idplus.errors import InvalidRequest

MAX_PARAMETER_LENGTH = 4096
# Signed assertions can carry a certificate chain (x5c) in their header.
LONGER_PARAMETERS = {"client_assertion": 8192}


@dataclass(frozen=True, slots=True)
class Params:
    values: Mapping[str, str]
    # Names sent more than once; callers decide whether that is fatal or redirectable.
    repeated: frozenset[str]

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def require_single(self, *names: str) -> None:
        repeated = sorted(self.repeated.intersection(names) if names else self.repeated)
        if repeated:
            raise InvalidRequest(f"parameter {repeated[0]} was given more than once")


def parse_params(items: Iterable[tuple[str, str]]) -> Params:
    values: dict[str, str] = {}
    repeated: set[str] = set()
    for name, value in items:
        if len(value) > LONGER_PARAMETERS.get(name, MAX_PARAMETER_LENGTH):
            raise InvalidRequest(f"parameter {name[:64]} is too long")
        if "\x00" in value or "\x00" in name:
            # No database stores a NUL in text (PostgreSQL refuses it): never a parameter.
            raise InvalidRequest("parameters must not contain NUL characters")
        if value == "":
            continue
        if name in values:
            repeated.add(name)
        values[name] = value
    return Params(values, frozenset(repeated))


def split_space_list(value: str | None) -> tuple[str, ...]:
    """Space-delimited lists (scope, prompt, acr_values, ui_locales), order kept, no repeats."""
    return tuple(dict.fromkeys(value.split())) if value else ()
