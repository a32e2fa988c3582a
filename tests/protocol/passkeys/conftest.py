"""Passkey tests run on an issuer at http://localhost:8000 (the browsers' development origin)."""

from __future__ import annotations

import pytest

from idplus.models import User
from idplus.protocol.context import AppContext
from tests.protocol.passkeys.steps import ISSUER, add_user, on_issuer
from tests.webauthn_authenticator import SoftwareAuthenticator


@pytest.fixture
def ctx(context: AppContext) -> AppContext:
    return on_issuer(context)


@pytest.fixture
def user(ctx: AppContext) -> User:
    return add_user(ctx)


@pytest.fixture
def authenticator() -> SoftwareAuthenticator:
    return SoftwareAuthenticator(origin=ISSUER)
