"""OAuth 2.0 and OpenID Connect rules: no HTTP, no SQL."""
