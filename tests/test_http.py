"""The operator endpoints (/healthz, /metrics) of the workbench app, over a real HTTP server on
127.0.0.1, and JSON logs."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.health import Health
from daemon.links import Links
from daemon.logs import JsonFormatter
from daemon.outbox import enqueue
from daemon.store.db import make_engine, sessions, upgrade
from daemon.store.tables import DeliveryRow, MessageRow
from daemon.web.context import Workbench
from daemon.web.server import WebServer
from tests.clirun import bundled_schedule

NOW = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    upgrade(engine)
    made = sessions(engine)
    with made.begin() as session:
        for i, (channel, kind, status) in enumerate([
            ("email", "reminder", "sent"), ("email", "reminder", "sent"), ("email", "digest", "sent"),
            ("wecom", "reminder", "failed"), ("email", "reminder", "pending"), ("email", "reminder", "pending"),
        ]):
            send_at = NOW - timedelta(minutes=10 * (i + 1))
            enqueue(session, key=f"k{i}", kind=kind, person="p", channel=channel, send_at=send_at,
                    content={}, now=send_at)
            row = session.query(MessageRow).filter_by(key=f"k{i}").one()
            row.status = status
            if channel == "wecom":
                session.flush()
                session.add(DeliveryRow(message_id=row.id, started_at=send_at, duration_ms=5,
                                        outcome="retry", error="45009"))
    return made


def health(store, *, alive=True, tick=NOW, now=NOW) -> Health:
    return Health(store, lambda: now, lambda: alive, lambda: tick, lambda: "abc123", lambda: 2)


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as answer:
        return answer.code, answer.headers["Content-Type"], answer.read().decode()


def test_metrics_count_messages_by_channel_kind_and_outcome(store):
    text = health(store).metrics()
    assert 'planbell_messages_sent_total{channel="email",kind="reminder"} 2' in text
    assert 'planbell_messages_sent_total{channel="email",kind="digest"} 1' in text
    assert 'planbell_messages_failed_total{channel="wecom",kind="reminder"} 1' in text
    assert 'planbell_messages_retried_total{channel="wecom",kind="reminder"} 1' in text
    assert "planbell_outbox_depth 2" in text
    # the oldest pending row was due 60 minutes before NOW
    assert "planbell_outbox_oldest_pending_seconds 3600" in text
    assert 'planbell_schedule_info{version="abc123"} 1' in text
    assert "planbell_reload_errors_total 2" in text
    for line in text.splitlines():  # Prometheus text format: comments or "name{labels} value"
        assert line.startswith("# ") or len(line.rsplit(" ", 1)) == 2


def test_healthz_is_ok_while_the_scheduler_ticks_and_the_database_answers(store):
    status, body = health(store).healthz()
    assert status == 200 and body["status"] == "ok" and body["database"] == "ok"


def test_healthz_fails_when_the_scheduler_stalls(store):
    status, body = health(store, tick=NOW - timedelta(minutes=10)).healthz()
    assert status == 503 and body["scheduler"] == "stalled"
    assert health(store, alive=False).healthz()[0] == 503


def test_healthz_fails_when_the_database_is_gone(tmp_path):
    (tmp_path / "gone.db").mkdir()  # a directory where the database file should be: cannot open
    broken = sessions(make_engine(f"sqlite:///{tmp_path / 'gone.db'}"))
    status, body = health(broken).healthz()
    assert status == 503 and body["database"].startswith("unreachable")


def test_endpoint_serves_both_paths_on_loopback(store):
    bench = Workbench(sessions=store, schedule=bundled_schedule, links=Links(b"k" * 32, "http://127.0.0.1"),
                      clock=lambda: NOW, health=health(store))
    server = WebServer(bench, "127.0.0.1", 0)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        status, kind, body = get(base + "/healthz")
        assert status == 200 and kind.startswith("application/json") and json.loads(body)["status"] == "ok"
        status, kind, body = get(base + "/metrics")
        assert status == 200 and kind.startswith("text/plain; version=0.0.4") and "planbell_outbox_depth" in body
        status, kind, body = get(base + "/nope")
        assert status == 404 and kind.startswith("text/html") and "页面不存在" in body
    finally:
        server.stop()


def test_json_log_lines_are_one_object_each():
    record = logging.LogRecord("planbell.dispatch", logging.INFO, __file__, 1, "%s email %s OK", ("a1b2", "张伟@…"), None)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "a1b2 email 张伟@… OK" and entry["level"] == "INFO"
    assert entry["logger"] == "planbell.dispatch" and entry["time"].endswith("+00:00")
