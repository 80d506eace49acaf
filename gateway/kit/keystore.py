"""Per-subject data keys, behind a small ``KeyStore`` interface.

Crypto-shredding only works if a person's key is *not* in the database that holds their data:
a database backup restored after an erasure must not bring the key back. The default store keeps
one file per subject under ``<home>/keys/subjects/`` (mode 0600), each holding the data key
wrapped under the node's master key (``<home>/keys/master.key``). Back up the database and the
key folder separately and differently; destroying a subject's key file makes every copy of their
data unreadable. An HSM or KMS can replace this store by implementing ``KeyStore``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Protocol

from crypto.storage import new_key, unwrap_key, wrap_key
from gateway.kit.home import create_private

_SUBJECT = re.compile(r"^[0-9a-f]{32,64}$")
#: Losing the race to create a key file more than once in a row means something is wrong with
#: the folder (a dangling link in the key's place, say), not that requests keep racing.
_CREATE_ATTEMPTS = 3


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


class FileKeyStore:
    def __init__(self, *, folder: Path, master_key: bytes) -> None:
        self._folder = folder
        self._master = master_key

    def _path(self, subject: str) -> Path:
        if not _SUBJECT.match(subject):
            raise ValueError("a subject reference is a hex pseudonym or id")
        return self._folder / f"{subject}.key"

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
            if create_private(self._path(subject), wrap_key(self._master, key, subject=subject)):
                return key
            # Lost the race: read the winner's key (or, were it erased meanwhile, start again).
        raise OSError("could not create or read a subject's key file")

    def existing_key(self, subject: str) -> bytes | None:
        path = self._path(subject)
        if not path.exists():
            return None
        return unwrap_key(self._master, path.read_bytes(), subject=subject)

    def destroy(self, subject: str) -> None:
        path = self._path(subject)
        if path.exists():
            # Overwrite before unlinking, so the wrapped key does not linger on simple disks.
            path.write_bytes(os.urandom(path.stat().st_size))
            path.unlink()
