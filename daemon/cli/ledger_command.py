"""`planbell ledger`: the year's 台账 (every occurrence and its outcome, every target's
progress) as csv, xlsx or json for the year-end assessment."""

from __future__ import annotations

import errno
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from daemon import clock
from daemon.cli.main import EXIT_USAGE, App, pass_app
from daemon.cli.store import Store
from daemon.config import workbench_url
from daemon.ledger_export import FORMATS, build, ledger_years, write
from daemon.plan.hints import listing, suggest


class YearType(click.ParamType):
    name = "年度"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if not (text.isdigit() and len(text) == 4):
            self.fail(f"'{value}' 不是年度;请写四位数字,如 2026", param, ctx)
        return int(text)


class Unwritable(click.ClickException):
    exit_code = EXIT_USAGE


_WHY = {
    errno.EACCES: "没有写入权限", errno.EPERM: "没有写入权限", errno.ENOENT: "所在目录不存在",
    errno.EISDIR: "这是一个目录", errno.EROFS: "文件系统只读", errno.ENOSPC: "磁盘空间不足",
    errno.ENOTDIR: "路径中有一段不是目录",
}


def _unwritable(out: Path, why: str) -> Unwritable:
    return Unwritable(f"无法写入 {out}:{why};请换一个 --out 路径")


@click.command()
@click.option("--year", type=YearType(), required=True, help="年度,如 2026")
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="csv、xlsx 或 json;默认按 --out 的扩展名")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="输出文件")
@pass_app
def ledger(app: App, year: int, fmt: str | None, out: Path) -> None:
    """导出年度台账(供年终考核):每项工作的完成情况和各项指标的进度。

    \b
    xlsx:两张工作表“台账”和“指标进度”。
    csv :UTF-8(带 BOM,Excel 可直接打开);指标进度另存为同名的 -targets.csv。
    json:{"occurrences": [...], "targets": [...]},字段为英文,状态另附中文 status_cn。
    例:planbell ledger --year 2026 --out 台账2026.xlsx
        planbell ledger --year 2026 --format csv --out 台账2026.csv
    """
    fmt = fmt or out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise click.BadParameter(f"无法从扩展名判断格式;请加 --format {'|'.join(FORMATS)}", param_hint="--format")
    if out.is_dir():
        raise _unwritable(out, "这是一个目录")
    if not out.resolve().parent.is_dir():
        raise _unwritable(out, "所在目录不存在")

    now = clock.now()
    zone = ZoneInfo(app.where.timezone)
    store = Store(app, now)
    with store.sessions() as session:
        years = ledger_years(session, store.schedule)
        if year not in years:
            hint = suggest(str(year), [str(y) for y in years]) or f";可导出的年度:{listing(years)}"
            raise click.BadParameter(f"没有 {year} 年的日程或台账{hint}", param_hint="--year")
        result = build(session, store.schedule, year, now.astimezone(zone).date(), zone, workbench_url(app.settings))
    try:
        files = write(result, fmt, out)
    except OSError as exc:
        raise _unwritable(out, _WHY.get(exc.errno, exc.strerror or str(exc))) from None

    counts = result.counts()
    click.echo(f"{year} 年台账:{len(result.lines)} 项,已完成 {counts['done']},已逾期 {counts['overdue']},"
               f"未完成 {counts['open']},不需办理 {counts['skipped']},已取消 {counts['cancelled']},"
               f"上线前 {counts['prelive']};"
               f"指标 {len(result.targets)} 项。")
    for file in files:
        click.echo(f"已写入 {file}")
