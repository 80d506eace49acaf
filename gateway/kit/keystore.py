"""Per-subject data keys, behind a small ``KeyStore`` interface, opened by ``open_keystore``.

Crypto-shredding only works if a person's key is *not* in the database that holds their data:
a database backup restored after an erasure must not bring the key back. Each key is kept only
wrapped under the node's master key (``kit.master_key``: a file, or an AES key in a PKCS#11
token), in one of two stores:

- ``FileKeyStore`` (``keystore_url`` empty, the embedded default): one file per subject under
  ``<home>/keys/subjects/`` (mode 0600). Only processes sharing that folder share the keys.
- ``SqlKeyStore`` (``keystore_url`` set): one row per subject in the table ``subject_keys`` of
  its own database (PostgreSQL, or a SQLite file for a small office), which every replica of
  the node shares. The table is not part of the node's migrations (it is in another database):
  the store creates it on first use, idempotently, or ``avrr node keys init`` does.

Invariants, for both: one key per subject ever exists at a time, even when processes race to
create it (the loser of the race uses the winner's key); ``destroy`` removes the wrapped key,
and nothing caches an unwrapped key, so an erasure through one replica holds for all at once;
a wrapped key only opens for the subject it was made for. Keys are backed up separately from
the data and on a short rotation (docs/keys-and-backups.md), never with the data.

Example::

    >>> keys = open_keystore(settings, NodeHome(settings.home))   # doctest: +SKIP
    >>> keys.ready()                                               # doctest: +SKIP
    >>> key = keys.data_key(case_id)                               # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine, LargeBinary, String, delete, func, inspect, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crypto.storage import new_key
from gateway.kit.config import Settings
from gateway.kit.db import make_engine
from gateway.kit.home import NodeHome, create_private
from gateway.kit.master_key import (
    FileMasterKey,
    KeyStoreUnavailable,
    MasterKey,
    TokenMasterKey,
)

__all__ = [
    "FileKeyStore",
    "KeyStore",
    "KeyStoreUnavailable",
    "SqlKeyStore",
    "open_keystore",
    "open_master_key",
]

_SUBJECT = re.compile(r"^[0-9a-f]{32,64}$")
#: Losing the race to create a key more than once in a row means something is wrong with the
#: store (a dangling link in the key file's place, say), not that requests keep racing.
_CREATE_ATTEMPTS = 3
#: What ``avrr node keys migrate`` leaves behind only if shredding was not asked for.
KEY_FILE_SUFFIX = ".key"


def _checked(subject: str) -> str:
    if not _SUBJECT.match(subject):
        raise ValueError("a subject reference is a hex pseudonym or id")
    return subject


class KeyStore(Protocol):
    def data_key(self, subject: str) -> bytes:
        """The subject's data key, created on first use."""
        ...

    def existing_key(self, subject: str) -> bytes | None:
        """The subject's data key, or None if there is none (never created, or destroyed)."""
        ...

    def destroy(self, subject: str) -> None:
        """Erase the subject's key: their stored data can never be read again."""
        ...

    def ready(self) -> None:
        """Raise ``KeyStoreUnavailable`` unless keys can be read and created now."""
        ...


# -- files --------------------------------------------------------------------------------------


class FileKeyStore:
    def __init__(self, *, folder: Path, master: MasterKey) -> None:
        self._folder = folder
        self._master = master

    def _path(self, subject: str) -> Path:
        return self._folder / f"{_checked(subject)}{KEY_FILE_SUFFIX}"

    def data_key(self, subject: str) -> bytes:
        """The subject's key, created on first use.

        Two requests about a new person may get here at once (threads, processes): only one
        key may ever exist, or what was sealed under the other could never be read again. So
        the file is created exclusively, and whoever loses the race uses the winner's key.
        """
        for _ in range(_CREATE_ATTEMPTS):
            key = self.existing_key(subject)
            if key is not None:
                return key
            key = new_key()
            if create_private(self._path(subject), self._master.wrap(key, subject=subject)):
                return key
            # Lost the race: read the winner's key (or, were it erased meanwhile, start again).
        raise OSError("could not create or read a subject's key file")

    def existing_key(self, subject: str) -> bytes | None:
        path = self._path(subject)
        if not path.exists():
            return None
        return self._master.unwrap(path.read_bytes(), subject=subject)

    def destroy(self, subject: str) -> None:
        shred(self._path(subject))

    def ready(self) -> None:
        try:
            self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise KeyStoreUnavailable(f"the key folder {self._folder} cannot be made") from exc
        if not os.access(self._folder, os.R_OK | os.W_OK | os.X_OK):
            raise KeyStoreUnavailable(f"the key folder {self._folder} is not writable")
        self._master.ready()

    def subjects(self) -> Iterator[str]:
        """Every subject with a key file (for ``avrr node keys migrate``)."""
        if not self._folder.is_dir():
            return
        for path in sorted(self._folder.glob(f"*{KEY_FILE_SUFFIX}")):
            subject = path.name.removesuffix(KEY_FILE_SUFFIX)
            if _SUBJECT.match(subject):
                yield subject

    def wrapped(self, subject: str) -> bytes | None:
        path = self._path(subject)
        return path.read_bytes() if path.exists() else None


def shred(path: Path) -> None:
    """Overwrite a key file before unlinking it, so the wrapped key does not linger on simple
    disks (copy-on-write file systems and SSDs may still keep old blocks: hence the master key)."""
    if path.exists():
        path.write_bytes(os.urandom(path.stat().st_size))
        path.unlink()


