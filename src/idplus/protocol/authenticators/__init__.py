"""Ways to prove who the user is, each an object the login state machine drives."""
