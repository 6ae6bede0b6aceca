"""The everyday commands answer fast: no sync while the schedule is the version last synced,
no migration run while the database is at head, nothing imported that the command does not
use. And click's own words (help, usage errors) are in Chinese.

Timing itself is `bench/cli.py`'s job (a machine under load makes seconds meaningless here);
these tests pin what makes the commands fast.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

from freezegun import freeze_time
from sqlalchemy import create_engine, delete, select
from sqlalchemy.orm import Session

from daemon.store.db import at_head, head_revisions, make_engine, upgrade
from daemon.store.tables import OccurrenceRow
from tests.clirun import ROOT, SCHEDULES, planbell_env, run_cli

STUDY = "first-topic-study/2026-12"


def test_head_read_from_the_migration_files_is_alembics_head(tmp_path):
    from alembic.script import ScriptDirectory

    from daemon.store.db import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    assert head_revisions() == frozenset(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    assert not at_head(engine)
    upgrade(engine)
    assert at_head(engine)
    engine.dispose()


@freeze_time("2026-11-27 02:00:00")
def test_commands_sync_only_when_the_schedule_changed(tmp_path):
    schedules = tmp_path / "schedules"
    shutil.copytree(SCHEDULES, schedules)
    roster = schedules / "roster.example.yaml"
    db = f"sqlite:///{tmp_path / 'p.db'}"
    assert run_cli("status", database_url=db, schedules=schedules, roster=roster).code == 0
    engine = create_engine(db)

    def present() -> bool:
        with Session(engine) as session:
            return session.scalar(select(OccurrenceRow).where(OccurrenceRow.id == STUDY)) is not None

    with Session(engine) as session, session.begin():
        session.execute(delete(OccurrenceRow).where(OccurrenceRow.id == STUDY))
    assert run_cli("status", database_url=db, schedules=schedules, roster=roster).code == 0
    assert not present()  # the same version: the command trusted the last sync
    plan = schedules / "plan-2026.yaml"
    plan.write_text(plan.read_text(encoding="utf-8") + "\n# 改了一行注释\n", encoding="utf-8")
    assert run_cli("status", database_url=db, schedules=schedules, roster=roster).code == 0
    assert present()  # a new version: synced again
    engine.dispose()


def imported(*args: str, **settings: str) -> set[str]:
    """The modules `python -m daemon ARGS` imports (from -X importtime)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "daemon", *args], cwd=ROOT,
                          env=planbell_env(**settings), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


def test_help_imports_neither_the_database_nor_settings_nor_yaml():
    modules = imported("--help")
    for heavy in ("sqlalchemy", "pydantic", "yaml", "jinja2", "holidays"):
        assert heavy not in modules, heavy


def test_status_and_done_on_an_unchanged_schedule_parse_no_yaml_and_render_nothing(tmp_path):
    db = f"sqlite:///{tmp_path / 'p.db'}"
    assert run_cli("status", database_url=db).code == 0  # the first sync
    for args in (("status",), ("done", STUDY), ("progress", "manuscripts-reviewed", "+1")):
        modules = imported(*args, database_url=db)
        for heavy in ("pydantic", "yaml", "jinja2", "holidays", "openpyxl", "httpx", "icalendar", "alembic"):
            assert heavy not in modules, (args, heavy)


def test_help_is_in_chinese():
    result = run_cli("--help")
    assert "显示本帮助并退出" in result.out and "Show this message" not in result.out
    assert "用法:" in result.out and "命令:" in result.out
    skip_help = run_cli("skip", "--help").out
    assert "[必填]" in skip_help and "[required]" not in skip_help


def test_usage_errors_are_in_chinese():
    missing = run_cli("event")
    assert missing.code == 2 and "缺少参数" in missing.err and "Missing" not in missing.err
    unknown = run_cli("done", STUDY, "--bye", "x")
    assert unknown.code == 2 and "没有选项 --bye" in unknown.err
    extra = run_cli("status", "extra")
    assert extra.code == 2 and "多余的参数" in extra.err and "Got unexpected" not in extra.err


def test_whereabouts_are_read_as_the_settings_read_them(tmp_path, monkeypatch):
    from daemon.config import load_settings
    from daemon.whereabouts import read

    monkeypatch.chdir(tmp_path)
    for name in [k for k in __import__("os").environ if k.upper().startswith("PLANBELL_")]:
        monkeypatch.delenv(name)
    (tmp_path / ".env").write_text("planbell_schedules=from-dotenv\nPLANBELL_ROSTER=dotenv-roster.yaml\n"
                                   "PLANBELL_TIMEZONE=Asia/Tokyo\n", encoding="utf-8")
    (tmp_path / "url").write_text("sqlite:////tmp/from-a-file.db\n", encoding="utf-8")
    monkeypatch.setenv("PLANBELL_ROSTER", "env-roster.yaml")  # the environment wins over .env
    monkeypatch.setenv("planbell_go_live", "2026-11-30")
    monkeypatch.setenv("PLANBELL_DATABASE_URL_FILE", str(tmp_path / "url"))
    quick, full = read(), load_settings()
    for field in ("schedules", "roster", "database_url", "timezone", "go_live"):
        assert getattr(quick, field) == getattr(full, field), field
    assert str(quick.roster) == "env-roster.yaml" and str(quick.schedules) == "from-dotenv"


def test_a_bad_zone_is_left_to_the_settings_to_name(tmp_path):
    result = run_cli("status", database_url=f"sqlite:///{tmp_path / 'p.db'}", timezone="Mars/Base")
    assert result.code == 2 and "PLANBELL_TIMEZONE" in result.err and "Traceback" not in result.err
