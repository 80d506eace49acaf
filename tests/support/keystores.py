"""Key stores for tests: a SQL key store's own database, and a throwaway SoftHSM2 token.

The key store's database is a SQLite file, or on PostgreSQL (``AVRR_TEST_DATABASE``) a database
of its own, created for the test and dropped after it: never a node's data database.

The SoftHSM2 token lives in a temporary folder named by ``SOFTHSM2_CONF``; it is made once per
test session, because a PKCS#11 library reads its configuration once per process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support import databases

SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
TOKEN_LABEL = "avrr-test"
SPARE_TOKEN_LABEL = "avrr-test-spare"
PIN = "4711-test-pin"


@contextmanager
def keystore_database(folder: Path) -> Iterator[str]:
    choice = databases.choice()
    if choice == "sqlite":
        yield f"sqlite:///{folder / 'keys.db'}"
        return
    admin_url = make_url(choice).set(drivername="postgresql+psycopg")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"avrr_keys_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class SoftToken:
    module: str
    label: str
    pin: str


def softhsm_token(folder: Path) -> SoftToken | None:
    """A fresh SoftHSM2 token in ``folder`` (``SOFTHSM2_CONF`` set for this process), or None if
    SoftHSM2 is not installed."""
    if not SOFTHSM_MODULE.exists() or shutil.which("softhsm2-util") is None:
        return None
    tokens = folder / "tokens"
    tokens.mkdir(parents=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n",
        encoding="utf-8",
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    # A second token for the test that offers a wrong PIN (a refused PIN is never offered again
    # by the process, so that token is unusable afterwards). Both exist before the library is
    # loaded: SoftHSM2 looks for tokens once, when it starts.
    for label in (TOKEN_LABEL, SPARE_TOKEN_LABEL):
        command = ["softhsm2-util", "--init-token", "--free", "--label", label]
        subprocess.run(
            [*command, "--pin", PIN, "--so-pin", "so-" + PIN], check=True, capture_output=True
        )
    return SoftToken(str(SOFTHSM_MODULE), TOKEN_LABEL, PIN)
