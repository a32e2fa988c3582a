"""Passwords are argon2id; client secrets salted and compared in constant time; handles HMACed."""

from __future__ import annotations

from idplus.crypto.hashing import (
    hash_client_secret,
    hash_handle,
    hash_password,
    new_client_secret,
    verify_client_secret,
    verify_password,
)
from idplus.randomness import SystemRandomness


def test_passwords_are_argon2id_and_verify() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "wrong horse")
    assert not verify_password("not-a-hash", "correct horse")


def test_client_secret_hash_is_salted_and_verifies() -> None:
    secret = new_client_secret()
    first, second = hash_client_secret(secret), hash_client_secret(secret)
    assert first != second
    assert secret not in first
    assert verify_client_secret(first, secret)
    assert not verify_client_secret(first, secret + "x")
    assert not verify_client_secret("md5$x$y", secret)


def test_generated_secrets_and_handles_carry_256_bits() -> None:
    assert len(new_client_secret()) >= 43
    random = SystemRandomness()
    assert len(random.handle()) >= 43
    assert random.handle() != random.handle()


def test_handle_hash_depends_on_the_server_key() -> None:
    assert hash_handle(b"k1", "h") == hash_handle(b"k1", "h")
    assert hash_handle(b"k1", "h") != hash_handle(b"k2", "h")
    assert len(hash_handle(b"k1", "h")) == 64
