"""Commands that work on the database: done, skip, reopen, event, progress, status, db, simulate."""

from __future__ import annotations

import getpass
import re
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from daemon import clock
from daemon import ledger as ledger_ops
from daemon.cli.main import DATE, EXIT_USAGE, App, pass_app
from daemon.cli.table import table
from daemon.config import available_channels
from daemon.digest import digest_settings
from daemon.ledger import LedgerError
from daemon.outbox import next_wake
from daemon.pipeline import refresh
from daemon.plan.errors import ScheduleInvalid
from daemon.plan.fields import suggest
from daemon.plan.model import Cadence
from daemon.render import cn_date
from daemon.store.db import DatabaseUrlError, make_engine, sessions, upgrade
from daemon.store.state import get_state, set_state
from daemon.store.tables import MessageRow, OccurrenceRow


class Store:
    """The database, migrated and synced with the schedule before any command uses it."""

    def __init__(self, app: App, now: datetime, sync: bool = True):
        try:
            self.engine = make_engine(app.settings.database_url)
            upgrade(self.engine)
        except DatabaseUrlError as exc:
            raise click.ClickException(str(exc)) from None
        except OperationalError as exc:
            raise click.ClickException(f"无法连接数据库 {app.settings.database_url}:{exc.orig}") from None
        self.sessions = sessions(self.engine)
        if sync:
            self.schedule = app.schedule()
            self.digests = digest_settings(app.settings)
            self.channels = available_channels(app.settings)
            self.replan(now)

    def replan(self, now: datetime) -> None:
        with self.sessions.begin() as session:
            refresh(session, self.schedule, now, self.digests, self.channels)
            # The database now holds this schedule's expansion: say so, as the service does.
            set_state(session, "schedule_version", self.schedule.version, now)


