"""One daemon per SQLite file: SQLite cannot share a claim between processes safely, so a
second `planbell run` on the same file is refused (PostgreSQL serves several instances)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import make_url


class AlreadyRunning(Exception):
    pass


def sqlite_path(database_url: str) -> Path | None:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def acquire(database_url: str):
    """An open lock file held for the life of the process, or None for non-SQLite stores."""
    path = sqlite_path(database_url)
    if path is None:
        return None
    lock_path = path.with_name(path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "a+")  # noqa: SIM115 - held open on purpose
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise AlreadyRunning(
            f"另一个 planbell 服务(pid {holder})正在使用数据库 {path};"
            "SQLite 只允许一个服务实例。多实例请改用 PostgreSQL(PLANBELL_DATABASE_URL)。"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
