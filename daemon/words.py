"""Dates as people read them, without the template engine (the CLI prints them too)."""

from __future__ import annotations

from datetime import date

from daemon.plan.model import WEEKDAY_NAMES


def cn_date(day: date) -> str:
    """2026年3月25日 周三: how dates read in every message; a weekend day that is an official
    adjusted working day says so (2026年2月28日 周六(调休上班)), or it reads like a mistake."""
    text = f"{day.year}年{day.month}月{day.day}日 {WEEKDAY_NAMES[day.weekday()]}"
    if day.weekday() >= 5:
        from daemon.plan.workdays import is_adjusted_workday

        if is_adjusted_workday(day):
            text += "(调休上班)"
    return text
