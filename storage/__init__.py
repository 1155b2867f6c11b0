"""Persistence: SQLModel tables, the async engine, the file store and Alembic migrations."""
