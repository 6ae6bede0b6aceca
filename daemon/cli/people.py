"""People named on the command line, by roster id or by name."""

from __future__ import annotations

import click

from daemon.plan.hints import suggest
from daemon.plan.model import Roster


def person_id(roster: Roster, text: str, param_hint: str) -> str:
    """The id of the person ``text`` names (an id, or a name held by exactly one person)."""
    text = text.strip()
    found = roster.named(text)
    if len(found) == 1:
        return found[0].id
    if found:
        candidates = "、".join(f"{p.id}({p.name}{',' + p.email if p.email else ''})" for p in found)
        raise click.BadParameter(f"名册中有 {len(found)} 人叫 '{text}':{candidates};请写其中一人的 id", param_hint=param_hint)
    choices = [p.id for p in roster.people] + [p.name for p in roster.people]
    hint = suggest(text, choices) or ";请写名册中的 id(如 zhang-wei)或姓名(如 张伟)"
    raise click.BadParameter(f"名册中没有 '{text}'{hint}", param_hint=param_hint)
