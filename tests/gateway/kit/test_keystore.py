"""The per-subject key store: one key per person, even when requests race to create it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from gateway.kit.home import create_private
from gateway.kit.keystore import FileKeyStore

SUBJECT = "ab" * 32


def store(folder: Path) -> FileKeyStore:
    return FileKeyStore(folder=folder, master_key=bytes(32))


def test_a_file_is_created_once_and_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    assert create_private(path, b"first")
    assert not create_private(path, b"second")
    assert path.read_bytes() == b"first"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]


def test_who_loses_the_race_to_create_a_key_uses_the_winners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loser, winner = store(tmp_path), store(tmp_path)
    looked: list[str] = []
    real_lookup = FileKeyStore.existing_key

    def lookup_that_misses_once(self: FileKeyStore, subject: str) -> bytes | None:
        # The loser looks before the winner writes, and creates after it did.
        if self is loser and not looked:
            looked.append(subject)
            winners_key.append(winner.data_key(subject))
            return None
        return real_lookup(self, subject)

    winners_key: list[bytes] = []
    monkeypatch.setattr(FileKeyStore, "existing_key", lookup_that_misses_once)
    assert loser.data_key(SUBJECT) == winners_key[0]
    assert store(tmp_path).existing_key(SUBJECT) == winners_key[0]


def test_threads_asking_for_a_new_persons_key_at_once_all_get_the_same_one(
    tmp_path: Path,
) -> None:
    keys = store(tmp_path)
    start = threading.Barrier(8)
    got: list[bytes] = []

    def ask() -> None:
        start.wait()
        got.append(keys.data_key(SUBJECT))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 8
    assert len(set(got)) == 1
    assert keys.existing_key(SUBJECT) == got[0]
    assert [p.name for p in tmp_path.iterdir()] == [f"{SUBJECT}.key"]


def test_an_erased_key_is_created_afresh(tmp_path: Path) -> None:
    keys = store(tmp_path)
    first = keys.data_key(SUBJECT)
    keys.destroy(SUBJECT)
    assert keys.existing_key(SUBJECT) is None
    assert keys.data_key(SUBJECT) != first


def test_a_key_path_that_can_be_neither_read_nor_created_fails_instead_of_looping(
    tmp_path: Path,
) -> None:
    keys = store(tmp_path)
    (tmp_path / f"{SUBJECT}.key").symlink_to(tmp_path / "nowhere")
    with pytest.raises(OSError, match="could not create or read"):
        keys.data_key(SUBJECT)
