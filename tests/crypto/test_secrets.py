"""Sealed secrets: Fernet under an HKDF-derived key when a KEK is set, plain otherwise."""

from __future__ import annotations

import pytest

from idplus.crypto.secrets import SecretDecryptionError, is_sealed, open_secret, seal_secret

KEK = "correct horse battery staple"


def test_a_sealed_secret_opens_only_with_its_key() -> None:
    sealed = seal_secret("s3cret", KEK)
    assert is_sealed(sealed) and "s3cret" not in sealed
    assert sealed != seal_secret("s3cret", KEK), "a fresh IV each time"
    assert open_secret(sealed, KEK) == "s3cret"
    for wrong in ("another key", None):
        with pytest.raises(SecretDecryptionError):
            open_secret(sealed, wrong)


def test_without_a_key_the_secret_is_stored_plain_and_still_read_with_one() -> None:
    stored = seal_secret("s3cret", None)
    assert not is_sealed(stored)
    assert open_secret(stored, None) == open_secret(stored, KEK) == "s3cret"


def test_a_tampered_or_unknown_form_is_refused() -> None:
    sealed = seal_secret("s3cret", KEK)
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(SecretDecryptionError):
        open_secret(tampered, KEK)
    with pytest.raises(SecretDecryptionError, match="unknown form"):
        open_secret("s3cret", KEK)
