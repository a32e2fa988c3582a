"""`python -m idplus` is the `idplus` command."""

from idplus.cli.main import main

main()
