"""Persistence. SQL lives only under `store.sql`; callers get `idplus.models` records back."""
