"""Passkeys (WebAuthn Level 3): a phishing-resistant login and step-up without SMS (issue 18).

- relying_party.py: rp id, name, expected origin, and whether passkeys work for this issuer.
- registration.py: options and verification for adding a passkey on the account page.
- assertion.py: options and verification for a login or step-up with a passkey.
- removal.py: listing and removing a user's passkeys (the sessions they opened end).
- challenges.py: single-use challenges bound to the login or session that asked.
- responses.py: reading what the browser sends (through the `webauthn` library).
- errors.py: PasskeyProblem and its reasons, the one exception every step raises.

The `webauthn` library (py_webauthn) does all CBOR, COSE and signature work.
"""
