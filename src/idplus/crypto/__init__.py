"""Keys, JWKS and hashing, built on `cryptography`, `joserfc` and `argon2-cffi`."""
