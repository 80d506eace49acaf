"""The per-subject key stores (files, and a database every replica shares) and the master key
(a file, or a key in a PKCS#11 token): one key per person, even when processes race to create
it; erasure deletes it; a wrapped key opens only for its person."""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from crypto.storage import StoredDataUnreadable
from gateway.kit.config import Settings
from gateway.kit.db import make_engine
from gateway.kit.home import NodeHome, create_private
from gateway.kit.keystore import FileKeyStore, SqlKeyStore, SubjectKeyRow, open_keystore
from gateway.kit.master_key import FileMasterKey, KeyStoreUnavailable, MasterKey, TokenMasterKey
from tests.support.keystores import SPARE_TOKEN_LABEL, SoftToken

SUBJECT = "ab" * 32


def store(folder: Path) -> FileKeyStore:
    return FileKeyStore(folder=folder, master=FileMasterKey(bytes(32)))


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


# -- the SQL key store, shared by every replica -------------------------------------------------

OTHER = "cd" * 32
MASTER = bytes(range(32))


def sql_store(url: str, master: MasterKey | None = None) -> SqlKeyStore:
    return SqlKeyStore(engine=make_engine(url), master=master or FileMasterKey(MASTER))


def stored_rows(url: str) -> dict[str, bytes]:
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(select(SubjectKeyRow.subject, SubjectKeyRow.wrapped)).all()
    engine.dispose()
    return {subject: bytes(wrapped) for subject, wrapped in rows}


def _ask_for_a_key(url: str, start: Any, keys: Any) -> None:
    """In another process: wait for the others, then ask for the same new person's key."""
    store = sql_store(url)
    start.wait()
    keys.put(store.data_key(SUBJECT))


