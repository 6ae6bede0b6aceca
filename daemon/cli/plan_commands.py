"""Commands that read the schedule: validate, agenda, targets, coverage, ics."""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from daemon import clock, defaults
from daemon.agenda import as_json, entries, recorded_events
from daemon.cli.main import DATE, EXIT_USAGE, App, pass_app
from daemon.cli.table import table
from daemon.plan.errors import ScheduleInvalid
from daemon.plan.loader import load_plan_file
from daemon.plan.model import WEEKDAY_NAMES
from daemon.plan.roster import load_roster
from daemon.plan.schedule import (
    Schedule,
    branch_errors,
    cross_plan_errors,
    is_roster_file,
    plan_files,
    resolve_roster,
    unstaffed_roles,
)

FORMAT = click.Choice(["table", "json"])


def _today(app: App) -> date:
    return clock.now().astimezone(ZoneInfo(app.settings.timezone)).date()


def _window(app: App, start: date | None, end: date | None) -> tuple[date, date]:
    start = start or _today(app)
    end = end or start + timedelta(days=defaults.AGENDA_DAYS)
    if end < start:
        raise click.BadParameter(f"结束日期 {end} 早于开始日期 {start}", param_hint="--to")
    return start, end


def _person_role(schedule: Schedule, person: str | None, role: str | None) -> tuple[str | None, str | None]:
    """The person's id (given by id or name) and the role's id (given by id or name)."""
    from daemon.cli.people import person_id
    from daemon.plan.loader import unknown_role

    person = person_id(schedule.roster, person, "--person") if person else None
    roles = schedule.roles()
    role = {name: role_id for role_id, name in roles.items()}.get(role, role) if role else None
    if role and role not in roles:
        raise click.BadParameter(unknown_role(role, roles), param_hint="--role")
    return person, role


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@pass_app
def validate(app: App, paths: tuple[Path, ...]) -> None:
    """检查日程和名册文件;有错则逐条列出(文件:行号)并以状态 2 退出。

    \b
    不给路径时检查 PLANBELL_SCHEDULES 和 PLANBELL_ROSTER。
    例:planbell validate
        planbell validate schedules/plan-2026.yaml schedules/roster.example.yaml
    """
    configured = None
    if not paths:
        # The configured roster is the roster whatever its name (PLANBELL_ROSTER=people.yaml).
        configured = resolve_roster(Path(app.settings.roster))
        paths = (Path(app.settings.schedules), configured)
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise click.BadParameter(f"找不到 {missing[0]};请检查路径", param_hint="PATHS")
    files = plan_files(list(paths), configured)

    def is_roster(path: Path) -> bool:
        return is_roster_file(path) or path == configured

    rosters = [p for p in files if is_roster(p)]
    rosters += [p / n for p in paths if p.is_dir() for n in ("roster.yaml", "roster.example.yaml") if (p / n).exists()]
    errors, plans = [], []
    for file in (f for f in files if not is_roster(f)):
        try:
            plan, warnings = load_plan_file(file)
        except ScheduleInvalid as exc:
            errors.extend(exc.errors)
            continue
        plans.append(plan)
        for warning in warnings:
            click.echo(f"注意:{warning}", err=True)
        click.echo(f"✓ {file}:{plan.title},{len(plan.obligations)} 项职责,{len(plan.targets)} 项指标")
    errors.extend(cross_plan_errors(plans))
    roles = {k: v for p in plans for k, v in p.roles.items()} or None
    for file in dict.fromkeys(rosters):
        try:
            roster = load_roster(file, roles)
        except ScheduleInvalid as exc:
            errors.extend(exc.errors)
            continue
        found = branch_errors(plans, roster)
        if found:
            errors.extend(found)
            continue
        click.echo(f"✓ {file}:{len(roster.people)} 人" + (f",{len(roster.branches)} 个支部" if roster.branched else ""))
        for warning in unstaffed_roles(plans, roster):
            click.echo(f"注意:{warning}", err=True)
    if errors:
        raise ScheduleInvalid(errors)


