"""Jinja2 rendering of everything people read. The words live in templates/, not in Python."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import jinja2

from daemon.plan.model import WEEKDAY_NAMES
from daemon.words import cn_date

# PLANBELL_TEMPLATES (see daemon.config) overrides this, e.g. in the container image.
TEMPLATES = Path(os.environ.get("PLANBELL_TEMPLATES") or Path(__file__).resolve().parent.parent / "templates")


def figure(value: float) -> str:
    """A count or a target figure as people write it: 500, 12.5, 0.1 — never 500.0 or 1e+03."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def percent(share: float) -> int:
    """A share (0.3) as a whole percentage clamped to 0–100, e.g. for the width of a bar."""
    return max(0, min(100, round(share * 100)))


def tone(days_left: int | None) -> str:
    """The colour of a duty's state: red overdue, orange due today or tomorrow, blue otherwise,
    grey for what has not started yet (days_left None)."""
    if days_left is None:
        return "#52606d"
    return "#c62828" if days_left < 0 else "#b45309" if days_left <= 1 else "#1d5fa8"


def tint(days_left: int | None) -> str:
    """The light background matching ``tone``."""
    if days_left is None:
        return "#f5f7fa"
    return "#fdecea" if days_left < 0 else "#fff4e5" if days_left <= 1 else "#f3f7fc"


def local_time(moment, zone) -> str:
    """An instant as people there read it: 2026-03-20 14:05 in the plan's zone."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""


def same_day(items: list[dict]) -> bool:
    """Whether every item of a reminder is due the same day."""
    return len({i["occurrence"].due for i in items}) == 1


class _Environment(jinja2.Environment):
    def make_globals(self, d):
        """A template's globals as a plain dict, not Jinja's ChainMap over the environment's:
        each ``{% import %}`` and each render walks them, and over a ChainMap that was a seventh
        of the time it takes to compose a reminder. Jinja asks that globals not change after
        templates are loaded, and ours never do (all are set below, before the first load)."""
        return {**self.globals, **(d or {})}


@cache
def environment(folder: str = str(TEMPLATES)) -> jinja2.Environment:
    env = _Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=jinja2.select_autoescape(["html", "htm"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        # Templates change with a deploy, not while running: skip a stat() per render.
        auto_reload=False,
    )
    env.filters["cn_date"] = cn_date
    env.filters["weekday"] = lambda d: WEEKDAY_NAMES[d.weekday()]
    env.filters["figure"] = figure
    env.filters["percent"] = percent
    env.filters["tone"] = tone
    env.filters["tint"] = tint
    env.filters["same_day"] = same_day
    env.filters["local"] = local_time
    return env


def render(name: str, **context) -> str:
    return environment().get_template(name).render(**context).strip()
