"""Entry point: the command group, shared options and the translation of errors into
Chinese sentences with exit status 2 (never a traceback).

Imports are kept to click here: `--help` and the everyday ledger commands should not pay for
pydantic, YAML or the template engine before they need them.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from daemon.cli import zh
from daemon.plan.errors import ScheduleInvalid

if TYPE_CHECKING:
    from daemon.config import Settings
    from daemon.plan.schedule import Schedule
    from daemon.whereabouts import Whereabouts

zh.install()  # before the decorators below: their help texts are translated as they are made

EXIT_USAGE = 2


def load_schedule(schedules: Path, roster: Path) -> Schedule:
    from daemon.plan.schedule import load_schedule as load

    return load(schedules, roster)


class DateType(click.ParamType):
    name = "日期"

    def convert(self, value, param, ctx):
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"'{value}' 不是有效日期;请写成 YYYY-MM-DD,如 2026-03-25", param, ctx)


DATE = DateType()


class App:
    """What every command needs: settings, and the schedule loaded once."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._where: Whereabouts | Settings | None = None
        self._schedule: Schedule | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from daemon.config import load_settings

            self._settings = load_settings()
        return self._settings

    @property
    def where(self) -> Whereabouts | Settings:
        """Where the files and the database are, the zone and go-live: read without pydantic
        when they can be (daemon.whereabouts), else from the full, validated settings."""
        if self._where is None:
            from daemon.whereabouts import read

            self._where = read() or self.settings
        return self._where

    def schedule(self) -> Schedule:
        if self._schedule is None:
            where = self.where
            self.use_schedule(load_schedule(Path(where.schedules), Path(where.roster)))
        return self._schedule

    def use_schedule(self, schedule: Schedule) -> None:
        """Act on ``schedule`` (the files', or the last good one the database keeps)."""
        self._schedule = schedule
        for warning in schedule.warnings:
            click.echo(f"注意:{warning}", err=True)


pass_app = click.make_pass_decorator(App, ensure=True)

# Commands are imported when used: `validate` should not pay for SQLAlchemy and APScheduler.
COMMANDS = {
    "validate": "daemon.cli.plan_commands:validate",
    "agenda": "daemon.cli.plan_commands:agenda",
    "targets": "daemon.cli.plan_commands:targets",
    "coverage": "daemon.cli.plan_commands:coverage",
    "ics": "daemon.cli.plan_commands:ics",
    "run": "daemon.cli.run_command:run",
    "simulate": "daemon.cli.store_commands:simulate",
    "done": "daemon.cli.checkoff_commands:done",
    "skip": "daemon.cli.checkoff_commands:skip",
    "reopen": "daemon.cli.checkoff_commands:reopen",
    "event": "daemon.cli.store_commands:event",
    "progress": "daemon.cli.store_commands:progress",
    "ledger": "daemon.cli.ledger_command:ledger",
    "status": "daemon.cli.store_commands:status",
    "db": "daemon.cli.store_commands:db",
    "feed": "daemon.cli.feed_command:feed",
    "draft": "daemon.cli.draft_command:draft",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx, name):
        if name in COMMANDS:
            module, attr = COMMANDS[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter) -> None:
        """The command list of `planbell --help`, each with the first line of its docstring
        read from the source: importing every command module to ask would take a second."""
        rows = [(name, short_help(COMMANDS[name])) for name in sorted(COMMANDS)]
        with formatter.section(zh.gettext("Commands")):
            formatter.write_dl(rows)


def short_help(target: str) -> str:
    module, attr = target.split(":")
    source = Path(importlib.util.find_spec(module).origin).read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == attr:
            return (ast.get_docstring(node) or "").split("\n")[0]
    return ""


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="planbell", message="planbell %(version)s")
def cli() -> None:
    """planbell:把年度工作要点变成不会被忘记的提醒。

    \b
    常用命令:
      planbell validate schedules/           检查日程文件
      planbell agenda --from 2026-03-01 --to 2026-03-31
      planbell ics --from 2026-01-01 --to 2026-12-31 --out 2026.ics
      planbell run                           启动服务
      planbell draft 要点.docx --out drafts/plan-2027.yaml  从新要点起草日程

    设置来自环境变量(PLANBELL_ 开头)或当前目录的 .env 文件。
    """


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="planbell", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("已取消。", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        click.echo(f"错误:{usage_message(exc)}", err=True)
        command = exc.ctx.command_path if exc.ctx else "planbell"
        click.echo(f"用法见:{command} --help", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        click.echo(f"错误:{exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except ScheduleInvalid as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        click.echo(f"日程有 {len(exc.errors)} 处错误,未加载;请按上面的提示修改后重试。", err=True)
        sys.exit(EXIT_USAGE)
    except Exception as exc:
        # A ConfigError can only come from daemon.config once it is imported.
        config = sys.modules.get("daemon.config")
        if config is None or not isinstance(exc, config.ConfigError):
            raise
        click.echo(str(exc), err=True)
        sys.exit(EXIT_USAGE)


def usage_message(exc: click.UsageError) -> str:
    """click's English usage errors, said in Chinese."""
    from daemon.plan.hints import suggest

    if isinstance(exc, click.NoSuchOption):
        hint = suggest(exc.option_name, exc.possibilities or []) if exc.possibilities else ""
        return f"没有选项 {exc.option_name}{hint}"
    if isinstance(exc, click.MissingParameter):
        name = exc.param.opts[0] if exc.param and getattr(exc.param, "opts", None) else (exc.param_hint or "")
        return f"缺少参数 {name}"
    if isinstance(exc, click.BadParameter):
        name = exc.param.opts[0] if exc.param and getattr(exc.param, "opts", None) else (exc.param_hint or "")
        return f"{name} 的值有误:{exc.message}"
    return exc.format_message()  # in Chinese already (daemon.cli.zh)
