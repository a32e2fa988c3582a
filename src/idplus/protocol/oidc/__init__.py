"""OpenID Connect specifics: discovery, ID tokens, userinfo, logout."""
