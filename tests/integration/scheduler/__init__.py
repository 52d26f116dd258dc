"""Integration tests of the scheduler on SQLite (and PostgreSQL when configured)."""
