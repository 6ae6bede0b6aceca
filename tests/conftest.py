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
