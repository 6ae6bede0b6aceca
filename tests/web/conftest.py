"""Fixtures of the workbench tests: the simulated March (once a session) and each test's copy."""

from __future__ import annotations

import pytest

from tests.smtpserver import free_port
from tests.web.world import March, World, make_march, open_world


@pytest.fixture(scope="session")
def march(tmp_path_factory) -> March:
    """March 2026 of the bundled plan, simulated up to the 24th into a Maildir and a robot."""
    made = make_march(tmp_path_factory.mktemp("march"), free_port())
    yield made
    made.hooks.close()


@pytest.fixture
def world(march: March, tmp_path) -> World:
    """This test's copy of March, its workbench served at the month's public address."""
    opened = open_world(march, tmp_path)
    yield opened
    opened.stop()
