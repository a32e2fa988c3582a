"""Administrative use-cases shared by the CLI, the admin surface and self-service."""
