"""The database tables (SQLAlchemy 2 ORM). Changes here need an alembic migration."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    """Declarative base of flagbench's tables."""


class HostRow(Base):
    """A machine that ran something, identified by a stable fingerprint."""

    __tablename__ = "hosts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    hostname: Mapped[str] = mapped_column(String(255))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RunRow(Base):
    """One run of the matrix with its spec, outcome and what actually ran."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    vendor: Mapped[str] = mapped_column(String(128))
    case: Mapped[str] = mapped_column(String(128))
    scenario: Mapped[str] = mapped_column(String(32))
    batch_size: Mapped[int] = mapped_column(Integer)
    precision: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    stop_rule: Mapped[str | None] = mapped_column(String(32), nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    actual: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    environment: Mapped[dict[str, Any]] = mapped_column(JSON)
    flagbench_version: Mapped[str] = mapped_column(String(32))
    warnings: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)

    host: Mapped[HostRow] = relationship()
    metrics: Mapped[list[MetricRow]] = relationship(cascade="all, delete-orphan")
    tags: Mapped[list[TagRow]] = relationship(cascade="all, delete-orphan")

    __table_args__ = (Index("ix_runs_case_vendor", "case", "vendor"),)


class MetricRow(Base):
    """One named figure of a run; NaN is stored as NULL."""

    __tablename__ = "metrics"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    unit: Mapped[str] = mapped_column(String(16))


class TagRow(Base):
    """A user's key=value label on a run, for filtering and comparison."""

    __tablename__ = "tags"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class LatencySampleRow(Base):
    """One timed iteration of a run, in seconds, in the order it was taken."""

    __tablename__ = "latency_samples"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    seconds: Mapped[float] = mapped_column(Float)


class PowerSampleRow(Base):
    """One polled power reading during a run's timed window, for power-over-time charts."""

    __tablename__ = "power_samples"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    t_s: Mapped[float] = mapped_column(Float)
    watts: Mapped[float] = mapped_column(Float)