class TestSqlKeyStore:
    def test_a_key_is_created_once_and_read_back_by_another_store(self, keystore_url: str) -> None:
        first = sql_store(keystore_url).data_key(SUBJECT)
        assert sql_store(keystore_url).data_key(SUBJECT) == first
        assert sql_store(keystore_url).existing_key(SUBJECT) == first
        assert sql_store(keystore_url).existing_key(OTHER) is None
        rows = stored_rows(keystore_url)
        assert list(rows) == [SUBJECT]
        assert first not in rows[SUBJECT]  # only ever stored wrapped

    def test_who_loses_the_race_to_insert_uses_the_winners_key(
        self, keystore_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        loser, winner = sql_store(keystore_url), sql_store(keystore_url)
        winners_key: list[bytes] = []
        real_lookup = SqlKeyStore.existing_key

        def lookup_that_misses_once(self: SqlKeyStore, subject: str) -> bytes | None:
            if self is loser and not winners_key:
                winners_key.append(winner.data_key(subject))
                return None
            return real_lookup(self, subject)

        monkeypatch.setattr(SqlKeyStore, "existing_key", lookup_that_misses_once)
        assert loser.data_key(SUBJECT) == winners_key[0]
        assert len(stored_rows(keystore_url)) == 1

    def test_processes_creating_a_new_persons_key_at_once_end_with_one_key(
        self, keystore_url: str
    ) -> None:
        sql_store(keystore_url).ready()  # the table exists before the race, as after init
        context = multiprocessing.get_context("spawn")
        start, keys = context.Barrier(4), context.Queue()
        workers = [
            context.Process(target=_ask_for_a_key, args=(keystore_url, start, keys))
            for _ in range(4)
        ]
        for worker in workers:
            worker.start()
        got = [keys.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0
        assert len(set(got)) == 1
        assert sql_store(keystore_url).existing_key(SUBJECT) == got[0]
        assert list(stored_rows(keystore_url)) == [SUBJECT]

    def test_destroy_deletes_the_row_and_only_that_one(self, keystore_url: str) -> None:
        keys = sql_store(keystore_url)
        first = keys.data_key(SUBJECT)
        kept = keys.data_key(OTHER)
        keys.destroy(SUBJECT)
        assert list(stored_rows(keystore_url)) == [OTHER]
        assert sql_store(keystore_url).existing_key(SUBJECT) is None
        assert keys.existing_key(OTHER) == kept
        assert keys.data_key(SUBJECT) != first

    def test_a_wrapped_key_moved_to_another_person_does_not_open(self, keystore_url: str) -> None:
        keys = sql_store(keystore_url)
        keys.data_key(SUBJECT)
        keys.put_wrapped(OTHER, stored_rows(keystore_url)[SUBJECT])
        with pytest.raises(StoredDataUnreadable):
            keys.existing_key(OTHER)

    def test_another_master_key_cannot_open_the_stored_keys(self, keystore_url: str) -> None:
        sql_store(keystore_url).data_key(SUBJECT)
        with pytest.raises(StoredDataUnreadable):
            sql_store(keystore_url, FileMasterKey(bytes(32))).existing_key(SUBJECT)

    def test_ready_raises_when_the_database_cannot_be_reached(self, tmp_path: Path) -> None:
        sql_store(f"sqlite:///{tmp_path / 'keys.db'}").ready()
        unreachable = sql_store("postgresql://127.0.0.1:9/avrr_nowhere?connect_timeout=2")
        with pytest.raises(KeyStoreUnavailable, match="cannot be reached"):
            unreachable.ready()

    def test_the_file_store_is_ready_only_with_a_usable_folder(self, tmp_path: Path) -> None:
        store(tmp_path / "subjects").ready()
        (tmp_path / "blocked").write_text("a file where the folder should be")
        with pytest.raises(KeyStoreUnavailable):
            store(tmp_path / "blocked").ready()


# -- the master key in a PKCS#11 token (SoftHSM2) -------------------------------------------------


def token_master(token: SoftToken, label: str) -> TokenMasterKey:
    return TokenMasterKey(
        module=token.module, token_label=token.label, key_label=label, pin=token.pin
    )


class TestTokenMasterKey:
    def test_keys_wrapped_by_the_token_open_only_through_it_and_only_for_their_person(
        self, softhsm: SoftToken, keystore_url: str
    ) -> None:
        master = token_master(softhsm, f"master-{uuid.uuid4().hex[:8]}")
        master.create()
        master.ready()
        keys = sql_store(keystore_url, master)
        key = keys.data_key(SUBJECT)
        assert sql_store(keystore_url, master).existing_key(SUBJECT) == key
        wrapped = stored_rows(keystore_url)[SUBJECT]
        assert wrapped.startswith(b"\x02")
        assert key not in wrapped
        with pytest.raises(StoredDataUnreadable):
            FileMasterKey(MASTER).unwrap(wrapped, subject=SUBJECT)
        keys.put_wrapped(OTHER, wrapped)
        with pytest.raises(StoredDataUnreadable):
            keys.existing_key(OTHER)
        keys.destroy(SUBJECT)
        assert keys.existing_key(SUBJECT) is None

    def test_another_key_in_the_same_token_cannot_open_them(self, softhsm: SoftToken) -> None:
        first = token_master(softhsm, f"master-{uuid.uuid4().hex[:8]}")
        second = token_master(softhsm, f"master-{uuid.uuid4().hex[:8]}")
        first.create()
        second.create()
        wrapped = first.wrap(bytes(32), subject=SUBJECT)
        assert first.unwrap(wrapped, subject=SUBJECT) == bytes(32)
        with pytest.raises(StoredDataUnreadable):
            second.unwrap(wrapped, subject=SUBJECT)

    def test_a_missing_key_makes_the_store_unready(self, softhsm: SoftToken) -> None:
        with pytest.raises(KeyStoreUnavailable, match="does not exist"):
            token_master(softhsm, "no-such-key").ready()

    def test_a_refused_pin_is_never_offered_again(self, softhsm: SoftToken) -> None:
        wrong = TokenMasterKey(
            module=softhsm.module,
            token_label=SPARE_TOKEN_LABEL,
            key_label="avrr-master",
            pin="not-the-pin",
        )
        with pytest.raises(KeyStoreUnavailable, match="PinIncorrect"):
            wrong.ready()
        with pytest.raises(KeyStoreUnavailable, match="refused the PIN"):
            wrong.ready()

    def test_a_key_is_never_created_twice_under_one_label(self, softhsm: SoftToken) -> None:
        master = token_master(softhsm, f"master-{uuid.uuid4().hex[:8]}")
        master.create()
        with pytest.raises(KeyStoreUnavailable, match="already exists"):
            master.create()


# -- choosing the store -------------------------------------------------------------------------


class TestOpenKeystore:
    def test_the_data_database_is_refused_as_key_store(self, tmp_path: Path) -> None:
        with pytest.raises(ValidationError, match="never the data database"):
            Settings(home=tmp_path, node_id="n", keystore_url=f"sqlite:///{tmp_path / 'node.db'}")
        with pytest.raises(ValidationError, match="never the data database"):
            Settings(
                home=tmp_path,
                node_id="n",
                database_url="postgresql://127.0.0.1/avrr",
                keystore_url="postgresql+psycopg://user:pw@127.0.0.1:5432/avrr",
            )

    def test_without_a_url_keys_are_files_and_with_one_rows(self, tmp_path: Path) -> None:
        home = NodeHome(tmp_path)
        home.create_master_key()
        files = open_keystore(Settings(home=tmp_path, node_id="n"), home)
        assert isinstance(files, FileKeyStore)
        url = f"sqlite:///{tmp_path / 'keys.db'}"
        rows = open_keystore(Settings(home=tmp_path, node_id="n", keystore_url=url), home)
        assert isinstance(rows, SqlKeyStore)

    def test_a_home_with_unmigrated_key_files_refuses_the_sql_store(self, tmp_path: Path) -> None:
        home = NodeHome(tmp_path)
        home.create_master_key()
        settings = Settings(home=tmp_path, node_id="n")
        open_keystore(settings, home).data_key(SUBJECT)
        url = f"sqlite:///{tmp_path / 'keys.db'}"
        with pytest.raises(KeyStoreUnavailable, match="keys migrate"):
            open_keystore(Settings(home=tmp_path, node_id="n", keystore_url=url), home)

    def test_a_pkcs11_master_needs_its_module_and_token(self, tmp_path: Path) -> None:
        with pytest.raises(ValidationError, match="pkcs11_module"):
            Settings(home=tmp_path, node_id="n", master_key_source="pkcs11")
