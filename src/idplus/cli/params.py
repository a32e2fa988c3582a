"""Option types shared by the commands."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click
from click.shell_completion import CompletionItem


class Choice(click.Choice[str]):
    """A closed set of values, matched case-insensitively and handed on in its canonical
    spelling (`--type confidential` → `Confidential`).

    Help, errors and shell completion show the canonical spelling: click's own case-insensitive
    choice shows the case-folded one (`publicwithrefresh`), which is not what idplus prints back.
    """

    def __init__(self, choices: Iterable[str], what: str) -> None:
        super().__init__(tuple(choices), case_sensitive=False)
        self.what = what

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "[" + "|".join(self.choices) + "]"

    def get_missing_message(self, param: click.Parameter, ctx: click.Context | None) -> str:
        return f"Choose the {self.what} from {', '.join(self.choices)}."

    def get_invalid_choice_message(self, value: Any, ctx: click.Context | None) -> str:
        return f"unknown {self.what} {value!r} (choose {', '.join(self.choices)})"

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        start = incomplete.casefold()
        return [CompletionItem(c) for c in self.choices if c.casefold().startswith(start)]
