"""Engines, sessions and migrations."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, Table, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseUrlError(ValueError):
    pass


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(
            f"PLANBELL_DATABASE_URL={url!r} is not a database URL; use sqlite:///var/planbell.db "
            "or postgresql+psycopg://user@host:5432/planbell"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if parsed.get_backend_name() == "postgresql":
        # A partitioned network must not hang the daemon for TCP's 2 minutes to connect, or
        # 15 minutes on an open connection: fail in seconds and let the next tick retry.
        return create_engine(parsed, pool_pre_ping=True, pool_size=5, connect_args={
            "connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30,
            "keepalives_interval": 10, "keepalives_count": 3,
        })
    raise DatabaseUrlError(f"PLANBELL_DATABASE_URL: {parsed.get_backend_name()!r} is not supported; use sqlite or postgresql")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Transactions are begun by _sqlite_begin_immediate, not by the driver.
    dbapi_connection.isolation_level = None
    # WAL lets the CLI read (and check off duties) while the daemon writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection) -> None:
    # A deferred transaction that reads, then writes, fails at once with "database is locked"
    # when the CLI and the daemon write together; taking the write lock up front makes the
    # second writer wait (busy_timeout) instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def serialize(session: Session, name: str) -> None:
    """Make writers of the same kind take turns across instances (PostgreSQL; SQLite has one
    writer at a time already)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})


def insert_many(session: Session, table: Table, rows: list[dict], *, ignore_conflict_on: str | None = None) -> None:
    """INSERT ``rows`` (dicts with the same keys) in the session's transaction, optionally ON
    CONFLICT (``ignore_conflict_on``) DO NOTHING.

    On SQLite the values are converted by their columns' own bind processors (the same
    stored form as any other write) and handed to the driver's executemany in one call:
    SQLAlchemy's own executemany path, which converts and batches in Python, cost five times
    as much for a large office's year (350,000 messages). PostgreSQL keeps SQLAlchemy's
    multi-row VALUES batches, which are already one round trip per thousand rows."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    names = list(rows[0])
    defaulted = any(c.default is not None and c.name not in names for c in table.c)
    if dialect.name != "sqlite" or defaulted:  # (a column's Python default is SQLAlchemy's to apply)
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(table)
        if ignore_conflict_on:
            statement = statement.on_conflict_do_nothing(index_elements=[ignore_conflict_on])
        session.execute(statement, rows)
        return
    quote = dialect.identifier_preparer.quote
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
           f"VALUES ({', '.join('?' for _ in names)})")
    if ignore_conflict_on:
        sql += f" ON CONFLICT ({quote(ignore_conflict_on)}) DO NOTHING"
    columns = [[row[n] for row in rows] for n in names]
    for values, name in zip(columns, names, strict=True):
        convert = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if convert is None:
            continue
        if any(isinstance(v, (dict, list)) for v in values[:1]):  # JSON: each row's own
            values[:] = map(convert, values)
            continue
        # Times and dates repeat across rows (a Monday's digests share one send_at; every
        # row one created_at): each distinct value is converted once.
        converted: dict = {}
        values[:] = [converted[v] if v in converted else converted.setdefault(v, convert(v)) for v in values]
    session.connection().exec_driver_sql(sql, list(zip(*columns, strict=True)))


def alembic_config(engine: Engine):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


_REVISION = re.compile(r'^(down_revision|revision)\s*=\s*["\']?([\w.-]+|None)["\']?', re.M)


@cache
def head_revisions() -> frozenset[str]:
    """The revisions no migration builds on, read from the files' `revision = …` lines: what
    Alembic would call head, without importing Alembic (a third of a CLI command's start)."""
    revisions, parents = set(), set()
    for file in (MIGRATIONS / "versions").glob("*.py"):
        found = dict((key, value) for key, value in _REVISION.findall(file.read_text(encoding="utf-8")))
        if "revision" in found:
            revisions.add(found["revision"])
            parents.add(found.get("down_revision"))
    return frozenset(revisions - parents)


def at_head(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            current = {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}
    except DBAPIError:
        return False  # no alembic_version table yet: a new database
    return bool(current) and current == head_revisions()


def upgrade(engine: Engine) -> None:
    """Bring the schema up to date (idempotent; run at every start and by every command).
    A database already at head, the usual case, costs one query."""
    if at_head(engine):
        return
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
