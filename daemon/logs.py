"""Logging for operators: English, one line per event, greppable."""

from __future__ import annotations

import logging
import sys


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    # APScheduler logs every job run at INFO (a line every poll): operators want our lines.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
