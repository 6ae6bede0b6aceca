"""/admin: the office's console (people with role admin)."""

from __future__ import annotations

ROUTES: list = []
