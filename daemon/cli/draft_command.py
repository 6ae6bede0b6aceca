"""`planbell draft`: a schedule drafted from the text of a new plan, for the admin to review."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from daemon.cli.main import EXIT_USAGE
from daemon.draft import DraftInputError, draft_plan


class DraftRefused(click.ClickException):
    exit_code = EXIT_USAGE


@click.command()
@click.argument("plan", type=click.Path(path_type=Path))
@click.option("--like", "like", type=click.Path(path_type=Path), metavar="去年的日程.yaml",
              help="沿用去年日程里对应条款的 id、标题、责任人、完成日、提醒、升级和注释")
@click.option("--out", "out", type=click.Path(path_type=Path), metavar="文件",
              help="写入这个日程文件(不给则打印到屏幕)")
@click.option("--force", is_flag=True, help="--out 的文件已存在时覆盖它")
def draft(plan: Path, like: Path | None, out: Path | None, force: bool) -> None:
    """从工作要点原文(.txt / .docx / 带文字层的 PDF)起草日程,供逐条核对。

    \b
    例:planbell draft 2027年工作要点.docx --like schedules/plan-2026.yaml --out drafts/2027/plan-2027.yaml
    核对与上线的步骤见 docs/schedule-guide.zh.md「每年新要点下发后」。
    """
    if like is not None and not like.is_file():
        raise DraftRefused(f"找不到去年的日程 {like};请检查 --like 的路径(未写出任何文件)")
    if out is not None and out.exists() and not force:
        raise DraftRefused(f"{out} 已存在,不会覆盖;请换一个文件名,或确认后加 --force 覆盖")
    try:
        result = draft_plan(plan, out, like)
    except DraftInputError as exc:
        raise DraftRefused(f"{exc}(未写出任何文件)") from None
    if result.document_file is not None:
        existing = _read(result.document_file)
        if existing is not None and existing != result.document_text and not force:
            raise DraftRefused(f"{result.document_file} 已存在且内容不同,不会覆盖;请移走它,或确认后加 --force 覆盖(未写出任何文件)")
    if out is None:
        click.echo(result.yaml, nl=False)
    else:
        if result.document_file is not None:
            _write(result.document_file, result.document_text)
        _write(out, result.yaml)
    _summary(result, out)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return "" if path.exists() else None


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a half-written schedule would be worse than none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _summary(result, out: Path | None) -> None:
    draft = result.draft
    unsure = result.yaml.count("# 待确认")
    unread = result.yaml.count("# 未识别:")
    echo = lambda text: click.echo(text, err=True)  # noqa: E731 - the summary goes beside the YAML, not into it
    where = f"已写出 {out}" if out else "以上为起草的日程"
    if result.document_file is not None:
        where += f"(原文文本另存为 {result.document_file},validate 据此核对原句)"
    echo(f"{where}:{len(draft.items)} 个条目,{result.yaml.count('- id:')} 项职责和指标;"
         f"待确认 {unsure} 处,未识别 {unread} 句。")
    changes = result.changes
    if changes is not None:
        echo(f"与去年对照:{changes.matched} 项沿用去年的设置。")
        for title, lines, mark in (
            ("新增", changes.new, "+"), ("有变化", changes.changed, "~"),
            ("今年要点中已找不到(未写入)", changes.gone, "-"),
            ("草稿语法未读出、照去年保留", changes.kept, "="),
            ("去年同句未列入、照去年不列", changes.declined, "·"),
        ):
            if lines:
                echo(f"{title} {len(lines)} 项:")
                for line in lines:
                    echo(f"  {mark} {line}")
    target = out or "日程文件"
    echo(f"下一步:逐条核对“待确认”和“未识别”,然后 planbell validate {target}")
