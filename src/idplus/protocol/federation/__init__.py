"""Federation: what idplus does with upstream OpenID providers once the login stage has sent the
browser there (the authenticator is `protocol/authenticators/upstream.py`)."""
