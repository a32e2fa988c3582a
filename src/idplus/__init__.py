"""idplus: an OpenID Connect provider and OAuth 2.0 authorization server."""

__version__ = "0.1.0"
