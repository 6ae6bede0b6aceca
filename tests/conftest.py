"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest

from tests.smtpserver import Server


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd, plain SMTP) on a free port of 127.0.0.1; what it
    receives is in ``smtp_server.received``."""
    with Server() as running:
        yield running


# The machine's PostgreSQL (trust auth for user postgres on loopback, as in CI).
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def postgres_url():
    """A fresh, empty database on 127.0.0.1:5432 for this test, dropped afterwards, as a
    SQLAlchemy URL. Without a reachable server the test is skipped, except in CI (CI set),
    where the PostgreSQL tests must run: there it fails."""
    import os
    import secrets

    import psycopg

    try:
        admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL is not reachable at 127.0.0.1:5432 ({exc})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; in CI the PostgreSQL tests must run, not skip")
        pytest.skip(reason)
    name = f"planbell_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            # FORCE: a connection a failed test left open must not keep the database alive.
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
