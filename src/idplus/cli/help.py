"""Help that stands on its own: every command ends with an example and what its exit code means.

An operator reading `idplus client add --help` at night should not need the top-level help, the
README or the code to run the command and to read its answer.
"""

from __future__ import annotations

import click

EXIT_SUCCESS = 0
EXIT_ENVIRONMENT = 1
EXIT_BAD_INPUT = 2

EXIT_CODES = (
    f"Exit codes: {EXIT_SUCCESS} success; {EXIT_BAD_INPUT} bad input (the reason is one line on "
    f"stderr); {EXIT_ENVIRONMENT} the database is unreachable or not migrated."
)


def example(*lines: str) -> str:
    """An epilog showing commands, kept on their own lines (click's \\b stops rewrapping); an
    indented line continues the command above it."""
    commands = sum(1 for line in lines if not line.startswith(" "))
    heading = "Example:" if commands == 1 else "Examples:"
    return "\n".join(["\b", heading, *(f"  {line}" for line in lines)])


def _write_exit_codes(formatter: click.HelpFormatter) -> None:
    formatter.write_paragraph()
    with formatter.indentation():
        formatter.write_text(EXIT_CODES)


class Command(click.Command):
    """A command whose help ends with the exit codes, like every other command's."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        _write_exit_codes(formatter)


class Group(click.Group):
    """A command group whose help ends with the exit codes, and whose commands (and
    sub-groups) all get the same."""

    command_class = Command
    group_class = type

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        _write_exit_codes(formatter)
