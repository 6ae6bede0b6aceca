"""销号, 不办理 and 撤销: `done`, `skip` and `reopen`, on one occurrence or many at once.

`done` and `skip` take several ids and shell patterns ('first-topic-study/2026-0*'),
narrowed by --item and --before; more than one occurrence is shown first and asked about
(or --yes). Each occurrence changed gets its own audit entry.
"""

from __future__ import annotations

import getpass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select

from daemon import clock
from daemon import ledger as ledger_ops
from daemon.cli.main import DATE, EXIT_USAGE, App, pass_app
from daemon.cli.people import person_id
from daemon.cli.store import Store
from daemon.golive import UNDECIDED
from daemon.ledger import LedgerError
from daemon.plan.hints import suggest
from daemon.store.tables import OccurrenceRow

PREVIEW_LINES = 30
STATUS_WORDS = {"open": "未完成", "prelive": "上线前", "done": "已销号", "skipped": "不需办理", "cancelled": "已取消"}


def actor(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


def _exact(session, occurrence_id: str) -> OccurrenceRow:
    row = ledger_ops.occurrence(session, occurrence_id)
    if row is None:
        ids = session.scalars(select(OccurrenceRow.id)).all()
        hint = suggest(occurrence_id, ids) or ";用 planbell agenda 查看编号,或用通配符,如 'first-topic-study/2026-0*'"
        raise click.BadParameter(f"没有编号为 '{occurrence_id}' 的事项{hint}", param_hint="OCCURRENCE")
    return row


def _chosen(session, ids: tuple[str, ...], item: int | None, before: date | None) -> list[OccurrenceRow]:
    if not ids and item is None:
        raise click.UsageError("请写事项编号(可写多个,可用通配符,如 'first-topic-study/2026-0*'),"
                               "或用 --item N 选出一条要点的全部事项")
    for occurrence_id in ids:
        if not ledger_ops.is_pattern(occurrence_id):
            _exact(session, occurrence_id)
    rows = ledger_ops.matching(session, ids, item, before)
    if not rows:
        filters = [f"第 {item} 条要点" if item is not None else "", f"{before} 之前到期" if before else ""]
        wanted = "、".join(ids) or "全部事项"
        raise click.BadParameter(f"没有符合条件的事项:{wanted}{'(' + ','.join(f for f in filters if f) + ')' if any(filters) else ''}",
                                 param_hint="OCCURRENCE")
    return rows


def _preview(rows: list[OccurrenceRow], today: date) -> None:
    for row in rows[:PREVIEW_LINES]:
        state = "已逾期" if row.status == "open" and row.due < today else STATUS_WORDS.get(row.status, row.status)
        click.echo(f"  {row.id}  {row.title}  截止 {row.due.isoformat()}  {state}")
    if len(rows) > PREVIEW_LINES:
        click.echo(f"  …… 另有 {len(rows) - PREVIEW_LINES} 项")


class Refused(click.ClickException):
    exit_code = EXIT_USAGE


def _bulk(store: Store, now: datetime, ids, item, before, yes: bool, verb: str, apply) -> list[OccurrenceRow] | None:
    """The rows chosen, shown and confirmed when there is more than one, then ``apply(session,
    row)`` to each nobody has acted on yet; one transaction. None: a single id, left to the caller."""
    today = now.astimezone(ZoneInfo(store.where.timezone)).date()
    single = len(ids) == 1 and not ledger_ops.is_pattern(ids[0]) and item is None and before is None
    with store.sessions.begin() as session:
        rows = _chosen(session, ids, item, before)
        if single:
            return None
        todo = [r for r in rows if r.status in UNDECIDED]
        left = len(rows) - len(todo)
        if not todo:
            click.echo(f"符合条件的 {len(rows)} 项都已销号、不需办理或已取消,没有要改的。")
            return []
        click.echo(f"将把以下 {len(todo)} 项记为{verb}:")
        _preview(todo, today)
        if left:
            click.echo(f"(另有 {left} 项已销号、不需办理或已取消,不变)")
        if not yes:
            click.confirm(f"确定要把这 {len(todo)} 项记为{verb}吗?", abort=True)
        for row in todo:
            apply(session, row)
        _withdraw(session, store, todo)
    return todo


def _withdraw(session, store: Store, rows: list[OccurrenceRow]) -> None:
    from daemon.outbox import withdraw_checked_off

    withdraw_checked_off(session, store.schedule.roster, rows)


def _one(store: Store, occurrence_id: str, change):
    """``change(session, row)`` on one occurrence; (the row, what change returned, its status before)."""
    with store.sessions.begin() as session:
        row = _exact(session, occurrence_id)
        before = row.status
        try:
            result = change(session, row)
        except LedgerError as exc:
            raise Refused(str(exc)) from None
        _withdraw(session, store, [row])
    return row, result, before


SELECTION = [
    click.argument("occurrence_ids", metavar="OCCURRENCE...", nargs=-1),
    click.option("--item", type=int, help="只选第 N 条要点的事项(不写编号时即该条的全部事项)"),
    click.option("--before", type=DATE, help="只选此日期之前到期的事项"),
    click.option("--yes", "-y", is_flag=True, help="不再询问,直接办理"),
]


def selection(command):
    for decorate in reversed(SELECTION):
        command = decorate(command)
    return command


@click.command()
@selection
@click.option("--by", help="完成人(名册中的 id 或姓名)")
@click.option("--note", help="备注")
@click.option("--evidence", help="佐证材料的链接或存放位置")
@pass_app
def done(app: App, occurrence_ids, item, before, yes, by, note, evidence) -> None:
    """销号:把一项或多项工作记为已完成,之后不再提醒。

    \b
    例:planbell done first-topic-study/2026-03 --by 张伟 --note "学习《习近平著作选读》第二卷"
        planbell done 'party-cell-meeting/2026-0*' --before 2026-07-01 --yes
    """
    now = clock.now()
    store = Store(app, now)
    chosen = person_id(store.schedule.roster, by, "--by") if by else None

    def apply(session, row):
        return ledger_ops.check_off(session, row, now, actor(chosen), chosen, note, evidence)

    changed = _bulk(store, now, occurrence_ids, item, before, yes, "已完成", apply)
    if changed is not None:
        if changed:
            click.echo(f"已销号 {len(changed)} 项。")
        return
    occurrence_id = occurrence_ids[0]
    row, changed_one, before = _one(store, occurrence_id, apply)
    local = row.done_at.astimezone(ZoneInfo(app.where.timezone)).date()
    late = (local - row.due).days
    when = "上线前到期,补记" if before == "prelive" else f"逾期 {late} 天" if late > 0 else "按期完成"
    prefix = "已销号" if changed_one else "此前已销号"
    from daemon.words import cn_date

    click.echo(f"{prefix}:{row.title}({occurrence_id}),截止 {cn_date(row.due)},{when}。")


@click.command()
@selection
@click.option("--reason", required=True, help="不办理的原因(记入台账)")
@pass_app
def skip(app: App, occurrence_ids, item, before, yes, reason) -> None:
    """记为不需办理(如因故取消),写明原因,之后不再提醒。

    \b
    例:planbell skip joint-research/2026-Q1 --reason "省级联合调研本季度暂停"
        planbell skip 'monthly-reading-exchange/2026-0*' --before 2026-11-01 --reason 上线前已完成 --yes
    """
    now = clock.now()
    store = Store(app, now)

    def apply(session, row):
        ledger_ops.skip(session, row, now, actor(None), reason)

    changed = _bulk(store, now, occurrence_ids, item, before, yes, "不需办理", apply)
    if changed is not None:
        if changed:
            click.echo(f"已记为不需办理 {len(changed)} 项,原因:{reason}")
        return
    row, _, _ = _one(store, occurrence_ids[0], apply)
    click.echo(f"已记为不需办理:{row.title}({row.id}),原因:{reason}")


@click.command()
@click.argument("occurrence_id", metavar="OCCURRENCE")
@pass_app
def reopen(app: App, occurrence_id) -> None:
    """撤销销号或“不需办理”,重新开始提醒。

    \b
    例:planbell reopen first-topic-study/2026-03
    """
    now = clock.now()
    store = Store(app, now)
    with store.sessions.begin() as session:
        row = _exact(session, occurrence_id)
        try:
            changed = ledger_ops.reopen(session, row, now, actor(None))
        except LedgerError as exc:
            raise Refused(str(exc)) from None
    store.replan(now)  # its reminders come back, or go-live says it is not owed
    click.echo(f"{'已重新打开' if changed else '本来就是未完成状态'}:{row.title}({occurrence_id})")
