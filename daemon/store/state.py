"""Small facts the service keeps between runs (schedule version, last dispatch, last error)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.store.tables import StateRow


def set_state(session: Session, key: str, value: str, now: datetime) -> None:
    """Upsert, so two instances writing the same fact never collide."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(StateRow).values(key=key, value=value, updated_at=now)
    session.execute(statement.on_conflict_do_update(
        index_elements=["key"], set_={"value": value, "updated_at": now}))


def get_state(session: Session) -> dict[str, StateRow]:
    return {row.key: row for row in session.scalars(select(StateRow))}