# -- SQL ----------------------------------------------------------------------------------------


class KeyStoreBase(DeclarativeBase):
    """The key store's own metadata: never the node's ``Base``, so never in its migrations."""


class SubjectKeyRow(KeyStoreBase):
    __tablename__ = "subject_keys"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The data key wrapped under the master key, bound to the subject; never the key itself.
    wrapped: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class SqlKeyStore:
    """Keys in their own database, shared by every replica of the node."""

    def __init__(self, *, engine: Engine, master: MasterKey) -> None:
        if engine.dialect.name not in ("postgresql", "sqlite"):
            raise ValueError("keystore_url must be a postgresql:// or sqlite:/// URL")
        self._engine = engine
        self._master = master
        self._table_ready = False
        self._table_lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        return self._engine

    def create_table(self) -> None:
        """Create ``subject_keys`` unless it exists. Two processes may try at once on a fresh
        database: whoever fails checks that the other one succeeded."""
        with self._table_lock:
            if self._table_ready:
                return
            try:
                KeyStoreBase.metadata.create_all(self._engine, checkfirst=True)
            except SQLAlchemyError as exc:
                if not inspect(self._engine).has_table(SubjectKeyRow.__tablename__):
                    raise KeyStoreUnavailable("the key store's table cannot be created") from exc
            self._table_ready = True

    def _wrapped(self, subject: str) -> bytes | None:
        self.create_table()
        with self._engine.connect() as connection:
            value = connection.scalar(
                select(SubjectKeyRow.wrapped).where(SubjectKeyRow.subject == subject)
            )
        return None if value is None else bytes(value)

    def _insert_absent(self, subject: str, wrapped: bytes) -> None:
        insert = postgresql_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
        statement = insert(SubjectKeyRow).values(subject=subject, wrapped=wrapped)
        with self._engine.begin() as connection:
            connection.execute(statement.on_conflict_do_nothing(index_elements=["subject"]))

    def data_key(self, subject: str) -> bytes:
        """The subject's key, created on first use: inserted unless a row exists (``ON CONFLICT
        DO NOTHING``), then read back, so when processes race every one of them ends up with
        the one key that was stored first."""
        _checked(subject)
        for _ in range(_CREATE_ATTEMPTS):
            key = self.existing_key(subject)
            if key is not None:
                return key
            self._insert_absent(subject, self._master.wrap(new_key(), subject=subject))
            # Read back whatever won, ours or another process's (erased meanwhile: start again).
        raise KeyStoreUnavailable("could not create or read a subject's key")

    def existing_key(self, subject: str) -> bytes | None:
        wrapped = self._wrapped(_checked(subject))
        return None if wrapped is None else self._master.unwrap(wrapped, subject=subject)

    def destroy(self, subject: str) -> None:
        self.create_table()
        with self._engine.begin() as connection:
            connection.execute(
                delete(SubjectKeyRow).where(SubjectKeyRow.subject == _checked(subject))
            )

    def ready(self) -> None:
        try:
            self.create_table()
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise KeyStoreUnavailable(
                f"the key store database cannot be reached ({type(exc).__name__})"
            ) from exc
        self._master.ready()

    def put_wrapped(self, subject: str, wrapped: bytes) -> bytes:
        """Store an already wrapped key unless the subject has one; the stored one, either way."""
        self.create_table()
        self._insert_absent(_checked(subject), wrapped)
        stored = self._wrapped(subject)
        if stored is None:
            raise KeyStoreUnavailable("a key just stored cannot be read back")
        return stored

    def count(self) -> int:
        self.create_table()
        with self._engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(SubjectKeyRow)) or 0)


# -- choosing -----------------------------------------------------------------------------------


def open_master_key(settings: Settings, home: NodeHome) -> MasterKey:
    """The master key the settings name: ``<home>/keys/master.key``, or the PKCS#11 token."""
    if settings.master_key_source == "pkcs11":
        return TokenMasterKey(
            module=settings.pkcs11_module,
            token_label=settings.pkcs11_token_label,
            key_label=settings.pkcs11_key_label,
            pin=settings.pkcs11_pin.get_secret_value(),
        )
    return FileMasterKey.from_file(home.keys / "master.key")


def legacy_key_files(home: NodeHome) -> bool:
    """Whether subject key files remain in the home folder (not yet migrated and shredded)."""
    folder = home.keys / "subjects"
    return folder.is_dir() and any(folder.glob(f"*{KEY_FILE_SUFFIX}"))


def open_keystore(settings: Settings, home: NodeHome) -> KeyStore:
    """The one place a node's key store is chosen (``Node``, the CLI).

    With ``keystore_url`` set, a node whose home still holds subject key files refuses to
    start: those persons' keys would be created afresh in the database (their data then
    unreadable), and an erasure would leave the old file behind. ``avrr node keys migrate HOME
    --shred-files`` moves them first.
    """
    master = open_master_key(settings, home)
    if not settings.keystore_url:
        return FileKeyStore(folder=home.keys / "subjects", master=master)
    if legacy_key_files(home):
        raise KeyStoreUnavailable(
            f"{home.keys / 'subjects'} still holds subject key files; run "
            "'avrr node keys migrate HOME --shred-files' before using keystore_url"
        )
    return SqlKeyStore(engine=make_engine(settings.keystore_url), master=master)
