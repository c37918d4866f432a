"""Alembic migrations; `knopfdruck db upgrade` runs them."""
