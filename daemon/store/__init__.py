"""The store: SQLAlchemy tables, Alembic migrations, and the queries the service runs."""
