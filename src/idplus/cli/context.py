"""What a command works with: settings, store and clock, opened only when first used."""

from __future__ import annotations

from functools import cached_property

import click

from idplus.clock import SystemClock
from idplus.config import Settings
from idplus.store.sql.uow import SqlStore


class Context:
    """Settings and store, opened only by the commands that need them (so `--help` and the
    commands that touch no database work without a valid configuration)."""

    clock = SystemClock()

    @cached_property
    def settings(self) -> Settings:
        return Settings()

    @cached_property
    def store(self) -> SqlStore:
        return SqlStore.from_settings(self.settings)

    def close(self) -> None:
        """Close the store's connections, if a command opened it."""
        if "store" in vars(self):
            self.store.dispose()


pass_context = click.make_pass_decorator(Context, ensure=True)