@click.command()
@click.option("--from", "start", type=DATE, help="开始日期(含),默认今天")
@click.option("--to", "end", type=DATE, help=f"结束日期(含),默认开始后 {defaults.AGENDA_DAYS} 天")
@click.option("--person", help="只看某人(名册中的 id 或姓名)")
@click.option("--role", help="只看某个角色负责或参与的(id 或名称)")
@click.option("--format", "fmt", type=FORMAT, default="table", show_default=True)
@pass_app
def agenda(app: App, start, end, person, role, fmt) -> None:
    """列出一段时间内到期的事项。

    \b
    例:planbell agenda --from 2026-03-01 --to 2026-03-31
        planbell agenda --from 2026-01-01 --to 2026-12-31 --person li-na --format json
    """
    start, end = _window(app, start, end)
    schedule = app.schedule()
    person, role = _person_role(schedule, person, role)
    found = entries(schedule, start, end, person=person, role=role, events=recorded_events(app.settings.database_url))
    if fmt == "json":
        click.echo(json.dumps([as_json(p, o, schedule) for p, o in found], ensure_ascii=False, indent=2))
        return
    names = {p.id: p.name for p in schedule.roster.people}
    rows = []
    for plan, o in found:
        title = ("【进度报送】" if o.kind == "report" else "") + o.title
        if o.subject:
            title += f"({names.get(o.subject, o.subject)})"
        mark = "*" if o.shifted else ""
        rows.append([f"{o.due.isoformat()} {WEEKDAY_NAMES[o.due.weekday()]}{mark}", o.period, str(o.item),
                     title, plan.role_name(o.owner), o.id])
    if not rows:
        click.echo(f"{start} 至 {end} 没有到期的事项。")
        return
    click.echo(table(["截止", "周期", "条目", "事项", "责任", "编号"], rows, {3: 40}))
    click.echo(f"\n共 {len(rows)} 项({start} 至 {end})。")
    if any(o.shifted for _, o in found):
        click.echo("* 原定日期不是工作日,已按规则调整。")


@click.command()
@click.option("--format", "fmt", type=FORMAT, default="table", show_default=True)
@pass_app
def targets(app: App, fmt) -> None:
    """列出年度指标(如 全年审核文稿不少于500篇)。

    \b
    例:planbell targets
        planbell targets --format json
    """
    schedule = app.schedule()
    items = [(plan, t) for plan in schedule.plans for t in plan.targets]
    if fmt == "json":
        click.echo(json.dumps([{
            "id": t.id, "item": t.item, "title": t.title, "source": t.source,
            "comparator": t.comparator.symbol, "value": t.value, "unit": t.unit,
            "period": t.period.value, "owner": t.owner, "report": t.report.value, "plan": plan.title,
        } for plan, t in items], ensure_ascii=False, indent=2))
        return
    rows = [[t.id, str(t.item), t.title, f"{t.comparator.words} {t.value:g} {t.unit}", t.period.value,
             plan.role_name(t.owner)] for plan, t in items]
    click.echo(table(["编号", "条目", "指标", "要求", "周期", "责任"], rows, {2: 36}))


@click.command()
@pass_app
def coverage(app: App) -> None:
    """对照工作要点的各条目,列出每条对应的职责和指标;没有任何对应的条目会被标出(退出状态 1)。"""
    schedule = app.schedule()
    uncovered = 0
    for plan in schedule.plans:
        click.echo(plan.title)
        numbers = sorted(set(plan.items) | {d.item for d in (*plan.obligations, *plan.targets)})
        for number in numbers:
            obligations = [o.id for o in plan.obligations if o.item == number]
            target_ids = [t.id for t in plan.targets if t.item == number]
            flag = "  " if obligations or target_ids else "⚠ "
            uncovered += not (obligations or target_ids)
            click.echo(f"{flag}{number:>2}. {plan.items.get(number, '')}")
            if obligations:
                click.echo(f"      职责 {len(obligations)}:{', '.join(obligations)}")
            if target_ids:
                click.echo(f"      指标 {len(target_ids)}:{', '.join(target_ids)}")
            if not (obligations or target_ids):
                click.echo("      没有任何职责或指标")
    if uncovered:
        click.echo(f"\n有 {uncovered} 个条目没有对应的职责或指标。")
        sys.exit(1)
    click.echo("\n每个条目都有对应的职责或指标。")


@click.command()
@click.option("--from", "start", type=DATE, required=True, help="开始日期(含)")
@click.option("--to", "end", type=DATE, required=True, help="结束日期(含)")
@click.option("--person", help="只导出某人的事项(名册中的 id 或姓名)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="输出的 .ics 文件")
@pass_app
def ics(app: App, start, end, person, out: Path) -> None:
    """导出 iCalendar(.ics)日历,可导入 Outlook、手机日历等。

    \b
    例:planbell ics --from 2026-01-01 --to 2026-12-31 --out 2026.ics
        planbell ics --from 2026-01-01 --to 2026-12-31 --person li-na --out li-na.ics
    """
    from daemon.ics import build_calendar  # icalendar is slow to import; only this command needs it

    start, end = _window(app, start, end)
    schedule = app.schedule()
    person, _ = _person_role(schedule, person, None)
    found = entries(schedule, start, end, person=person, events=recorded_events(app.settings.database_url))
    name = schedule.plans[0].title if len(schedule.plans) == 1 else "planbell"
    if person:
        name += f" · {schedule.roster.person(person).name}"
    data = build_calendar(found, schedule.roster, clock.now(), name, app.settings.timezone)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    except OSError as exc:
        click.echo(f"错误:无法写入 {out}:{exc.strerror or exc}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(f"已写入 {out}:{len(found)} 个事件({start} 至 {end})。")
