"""Alembic environment: the engine is handed in by daemon.store.db, never read from an ini."""

from alembic import context

from daemon.store.tables import Base

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        # Two instances starting together must not both create the tables.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7263550)")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
