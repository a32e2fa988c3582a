"""CSRF protection for every form: a token bound to the browser cookie (signed double submit).

The browser id is issued and signed by this server (ui/cookies.py) and replaced at every
login; the token is an HMAC of it under the server's cookie key, so a page from another site
can neither read it nor make one that matches the victim's cookie. One token per browser,
valid on every form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def csrf_token(cookie_key: bytes, browser_id: str) -> str:
    digest = hmac.new(cookie_key, f"csrf:{browser_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def csrf_token_is_valid(cookie_key: bytes, browser_id: str | None, token: str | None) -> bool:
    if not browser_id or not token:
        return False
    # Bytes: compare_digest refuses a str with non-ASCII characters (a 500, not a refusal).
    expected = csrf_token(cookie_key, browser_id).encode()
    return hmac.compare_digest(expected, token.encode("utf-8", "surrogatepass"))
