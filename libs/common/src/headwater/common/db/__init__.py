"""SQL persistence of assistants, threads and runs (SQLAlchemy 2 async, Alembic)."""
