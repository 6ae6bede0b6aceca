"""The operator's window: what /healthz and /metrics (Prometheus text format) say; the
workbench app serves them (daemon/web/ops_pages.py).

Figures are read from the database at scrape time, so every instance reports the shared
truth (and a restart loses no counter); only reload errors are counted in the process.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select, text

from daemon.store.state import get_state
from daemon.store.tables import DeliveryRow, MessageRow

# The scheduler's safety sweep runs every minute; three missed sweeps mean it is stuck.
STALE_AFTER = timedelta(minutes=3)


class Health:
    """What the handler needs from the running service, behind plain callables (testable)."""

    def __init__(self, sessions, clock: Callable[[], datetime], scheduler_alive: Callable[[], bool],
                 last_tick: Callable[[], datetime | None], schedule_version: Callable[[], str],
                 reload_errors: Callable[[], int]):
        self.sessions = sessions
        self.clock = clock
        self.scheduler_alive = scheduler_alive
        self.last_tick = last_tick
        self.schedule_version = schedule_version
        self.reload_errors = reload_errors

    def healthz(self) -> tuple[int, dict]:
        now = self.clock()
        body: dict = {"scheduler": "ok", "database": "ok", "schedule_version": self.schedule_version()}
        healthy = True
        tick = self.last_tick()
        if not self.scheduler_alive() or tick is None or now - tick > STALE_AFTER:
            body["scheduler"] = "stalled"
            healthy = False
        body["last_tick"] = tick.isoformat() if tick else None
        try:
            with self.sessions() as session:
                session.execute(text("SELECT 1"))
                state = get_state(session)
            body["last_dispatch_at"] = state["last_dispatch_at"].value if "last_dispatch_at" in state else None
        except Exception as exc:  # the endpoint reports a broken database, it does not break
            body["database"] = f"unreachable: {type(exc).__name__}"
            healthy = False
        body["status"] = "ok" if healthy else "fail"
        return (200 if healthy else 503), body

    def metrics(self) -> str:
        now = self.clock()
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, samples: list[tuple[dict, float]]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in samples:
                label_text = ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(labels.items()))
                lines.append(f"{name}{{{label_text}}} {value:g}" if label_text else f"{name} {value:g}")

        with self.sessions() as session:
            by_status = session.execute(select(MessageRow.channel, MessageRow.kind, MessageRow.status, func.count())
                                        .group_by(MessageRow.channel, MessageRow.kind, MessageRow.status)).all()
            retried = session.execute(select(MessageRow.channel, MessageRow.kind, func.count())
                                      .join(DeliveryRow, DeliveryRow.message_id == MessageRow.id)
                                      .where(DeliveryRow.outcome == "retry")
                                      .group_by(MessageRow.channel, MessageRow.kind)).all()
            oldest = session.scalar(select(func.min(MessageRow.next_attempt_at)).where(
                MessageRow.status == "pending", MessageRow.next_attempt_at <= now))
            depth = session.scalar(select(func.count()).select_from(MessageRow).where(
                MessageRow.status.in_(("pending", "sending")), MessageRow.next_attempt_at <= now))
        for status, name, help_text in (("sent", "planbell_messages_sent_total", "Messages delivered."),
                                        ("failed", "planbell_messages_failed_total", "Messages given up on.")):
            metric(name, "counter", help_text,
                   [({"channel": c, "kind": k}, n) for c, k, s, n in by_status if s == status])
        metric("planbell_messages_retried_total", "counter", "Delivery attempts that will be retried.",
               [({"channel": c, "kind": k}, n) for c, k, n in retried])
        metric("planbell_outbox_depth", "gauge", "Messages due now and not yet sent.", [({}, depth or 0)])
        age = (now - oldest).total_seconds() if oldest else 0
        metric("planbell_outbox_oldest_pending_seconds", "gauge", "Age of the oldest due, unsent message.",
               [({}, max(age, 0))])
        metric("planbell_schedule_info", "gauge", "The running schedule version.",
               [({"version": self.schedule_version()}, 1)])
        metric("planbell_reload_errors_total", "counter", "Schedule edits refused since start.",
               [({}, self.reload_errors())])
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
