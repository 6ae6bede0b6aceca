"""Commands that work on the database: event, progress, status, db, simulate (done, skip and
reopen are in checkoff_commands)."""

from __future__ import annotations

import getpass
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from daemon import clock, defaults
from daemon import ledger as ledger_ops
from daemon.cli.main import DATE, EXIT_USAGE, App, pass_app
from daemon.cli.people import person_id
from daemon.cli.store import Store
from daemon.cli.table import table
from daemon.ledger import LedgerError
from daemon.plan.errors import ScheduleInvalid
from daemon.plan.hints import suggest
from daemon.plan.model import Cadence
from daemon.store.db import DatabaseUrlError, make_engine, upgrade
from daemon.store.state import get_state
from daemon.store.tables import MessageRow, OccurrenceRow


def _actor(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


def _fail(exc: LedgerError) -> None:
    click.echo(f"错误:{exc}", err=True)
    sys.exit(EXIT_USAGE)


@click.command()
@click.argument("obligation")
@click.option("--date", "on", type=DATE, required=True, help="事件日期(如重大文稿起草开始的日期)")
@click.option("--title", help="这次事件是什么(同一天可登记多次,各写一个标题),如 “《政府工作报告》起草”")
@click.option("--by", help="记录人(名册中的 id 或姓名)")
@pass_app
def event(app: App, obligation, on, title, by) -> None:
    """启动一项“按事件”职责,如重大文稿起草前的政治纪律交底。

    \b
    例:planbell event political-discipline-briefing --date 2026-03-10 --title "《政府工作报告》起草"
    同一天的第二件事另写一个标题,各成一项待办。
    """
    from daemon.words import cn_date

    now = clock.now()
    store = Store(app, now)
    schedule = store.schedule
    by = person_id(schedule.roster, by, "--by") if by else None
    plans = [p for p in schedule.plans if p.year == on.year]
    per_event = [o.id for p in plans for o in p.obligations if o.every == Cadence.PER_EVENT]
    if obligation not in per_event:
        hint = suggest(obligation, per_event) or (f";按事件的职责有:{', '.join(per_event)}" if per_event else f";{on.year} 年的日程没有按事件的职责")
        raise click.BadParameter(f"'{obligation}' 不是 {on.year} 年按事件(per-event)的职责{hint}", param_hint="OBLIGATION")
    title = " ".join(title.split()) if title else None
    if title is not None and not 0 < len(title) <= defaults.EVENT_TITLE_CHARS:
        raise click.BadParameter(f"标题要有内容,最多 {defaults.EVENT_TITLE_CHARS} 字(现在 {len(title)} 字)", param_hint="--title")
    with store.sessions.begin() as session:
        added = ledger_ops.record_event(session, obligation, on, now, _actor(by), title)
        seq = ledger_ops.event_number(session, obligation, on, title)
    store.replan(now)
    label = on.isoformat() if seq == 1 else f"{on.isoformat()}.{seq}"
    with store.sessions() as session:
        rows = session.scalars(select(OccurrenceRow).where(
            OccurrenceRow.obligation == obligation, OccurrenceRow.period == label)).all()
    if not added:
        click.echo(f"{on} 的这次事件{f'“{title}”' if title else ''}此前已记录。")
    for row in rows:
        click.echo(f"已登记:{row.title}({row.id}),截止 {cn_date(row.due)}。")


# -3 is an amount, not an option: unknown "options" reach the arguments.
@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("target_id", metavar="TARGET")
@click.argument("amount", metavar="(+N|-N|=N)")
@click.option("--year", type=int, help="指标所属年度,默认今年")
@click.option("--note", help="备注,如本次完成的内容")
@click.option("--by", help="填报人(名册中的 id 或姓名)")
@pass_app
def progress(app: App, target_id, amount, year, note, by) -> None:
    """填报指标进度:+N 表示新增,-N 表示更正(减去),=N 表示累计改为 N。

    \b
    例:planbell progress manuscripts-reviewed +12 --note "3月第2周审核文稿"
        planbell progress manuscripts-reviewed -3 --note "重复计数更正"
        planbell progress complaint-closure-rate =96.5
    """
    from daemon.progress import parse_amount

    parsed = parse_amount(amount)
    if parsed is None:
        raise click.BadParameter(f"'{amount}' 不是进度;请写 +12(新增)、-3(减去)或 =120(累计)", param_hint="(+N|-N|=N)")
    mode, value = parsed
    now = clock.now()
    store = Store(app, now)
    schedule = store.schedule
    by = person_id(schedule.roster, by, "--by") if by else None
    year = year or now.astimezone(ZoneInfo(app.where.timezone)).year
    targets = {t.id: t for p in schedule.plans if p.year == year for t in p.targets}
    target = targets.get(target_id)
    if target is None:
        raise click.BadParameter(f"{year} 年的日程没有指标 '{target_id}'{suggest(target_id, targets) or ';用 planbell targets 查看'}", param_hint="TARGET")
    if target.per and (by is None or by not in {p.id for p in schedule.roster.with_role(target.per)}):
        holders = schedule.plans[0].role_name(target.per) if schedule.plans else target.per
        raise click.BadParameter(f"“{target.title}”按人计({holders}每人各有自己的进度);请用 --by 写明是谁的进度"
                                 f"{'' if by is None else f',且此人须担任{holders}'}", param_hint="--by")
    from daemon.progress import record_progress, requirement_words

    today = now.astimezone(ZoneInfo(app.where.timezone)).date()
    whose = by if target.per else None
    with store.sessions.begin() as session:
        try:
            total = record_progress(session, target, year, mode, value, note, now, _actor(by), whose, today)
        except LedgerError as exc:
            _fail(exc)
        reported = ledger_ops.close_reports(session, target.id, year, today, now, _actor(by), by, whose)
        if reported:
            from daemon.outbox import withdraw

            withdraw(session, set(reported), {whose} if whose else {p.id for p in schedule.roster.with_role(target.owner)})
    share = f"({total / target.value:.0%})" if target.value else ""
    whose_words = f"{schedule.roster.person(whose).name}的" if whose else ""
    click.echo(f"{target.title}:{whose_words}累计 {total:g} {target.unit},目标{requirement_words(target)} {target.value:g} {target.unit}{share}")
    for occurrence_id in reported:
        click.echo(f"已销号进度报送:{occurrence_id}")


@click.command()
@pass_app
def status(app: App) -> None:
    """服务状态:下次唤醒、待发/失败消息、最近的错误、日程版本。"""
    from daemon.outbox import next_wake

    now = clock.now()
    try:
        store = Store(app, now)
        broken = store.broken
    except ScheduleInvalid as exc:  # show the state anyway: this is when status is needed most
        store, broken = Store(app, now, sync=False), exc
    zone = ZoneInfo(app.where.timezone)
    with store.sessions() as session:
        counts = dict(session.execute(select(MessageRow.status, func.count()).group_by(MessageRow.status)).all())
        prelive = session.scalar(select(func.count()).select_from(OccurrenceRow).where(OccurrenceRow.status == "prelive"))
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
        ["上线日期", f"{state['go_live'].value}(此前到期的 {prelive} 项记为上线前,不提醒)" if "go_live" in state else "尚未运行"],
    ]
    click.echo(table(["项目", "状态"], rows))
    reload_error = state.get("last_reload_error")
    if broken is not None and store.broken is None:  # (the Store has already named them)
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
        # The scratch database goes live on the first simulated day, as a new install would.
        settings = settings.model_copy(update={"database_url": f"sqlite:///{scratch.name}/simulate.db",
                                               "go_live": start})
        notifiers = {"email": MaildirNotifier(out, settings.mail_from)}
    service = Service(settings, notifiers, instance="simulate")
    # A year takes many seconds: a bar on a terminal (click draws none into a pipe or a file).
    with click.progressbar(length=(end - start).days + 1, label="模拟中", file=sys.stderr,
                           show_pos=True) as bar:
        reached = [start - timedelta(days=1)]

        def on_day(day) -> None:
            bar.update((day - reached[0]).days)
            reached[0] = max(day, reached[0])

        result = run_simulation(service, start, end, settings.timezone, go_live=not deliver, on_day=on_day)
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
