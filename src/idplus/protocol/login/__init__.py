"""The login pages' state machine: `machine.advance` runs one user action on a login in
progress; `protocol/authenticators/` prove who the user is; `finish` ends the login."""
