"""Moving per-person keys from the home folder's files into the SQL key store, once.

``avrr node keys migrate HOME`` copies every subject key file into the store ``keystore_url``
names, wrapped under the configured master key, reads each back and checks it is the same key,
and only then, when asked (``shred``), overwrites and deletes the file. Running it again copies
nothing twice: a key already in the store is compared, not replaced.

Which master key opened a file is told by the file's first byte (``crypto.storage``): a file
wrapped under ``<home>/keys/master.key`` opens with that file even when the node now uses a
PKCS#11 token, so moving to the token and to the database can be one step.

Invariants: a file is shredded only after its key was read back from the store and found equal;
a subject whose stored key differs (a conflict) or whose file does not open keeps its file and
makes the run fail; the report holds counts only, never a key or a subject id.

Stop every API process and worker of the node before migrating: a key created or erased in the
folder during the run would be missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crypto.storage import VERSION, StoredDataUnreadable
from gateway.kit.keystore import KEY_FILE_SUFFIX, FileKeyStore, SqlKeyStore, shred
from gateway.kit.master_key import FileMasterKey, MasterKey


@dataclass
class KeyMigration:
    found: int = 0
    copied: int = 0
    already_there: int = 0
    verified: int = 0
    shredded: int = 0
    conflicts: int = 0
    unreadable: int = 0

    @property
    def ok(self) -> bool:
        return self.conflicts == 0 and self.unreadable == 0


def migrate_key_files(
    *, folder: Path, master_file: Path, master: MasterKey, target: SqlKeyStore, shred_files: bool
) -> KeyMigration:
    """Copy, verify and (if asked) shred every key file in ``folder``; counts only."""
    result = KeyMigration()
    file_master = FileMasterKey.from_file(master_file) if master_file.exists() else None
    source = FileKeyStore(folder=folder, master=master)
    for subject in source.subjects():
        result.found += 1
        wrapped = source.wrapped(subject)
        if wrapped is None:  # erased while we looked
            continue
        opener = file_master if wrapped.startswith(VERSION) and file_master else master
        try:
            key = opener.unwrap(wrapped, subject=subject)
        except StoredDataUnreadable:
            result.unreadable += 1
            continue
        ours = master.wrap(key, subject=subject)
        stored = target.put_wrapped(subject, ours)
        if stored == ours:
            result.copied += 1
        else:
            result.already_there += 1
        try:
            same = target.existing_key(subject) == key
        except StoredDataUnreadable:
            same = False  # stored earlier under another master key
        if not same:
            result.conflicts += 1
            continue
        result.verified += 1
        if shred_files:
            shred(folder / f"{subject}{KEY_FILE_SUFFIX}")
            result.shredded += 1
    return result
