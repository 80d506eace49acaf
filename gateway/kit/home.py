"""A node's home folder: its configuration, private keys, pinned operator key and directory.

Layout::

    <home>/node.json                 settings (see gateway.config)
    <home>/keys/signing-<id>.json    Ed25519 private keys, one file each, mode 0600
    <home>/keys/encryption-<id>.json X25519 private keys, mode 0600
    <home>/keys/staff-issuer.json    the built-in issuer's key for staff tokens, mode 0600
    <home>/keys/pseudonym.key        secret for per-recipient subject pseudonyms, mode 0600
    <home>/keys/master.key           wraps the per-subject data keys (or a PKCS#11 token does)
    <home>/keys/subjects/<id>.key    per-subject data keys, wrapped (unless ``keystore_url``)
    <home>/operator.json             the federation operator's public key, pinned at install
    <home>/directory.json            the signed directory currently installed

Private key files are written with mode 0600 in a 0700 folder and are never printed or logged.
Every write here counts as a change of the home's files (``files_changed``), so a ``Node`` of
this process sees a directory it installed or keys it rotated at once (``kit.node``).
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from crypto.encoding import b64decode, b64encode
from crypto.keys import EncryptionKey, KeyUse, PublicKey, SigningKey
from crypto.pseudonym import PSEUDONYM_SECRET_BYTES
from crypto.storage import new_key
from partners.directory import FederationView, key_record, signed_serial, verify_directory
from partners.keyring import Keyring
from schemas.directory import KeyRecord
from schemas.envelope import SignedDocument

KEY_LIFETIME = timedelta(days=365)

_changes = itertools.count(1)
_changes_lock = threading.Lock()
_generation = 0


def files_changed() -> None:
    """Say that this process changed a node's files (a directory installed, keys rotated, or a
    file removed by hand): every ``Node`` in the process checks its files again on next use."""
    global _generation
    with _changes_lock:
        _generation = next(_changes)


def files_generation() -> int:
    """Changes of the node's files made by this process so far (see ``files_changed``)."""
    return _generation


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file that only the node's user can read, atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    files_changed()


