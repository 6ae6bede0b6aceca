"""The database: the source of truth. Every instant is stored as timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Aware UTC in, aware UTC out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; every instant must be aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict: JSON, list: JSON}


class OccurrenceRow(Base):
    """One occurrence, synced from expansion; its status is the ledger (台账)."""

    __tablename__ = "occurrences"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    obligation: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # duty | report
    plan_year: Mapped[int] = mapped_column(Integer, index=True)
    item: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)
    period: Mapped[str] = mapped_column(String(32))
    opens: Mapped[date]
    due: Mapped[date] = mapped_column(index=True)
    owner: Mapped[str] = mapped_column(String(64))
    assignees: Mapped[list] = mapped_column(default=list)
    lead: Mapped[str | None] = mapped_column(String(64))  # the assignee who leads it (牵头)
    subject: Mapped[str | None] = mapped_column(String(64))
    branch: Mapped[str | None] = mapped_column(String(64))  # its 支部, in a roster of several
    escalate_to: Mapped[str | None] = mapped_column(String(64))
    escalate_after: Mapped[int | None] = mapped_column(Integer)
    remind_days: Mapped[list] = mapped_column(default=list)
    # The day its duty entered the schedule, when that was after the first sync (a duty added
    # mid-year owes only what falls due from then on); None: owed since go-live.
    owed_from: Mapped[date | None]
    # open | done | skipped | cancelled (its obligation left the schedule; history is kept) |
    # prelive (due before go-live or before its duty was added: never owed, never reminded)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class EventRow(Base):
    """A happening of a per-event obligation, started with `planbell event`."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    obligation: Mapped[str] = mapped_column(String(64))
    on: Mapped[date]
    # Several happenings a day, each its own duty: numbered 1, 2 … on their date, with a title.
    seq: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    title: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ux_events_obligation_on_seq", "obligation", "on", "seq", unique=True),)


class MessageRow(Base):
    """The outbox: one message to one person on one channel, with a natural unique key."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # reminder | escalation | digest | admin
    channel: Mapped[str] = mapped_column(String(16))
    person: Mapped[str] = mapped_column(String(64))
    send_at: Mapped[datetime]
    # [{"occurrence": id, "stage": "open|remind-7d|due|overdue-1|escalation"}], or admin text
    content: Mapped[dict] = mapped_column(default=dict)
    # pending | sending | sent | failed | skipped (nothing left to say) | expired | cancelled
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None]
    late: Mapped[bool] = mapped_column(default=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]

    # Every query of the outbox asks for one status and a time: what is due to be sent
    # (pending, next_attempt_at <= now), the next wake, what has expired (pending, send_at <
    # horizon). With the status alone indexed, each claim walked every pending row of the
    # year (350,000 for 3,000 people) to find the hundred due ones.
    __table_args__ = (
        Index("ix_messages_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_messages_status_send_at", "status", "send_at"),
    )


class DeliveryRow(Base):
    """One attempt to deliver a message."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))  # ok | retry | failed
    error: Mapped[str | None] = mapped_column(Text)
    instance: Mapped[str | None] = mapped_column(String(64))


class ProgressRow(Base):
    """Progress recorded against a target: +N adds, =N sets the total."""

    __tablename__ = "progress"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(64), index=True)
    plan_year: Mapped[int] = mapped_column(Integer)
    # A per-person target (`per:`): whose figure; and for a monthly one (每月…5天), which month.
    person: Mapped[str | None] = mapped_column(String(64))
    period: Mapped[str | None] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(1))  # + or =
    amount: Mapped[float]
    total: Mapped[float]  # the running total after this entry
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str | None] = mapped_column(String(64))


class AuditRow(Base):
    """Who changed what, when: check-offs, progress, events, schedule versions."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict] = mapped_column(default=dict)


class StateRow(Base):
    """Small facts the service keeps: schedule version, last dispatch, last reload error."""

    __tablename__ = "state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class BlobRow(Base):
    """An evidence file's bytes, kept once however many check-offs attach it (by SHA-256).
    In the database, not on a disk, so every instance and every backup has it."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(100))  # read from the content, not the name
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class EvidenceRow(Base):
    """A file attached to an occurrence's check-off (佐证材料: 会议记录, 照片, 签到表)."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    occurrence: Mapped[str] = mapped_column(ForeignKey("occurrences.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    filename: Mapped[str] = mapped_column(String(200))  # made safe on the way in
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]

    __table_args__ = (Index("ux_evidence_occurrence_sha256", "occurrence", "sha256", unique=True),)


class FeedRow(Base):
    """A person's calendar subscription: the token is random and only its hash is kept, so a
    leaked database gives no working feed address; resetting it revokes the old one."""

    __tablename__ = "feeds"

    person: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
