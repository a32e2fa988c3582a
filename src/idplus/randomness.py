"""Randomness as a dependency, like the clock: every handle, id and one-time code comes from
here, so the application context decides where it comes from (always `secrets` in a server)."""

from __future__ import annotations

import secrets
from typing import Protocol


class Randomness(Protocol):
    def handle(self, nbytes: int = 32) -> str:
        """A bearer handle (code, token, session handle …): `nbytes` random bytes, URL-safe."""
        ...

    def hex_id(self, nbytes: int = 16) -> str:
        """A unique identifier such as a jti, as hex."""
        ...

    def digits(self, count: int) -> str:
        """`count` uniformly random decimal digits (one-time codes, user codes)."""
        ...


class SystemRandomness:
    """The operating system's CSPRNG."""

    def handle(self, nbytes: int = 32) -> str:
        return secrets.token_urlsafe(nbytes)

    def hex_id(self, nbytes: int = 16) -> str:
        return secrets.token_hex(nbytes)

    def digits(self, count: int) -> str:
        return f"{secrets.randbelow(10**count):0{count}d}"
