"""The `idplus` command line."""
