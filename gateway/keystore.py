"""Per-subject data keys, behind a small ``KeyStore`` interface.

The default store keeps each subject's data key in the database, wrapped under the node's master
key (``<home>/keys/master.key``, never in the database). Destroying a subject's key row makes every
copy of that person's stored data unreadable, including copies in database backups. An HSM or KMS
can replace it by implementing ``KeyStore``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import LargeBinary, String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from crypto.storage import new_key, unwrap_key, wrap_key
from gateway.db import Base, UTCDateTime


class SubjectKeyRow(Base):
    __tablename__ = "subject_keys"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class KeyStore(Protocol):
    def data_key(self, session: Session, subject: str, *, now: datetime) -> bytes:
        """The subject's data key, created on first use."""
        ...

    def existing_key(self, session: Session, subject: str) -> bytes | None:
        """The subject's data key, or None if there is none (never created, or destroyed)."""
        ...

    def destroy(self, session: Session, subject: str) -> None:
        """Erase the subject's key: their stored data can never be read again."""
        ...


class DatabaseKeyStore:
    def __init__(self, *, master_key: bytes) -> None:
        self._master = master_key

    def data_key(self, session: Session, subject: str, *, now: datetime) -> bytes:
        key = self.existing_key(session, subject)
        if key is not None:
            return key
        key = new_key()
        session.add(
            SubjectKeyRow(
                subject=subject,
                wrapped=wrap_key(self._master, key, subject=subject),
                created_at=now,
            )
        )
        session.flush()
        return key

    def existing_key(self, session: Session, subject: str) -> bytes | None:
        row = session.get(SubjectKeyRow, subject)
        if row is None:
            return None
        return unwrap_key(self._master, row.wrapped, subject=subject)

    def destroy(self, session: Session, subject: str) -> None:
        session.execute(delete(SubjectKeyRow).where(SubjectKeyRow.subject == subject))
