"""What commands print: one JSON document for scripts, or an aligned table for people."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import click

from idplus.cli.params import Choice

FORMATS = ("json", "table")
EMPTY_CELL = "-"

F = TypeVar("F", bound=Callable[..., Any])


def emit(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


def emit_lines(documents: Iterable[Any]) -> None:
    """JSON lines: one compact JSON object per line, for `jq -c`, `grep` and log shippers."""
    for document in documents:
        click.echo(json.dumps(document, ensure_ascii=False))


def format_option(json_is: str = "a JSON array") -> Callable[[F], F]:
    """`--format json|table` for list commands; JSON stays the default, for scripts."""
    return click.option(
        "--format",
        "output_format",
        type=Choice(FORMATS, what="format"),
        default="json",
        show_default=True,
        help=f"json: {json_is}, for scripts; table: aligned columns, for people.",
    )


def emit_list(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], output_format: str
) -> None:
    """Rows as one JSON array, or as a table of the named columns."""
    if output_format == "table":
        click.echo(render_table(rows, columns), nl=False)
    else:
        emit(list(rows))


def render_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """An aligned text table with a header line; lists are joined, a missing value is `-`."""
    header = [column.upper() for column in columns]
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(columns))]
    lines = [
        "  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *cells]
    ]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None or value == [] or value == {}:
        return EMPTY_CELL
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return " ".join(f"{k}={_cell(v)}" for k, v in value.items())
    # One line per row, whatever a name or a detail holds.
    return " ".join(str(value).split())
