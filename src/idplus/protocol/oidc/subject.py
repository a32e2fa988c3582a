"""Pairwise subject identifiers (OIDC Core §8.1): stable per client, different between clients."""

from __future__ import annotations

import base64
import hashlib
import hmac


def pairwise_subject(salt: bytes, sector: str, user_id: str) -> str:
    digest = hmac.new(salt, f"{sector}\x00{user_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
