"""SQLAlchemy Core implementation of the stores (SQLite and PostgreSQL)."""
