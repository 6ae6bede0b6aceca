"""`planbell feed reset PERSON`: a new calendar subscription address for one person."""

from __future__ import annotations

import click

from daemon import clock, feeds
from daemon.cli.main import App, pass_app
from daemon.cli.store import Store
from daemon.config import public_url
from daemon.plan.fields import suggest


@click.group()
def feed() -> None:
    """日历订阅地址(每人一个,可在手机或 Outlook 日历中订阅)。"""


@feed.command("reset")
@click.argument("person")
@pass_app
def feed_reset(app: App, person: str) -> None:
    """为某人生成新的日历订阅地址并打印;旧地址立即失效(如地址泄露时)。

    \b
    例:planbell feed reset li-na
    """
    roster = app.schedule().roster
    if roster.person(person) is None:
        ids = [p.id for p in roster.people]
        raise click.BadParameter(f"名册中没有 '{person}'{suggest(person, ids) or ';名册编号见 schedules/roster.yaml'}",
                                 param_hint="PERSON")
    now = clock.now()
    store = Store(app, now, sync=False)
    with store.sessions.begin() as session:
        token = feeds.reset(session, person, now)
    click.echo(f"{roster.person(person).name} 的新日历订阅地址(旧地址已失效,请发给本人,勿公开):")
    click.echo(feeds.feed_url(public_url(app.settings), token))
