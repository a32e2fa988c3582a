"""Authentication providers (local password + SMS code; upstream OIDC later) and the sender."""