def _actor(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


def _occurrence(session, occurrence_id: str) -> OccurrenceRow:
    row = ledger_ops.occurrence(session, occurrence_id)
    if row is None:
        ids = session.scalars(select(OccurrenceRow.id)).all()
        hint = suggest(occurrence_id, ids) or ";用 planbell agenda 查看编号"
        raise click.BadParameter(f"没有编号为 '{occurrence_id}' 的事项{hint}", param_hint="OCCURRENCE")
    return row


def _person(app: App, person: str | None) -> str | None:
    if person and not app.schedule().roster.person(person):
        ids = [p.id for p in app.schedule().roster.people]
        raise click.BadParameter(f"名册中没有 '{person}'{suggest(person, ids)}", param_hint="--by")
    return person


def _fail(exc: LedgerError) -> None:
    click.echo(f"错误:{exc}", err=True)
    sys.exit(EXIT_USAGE)


def _change(app: App, now: datetime, occurrence_id: str, change) -> tuple[OccurrenceRow, object]:
    """Apply ``change(session, row)`` to one occurrence, then re-plan its reminders; returns
    the (detached) row and what ``change`` returned."""
    store = Store(app, now)
    with store.sessions.begin() as session:
        row = _occurrence(session, occurrence_id)
        try:
            result = change(session, row)
        except LedgerError as exc:
            _fail(exc)
    store.replan(now)
    return row, result


@click.command()
@click.argument("occurrence_id", metavar="OCCURRENCE")
@click.option("--by", help="完成人(名册中的 id)")
@click.option("--note", help="备注")
@click.option("--evidence", help="佐证材料的链接或存放位置")
@pass_app
def done(app: App, occurrence_id, by, note, evidence) -> None:
    """销号:把一项工作记为已完成,之后不再提醒。

    \b
    例:planbell done first-topic-study/2026-03 --by zhang-wei --note "学习《习近平著作选读》第二卷"
    """
    now = clock.now()
    by = _person(app, by)
    row, changed = _change(app, now, occurrence_id,
                           lambda session, row: ledger_ops.check_off(session, row, now, _actor(by), by, note, evidence))
    title, due, done_at = row.title, row.due, row.done_at
    local = done_at.astimezone(ZoneInfo(app.settings.timezone)).date()
    late = (local - due).days
    when = f"逾期 {late} 天" if late > 0 else "按期完成"
    prefix = "已销号" if changed else "此前已销号"
    click.echo(f"{prefix}:{title}({occurrence_id}),截止 {cn_date(due)},{when}。")


@click.command()
@click.argument("occurrence_id", metavar="OCCURRENCE")
@click.option("--reason", required=True, help="不办理的原因(记入台账)")
@pass_app
def skip(app: App, occurrence_id, reason) -> None:
    """记为不需办理(如因故取消),写明原因,之后不再提醒。

    \b
    例:planbell skip joint-research/2026-Q1 --reason "省级联合调研本季度暂停"
    """
    now = clock.now()
    row, _ = _change(app, now, occurrence_id,
                     lambda session, row: ledger_ops.skip(session, row, now, _actor(None), reason))
    click.echo(f"已记为不需办理:{row.title}({occurrence_id}),原因:{reason}")


@click.command()
@click.argument("occurrence_id", metavar="OCCURRENCE")
@pass_app
def reopen(app: App, occurrence_id) -> None:
    """撤销销号或“不需办理”,重新开始提醒。

    \b
    例:planbell reopen first-topic-study/2026-03
    """
    now = clock.now()
    row, changed = _change(app, now, occurrence_id,
                           lambda session, row: ledger_ops.reopen(session, row, now, _actor(None)))
    click.echo(f"{'已重新打开' if changed else '本来就是未完成状态'}:{row.title}({occurrence_id})")


@click.command()
@click.argument("obligation")
@click.option("--date", "on", type=DATE, required=True, help="事件日期(如重大文稿起草开始的日期)")
@click.option("--by", help="记录人(名册中的 id)")
@pass_app
def event(app: App, obligation, on, by) -> None:
    """启动一项“按事件”职责,如重大文稿起草前的政治纪律交底。

    \b
    例:planbell event political-discipline-briefing --date 2026-03-10
    """
    now = clock.now()
    by = _person(app, by)
    schedule = app.schedule()
    plans = [p for p in schedule.plans if p.year == on.year]
    per_event = [o.id for p in plans for o in p.obligations if o.every == Cadence.PER_EVENT]
    if obligation not in per_event:
        hint = suggest(obligation, per_event) or (f";按事件的职责有:{', '.join(per_event)}" if per_event else f";{on.year} 年的日程没有按事件的职责")
        raise click.BadParameter(f"'{obligation}' 不是 {on.year} 年按事件(per-event)的职责{hint}", param_hint="OBLIGATION")
    store = Store(app, now)
    with store.sessions.begin() as session:
        added = ledger_ops.record_event(session, obligation, on, now, _actor(by))
    store.replan(now)
    with store.sessions() as session:
        rows = session.scalars(select(OccurrenceRow).where(OccurrenceRow.id.like(f"{obligation}/{on.isoformat()}%"))).all()
    if not added:
        click.echo(f"{on} 的这次事件此前已记录。")
    for row in rows:
        click.echo(f"已登记:{row.title}({row.id}),截止 {cn_date(row.due)}。")


_AMOUNT = re.compile(r"^([+=]?)(\d+(?:\.\d+)?)$")


@click.command()
@click.argument("target_id", metavar="TARGET")
@click.argument("amount", metavar="(+N|=N)")
@click.option("--year", type=int, help="指标所属年度,默认今年")
@click.option("--note", help="备注,如本次完成的内容")
@click.option("--by", help="填报人(名册中的 id)")
@pass_app
def progress(app: App, target_id, amount, year, note, by) -> None:
    """填报指标进度:+N 表示新增,=N 表示累计改为 N。

    \b
    例:planbell progress manuscripts-reviewed +12 --note "3月第2周审核文稿"
        planbell progress complaint-closure-rate =96.5
    """
    match = _AMOUNT.match(amount.strip())
    if not match:
        raise click.BadParameter(f"'{amount}' 不是进度;请写 +12(新增)或 =120(累计)", param_hint="(+N|=N)")
    mode, value = match.group(1) or "+", float(match.group(2))
    now = clock.now()
    by = _person(app, by)
    year = year or now.astimezone(ZoneInfo(app.settings.timezone)).year
    schedule = app.schedule()
    targets = {t.id: t for p in schedule.plans if p.year == year for t in p.targets}
    target = targets.get(target_id)
    if target is None:
        raise click.BadParameter(f"{year} 年的日程没有指标 '{target_id}'{suggest(target_id, targets) or ';用 planbell targets 查看'}", param_hint="TARGET")
    store = Store(app, now)
    with store.sessions.begin() as session:
        try:
            total = ledger_ops.record_progress(session, target, year, mode, value, note, now, _actor(by))
        except LedgerError as exc:
            _fail(exc)
        today = now.astimezone(ZoneInfo(app.settings.timezone)).date()
        reported = ledger_ops.close_reports(session, target.id, year, today, now, _actor(by), by)
    store.replan(now)
    share = f"({total / target.value:.0%})" if target.value else ""
    click.echo(f"{target.title}:累计 {total:g} {target.unit},目标{target.comparator.words} {target.value:g} {target.unit}{share}")
    for occurrence_id in reported:
        click.echo(f"已销号进度报送:{occurrence_id}")


@click.command()
@pass_app
def status(app: App) -> None:
    """服务状态:下次唤醒、待发/失败消息、最近的错误、日程版本。"""
    now = clock.now()
    try:
        store, broken = Store(app, now), None
    except ScheduleInvalid as exc:  # show the state anyway: this is when status is needed most
        store, broken = Store(app, now, sync=False), exc
    zone = ZoneInfo(app.settings.timezone)
    with store.sessions() as session:
        counts = dict(session.execute(select(MessageRow.status, func.count()).group_by(MessageRow.status)).all())
        wake = next_wake(session)
        state = get_state(session)
        failed = session.scalars(select(MessageRow).where(MessageRow.status == "failed")
                                 .order_by(MessageRow.id.desc()).limit(5)).all()
        open_count = session.scalar(select(func.count()).select_from(OccurrenceRow).where(OccurrenceRow.status == "open"))
        overdue = session.scalar(select(func.count()).select_from(OccurrenceRow).where(
            OccurrenceRow.status == "open", OccurrenceRow.due < now.astimezone(zone).date()))

    def local(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else "无"

    rows = [
        ["日程版本", state["schedule_version"].value if "schedule_version" in state else "-"],
        ["下次唤醒", local(wake)],
        ["上次发送", local(datetime.fromisoformat(state["last_dispatch_at"].value)) if "last_dispatch_at" in state else "尚未运行"],
        ["待发消息", str(counts.get("pending", 0) + counts.get("sending", 0))],
        ["已发消息", str(counts.get("sent", 0))],
        ["发送失败", str(counts.get("failed", 0))],
        ["过期未发", str(counts.get("expired", 0))],
        ["未完成事项", f"{open_count}(其中逾期 {overdue})"],
    ]
    click.echo(table(["项目", "状态"], rows))
    reload_error = state.get("last_reload_error")
    if broken is not None:
        click.echo(f"\n日程文件现在有 {len(broken.errors)} 处错误(服务仍按上一个正确版本运行):")
        for error in broken.errors:
            click.echo(f"  {error}")
    elif reload_error and reload_error.value:
        click.echo("\n最近一次日程修改未生效:\n" + reload_error.value)
    if failed:
        click.echo("\n最近的发送失败:")
        for row in failed:
            click.echo(f"  {local(row.send_at)} {row.person} {row.channel}:{row.last_error}")


@click.group()
def db() -> None:
    """数据库维护。"""


@db.command("upgrade")
@pass_app
def db_upgrade(app: App) -> None:
    """把数据库结构升级到最新版本(服务启动时也会自动执行)。"""
    try:
        engine = make_engine(app.settings.database_url)
        upgrade(engine)
    except DatabaseUrlError as exc:
        raise click.ClickException(str(exc)) from None
    except OperationalError as exc:
        raise click.ClickException(f"无法连接数据库:{exc.orig}") from None
    click.echo(f"数据库已是最新结构:{engine.url.render_as_string(hide_password=True)}")


@click.command()
@click.option("--from", "start", type=DATE, required=True, help="开始日期")
@click.option("--to", "end", type=DATE, required=True, help="结束日期(含)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("var/simulate"),
              show_default=True, help="模拟邮件写入的 Maildir 目录")
@click.option("--deliver", is_flag=True, help="用配置的数据库和邮件服务器真实发送(用于预发布环境)")
@pass_app
def simulate(app: App, start, end, out: Path, deliver: bool) -> None:
    """在虚拟时钟上运行一段时间的日程,看看会发出哪些提醒。

    \b
    默认使用临时数据库,邮件写入 --out 目录(Maildir),不会真的发给任何人。
    --deliver 则使用配置的数据库和通知渠道;再次运行同一时段只补发未发过的。
    例:planbell simulate --from 2026-01-01 --to 2026-12-31 --out var/sim-2026
        mutt -f var/sim-2026
    """
    from daemon.service import Service
    from daemon.simulate import simulate as run_simulation
    from daemon.store import lock
    from notifiers.factory import all_notifiers
    from notifiers.maildir import MaildirNotifier

    if end < start:
        raise click.BadParameter(f"结束日期 {end} 早于开始日期 {start}", param_hint="--to")
    settings = app.settings
    if deliver:
        try:
            held = lock.acquire(settings.database_url)
        except lock.AlreadyRunning as exc:
            raise click.ClickException(str(exc)) from None
        notifiers = all_notifiers(settings)
    else:
        held = None
        scratch = tempfile.TemporaryDirectory(prefix="planbell-sim-")
        settings = settings.model_copy(update={"database_url": f"sqlite:///{scratch.name}/simulate.db"})
        notifiers = {"email": MaildirNotifier(out, settings.mail_from)}
    service = Service(settings, notifiers, instance="simulate")
    result = run_simulation(service, start, end, settings.timezone, go_live=not deliver)
    service.engine.dispose()
    # On PostgreSQL there is no lock file (``held`` is None): whether a scratch database was
    # made is the --deliver flag's to say, not the lock's.
    if deliver:
        if held is not None:
            held.close()
    else:
        scratch.cleanup()  # the scratch database was only the simulation's
    where = "已按配置真实发送" if deliver else f"邮件在 {out}(Maildir,可用 mutt -f {out} 查看)"
    click.echo(f"模拟 {start} 至 {end}:发送 {result.sent} 封,跳过 {result.skipped} 封(已销号或无内容),"
               f"失败 {result.failed} 封,过期 {result.expired} 封;{where}。")
    if result.by_day:
        busiest = max(result.by_day, key=result.by_day.get)
        click.echo(f"共 {len(result.by_day)} 天有邮件,最多的一天 {busiest}:{result.by_day[busiest]} 封。")
