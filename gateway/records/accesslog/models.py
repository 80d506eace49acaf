"""The access log: entries, the Merkle tree over them, and the node's signed checkpoints.

An entry is written in the same transaction as the action it records, without a place in the
log yet (``leaf_index`` is null): concurrent requests cannot agree on an order without a lock.
The sequencer (``gateway.records.accesslog.tree``) later gives entries their places, one writer at a
time, in the order it finds them, extends the tree and signs checkpoints.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kit.db import Base, UTCDateTime


class AccessEventRow(Base):
    __tablename__ = "access_events"
    __table_args__ = (
        Index("ix_access_events_action_at", "action", "at"),
        Index("ix_access_events_actor_at", "actor", "at"),
    )

    #: Write order only; gaps and commit order mean nothing. The log's order is ``leaf_index``.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: The entry's place in the Merkle log; null until the sequencer has placed it.
    leaf_index: Mapped[int | None] = mapped_column(BigInteger, unique=True, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    actor_org: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(40))
    #: A case id (host) or a subject pseudonym (recipient): never a name.
    subject: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    packet_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    sections: Mapped[list[str]] = mapped_column(JSON())
    purpose: Mapped[str | None] = mapped_column(String(40), nullable=True)
    outcome: Mapped[str] = mapped_column(String(80))


class LogNodeRow(Base):
    """A perfect subtree of the log: ``2**level`` entries from ``index * 2**level`` on.

    Level 0 holds each entry's leaf hash. Proofs are served from these rows; verification never
    trusts them, it recomputes every hash from the entries.
    """

    __tablename__ = "log_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogStateRow(Base):
    """One row: how many entries the tree holds, and its compact range (``crypto.merkle``)."""

    __tablename__ = "log_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    frontier: Mapped[bytes] = mapped_column(LargeBinary())


class CheckpointRow(Base):
    """A signed statement of the log's size and root at a time."""

    __tablename__ = "log_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    #: The ``SignedDocument`` exactly as signed.
    document: Mapped[dict[str, Any]] = mapped_column(JSON())
