"""The key that signs links and cookies: from settings, or generated once and kept in the
database, so every instance (and a restart) signs and checks with the same key."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from daemon.store.tables import StateRow

SECRET_STATE_KEY = "web_secret_key"


def shared_secret(session: Session, configured: str | None, now: datetime) -> bytes:
    """The configured key, or the database's: the first instance to start writes one, the
    others read it (insert-if-absent, so two first starts agree)."""
    if configured:
        return configured.encode("utf-8")
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(StateRow).values(key=SECRET_STATE_KEY, value=secrets.token_urlsafe(48), updated_at=now)
                    .on_conflict_do_nothing(index_elements=["key"]))
    return session.scalar(select(StateRow.value).where(StateRow.key == SECRET_STATE_KEY)).encode("utf-8")