def create_private(path: Path, data: bytes) -> bool:
    """Create a secret file (only the node's user can read it) unless it exists; atomically.

    Returns whether this call created it. When two callers race, exactly one file wins and
    neither ever sees it half written: each writes its own temporary file, and ``os.link``
    puts it in place only if nothing is there yet.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        # The new name must survive a power cut before anything sealed under this key commits.
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def write_public(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    files_changed()


def _key_file(key: SigningKey | EncryptionKey) -> bytes:
    return json.dumps(
        {
            "seed": b64encode(key.seed),
            "valid_from": key.valid_from.isoformat(),
            "valid_until": key.valid_until.isoformat(),
        }
    ).encode()


def _read_key_file(path: Path) -> tuple[bytes, datetime, datetime]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return (
        b64decode(data["seed"]),
        datetime.fromisoformat(data["valid_from"]),
        datetime.fromisoformat(data["valid_until"]),
    )


def save_signing_key(path: Path, key: SigningKey) -> None:
    write_private(path, _key_file(key))


def load_signing_key(path: Path) -> SigningKey:
    return SigningKey(*_read_key_file(path))


def public_key_from_record(record: KeyRecord, use: KeyUse) -> PublicKey:
    return PublicKey(use, b64decode(record.public_key), record.valid_from, record.valid_until)


@dataclass(frozen=True)
class NodeHome:
    path: Path

    @property
    def keys(self) -> Path:
        return self.path / "keys"

    @property
    def operator_file(self) -> Path:
        return self.path / "operator.json"

    @property
    def checkpoint_witness(self) -> Path:
        """The latest signed access-log checkpoint, kept outside the database on purpose."""
        return self.path / "audit" / "latest-checkpoint.json"

    @property
    def directory_file(self) -> Path:
        return self.path / "directory.json"

    @property
    def issuer_file(self) -> Path:
        return self.keys / "staff-issuer.json"

    # -- keys ---------------------------------------------------------------------------------

    def create_keys(self, now: datetime, lifetime: timedelta = KEY_LIFETIME) -> None:
        """Generate a fresh signing and encryption key pair valid from ``now``."""
        start = now.replace(microsecond=0)
        signing = SigningKey.generate(valid_from=start, valid_until=start + lifetime)
        encryption = EncryptionKey.generate(valid_from=start, valid_until=start + lifetime)
        write_private(self.keys / f"signing-{signing.key_id}.json", _key_file(signing))
        write_private(self.keys / f"encryption-{encryption.key_id}.json", _key_file(encryption))

    def rotate_keys(self, now: datetime, overlap: timedelta) -> None:
        """Add new keys from ``now``; current keys end after ``overlap`` (old packets stay openable)."""
        end = (now + overlap).replace(microsecond=0)
        for path in [*self.keys.glob("signing-*.json"), *self.keys.glob("encryption-*.json")]:
            seed, start, until = _read_key_file(path)
            if until > end:
                cls = SigningKey if path.name.startswith("signing-") else EncryptionKey
                write_private(path, _key_file(cls(seed, start, end)))
        self.create_keys(now)

    def keyring(self) -> Keyring:
        signing = [SigningKey(*_read_key_file(p)) for p in sorted(self.keys.glob("signing-*.json"))]
        encryption = [
            EncryptionKey(*_read_key_file(p)) for p in sorted(self.keys.glob("encryption-*.json"))
        ]
        return Keyring(signing=signing, encryption=encryption)

    def public_keys(self) -> dict[str, list[dict[str, Any]]]:
        ring = self.keyring()
        return {
            "signing_keys": [
                key_record(k.public_key()).model_dump(mode="json") for k in ring.signing
            ],
            "encryption_keys": [
                key_record(k.public_key()).model_dump(mode="json") for k in ring.encryption
            ],
        }

    def create_staff_issuer(self, now: datetime) -> None:
        start = now.replace(microsecond=0)
        key = SigningKey.generate(valid_from=start, valid_until=start + timedelta(days=3650))
        save_signing_key(self.issuer_file, key)

    def staff_issuer(self) -> SigningKey:
        return load_signing_key(self.issuer_file)

    def create_master_key(self) -> None:
        """The key that wraps every per-subject data key; kept out of the database."""
        write_private(self.keys / "master.key", new_key())

    def master_key(self) -> bytes:
        return (self.keys / "master.key").read_bytes()

    def create_pseudonym_secret(self) -> None:
        write_private(self.keys / "pseudonym.key", secrets.token_bytes(PSEUDONYM_SECRET_BYTES))

    def pseudonym_secret(self) -> bytes:
        return (self.keys / "pseudonym.key").read_bytes()

    # -- federation -----------------------------------------------------------------------------

    def operator_key(self) -> PublicKey:
        if not self.operator_file.exists():
            raise FileNotFoundError("no operator key is pinned; run 'avrr node install-directory'")
        record = KeyRecord.model_validate_json(self.operator_file.read_text(encoding="utf-8"))
        return public_key_from_record(record, KeyUse.SIGNING)

    def pin_operator(self, record: KeyRecord) -> None:
        write_public(self.operator_file, record.model_dump_json(indent=2).encode())

    def signed_directory(self) -> SignedDocument:
        if not self.directory_file.exists():
            raise FileNotFoundError("no directory installed; run 'avrr node install-directory'")
        return SignedDocument.model_validate_json(self.directory_file.read_text(encoding="utf-8"))

    def install_directory(self, doc: SignedDocument, now: datetime) -> FederationView:
        """Verify ``doc`` against the pinned operator key and install it unless it is older.

        The installed directory's serial counts even after it expired, so an old directory that
        is still within its own validity can never be slipped back in.
        """
        current = 0
        if self.directory_file.exists():
            current = signed_serial(self.signed_directory(), self.operator_key())
        view = verify_directory(doc, self.operator_key(), now=now, min_serial=current)
        write_public(self.directory_file, doc.model_dump_json(indent=2).encode())
        return view
