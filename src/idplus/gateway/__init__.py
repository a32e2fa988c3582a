"""The API gateway front (/oauth/v2) with its numbered errors and opaque reference tokens."""
